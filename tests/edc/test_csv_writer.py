"""The one CSV writer: what a spreadsheet would run as a formula is written as text."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from edc import audit
from edc.access import Role
from edc.actor import Actor
from edc.exports import csv_writer
from edc.extensions import db
from edc.models.users import User
from tests.factories import another_browser, csrf, login, make_user


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://evil.example")', '\'=HYPERLINK("http://evil.example")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Durand", "Durand"),
        ("a=b", "a=b"),
        (-5, "-5"),  # a number is no formula
        (Decimal("-1.5"), "-1.5"),
        (True, "True"),
        (None, ""),
        ({"path": "=x"}, '{"path": "=x"}'),
        (dt.datetime(2026, 12, 3, 9, 30, tzinfo=dt.UTC), "2026-12-03T09:30:00+00:00"),
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_written_as_text(value, written):
    assert csv_writer.cell(value) == written


def test_rows_stream_in_pieces_and_read_back():
    body = (["=cmd", n] for n in range(5000))
    pieces = list(csv_writer.rows(["name", "n"], body))
    assert len(pieces) > 1  # streamed, not built whole
    read = list(csv.reader(io.StringIO("".join(pieces))))
    assert read[0] == ["name", "n"]
    assert read[1] == ["'=cmd", "0"]
    assert len(read) == 5001


def test_the_administrators_csv_files_neutralise_formulas(client):
    admin = make_user(roles=[(Role.ADMIN, None)])
    login(client, admin)
    tricky = make_user(roles=[(Role.ADMIN, None)])
    db.session.get(User, tricky.id).full_name = '=HYPERLINK("http://evil.example","x")'
    audit.record(db.session, Actor.cli(), "user.renamed", target=db.session.get(User, tricky.id))
    db.session.commit()
    review = client.get("/admin/access-review.csv").get_data(as_text=True)
    row = next(r for r in csv.DictReader(io.StringIO(review)) if r["email"] == tricky.email)
    assert row["full_name"] == '\'=HYPERLINK("http://evil.example","x")'
    other = another_browser(client)
    other.environ_base["HTTP_USER_AGENT"] = "@SUM(1+1)*cmd|' /C calc'!A0"
    other.post(
        "/login",
        data={"email": tricky.email, "password": "wrong", "csrf_token": csrf(other, "/login")},
    )
    events = client.get(f"/admin/security.csv?actor={tricky.email}").get_data(as_text=True)
    agents = {r["user_agent"] for r in csv.DictReader(io.StringIO(events))}
    assert "'@SUM(1+1)*cmd|' /C calc'!A0" in agents
