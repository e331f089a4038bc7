"""Audit review: the clinical trail of a reader's sites with filters and CSV, the review reports,
and a monitor's visits with "changed since my last visit"."""

from __future__ import annotations

import csv
import datetime as dt
import io
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from edc import audit
from edc.access import Role
from edc.actor import Actor
from edc.context import Context
from edc.errors import Conflict, Invalid
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.crf import FormRecord
from edc.models.monitoring import ItemVerification, MonitorVisit
from edc.services import (
    audit_review,
    data_entry,
    entries,
    monitor_visits,
    review_reports,
    security,
)
from edc.services.audit_review import EXPORTED, TrailFilter
from tests.edc.conftest import STUDY, stored_study
from tests.factories import (
    login,
    make_site,
    make_subject,
    make_user,
    portal_context,
    statements_for,
)

FORM = """\
form: visit
version: 1
title: Visit
sections:
  - id: main
    title: Main
    fields:
      - id: weight
        type: integer
        label: Weight
      - id: note
        type: text
        label: Note
      - id: referrer
        type: text
        label: Referring physician
        identifier: true
"""
UTC = dt.UTC
#: A Tuesday: 10:00 UTC is 11:00 in Paris (working time), 21:30 UTC is 22:30 there (not).
TUESDAY = dt.datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
FORMULA = "=cmd|' /C calc'!A0"


def _at(moment: dt.datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Events written from now on are stamped `moment` (the trail's clock)."""
    monkeypatch.setattr(audit, "utcnow", lambda: moment)


def _save(world, who, subject, posted: dict[str, str], moment: dt.datetime, monkeypatch) -> None:
    _at(moment, monkeypatch)
    ctx = Context(db.session(), Actor(user=who), "en", lambda: moment)
    entry = entries.open_entry(ctx, subject, "baseline", 1, "visit")
    assert entry is not None
    asked = data_entry.SaveRequest(posted, expected_version=entry.row_version)
    assert data_entry.save(ctx, entry, asked).outcome is data_entry.Outcome.SAVED
    db.session.commit()
    monkeypatch.undo()


@pytest.fixture
def world(app, tmp_path):
    """Two sites of one study (Paris keeps Paris time), a subject and a nurse at each, a monitor
    of the first site and a data manager of the study."""
    study = stored_study(tmp_path, "audit-review", STUDY, {"visit": FORM})
    paris, rome = make_site("FR-71", study), make_site("IT-71", study)
    audit.record(
        db.session, Actor.cli(), "site.timezone", target=paris, site_code=paris.code,
        old={"timezone": paris.timezone}, new={"timezone": "Europe/Paris"},
    )  # fmt: skip
    paris.timezone = "Europe/Paris"
    db.session.commit()
    w = SimpleNamespace(
        app=app,
        study=study,
        paris=paris,
        rome=rome,
        subject_a=make_subject(paris),
        subject_b=make_subject(rome),
        nurse_a=make_user(roles=[(Role.NURSE, paris)]),
        nurse_b=make_user(roles=[(Role.NURSE, rome)]),
        monitor=make_user(roles=[(Role.MONITOR, paris)]),
        manager=make_user(roles=[(Role.DATA_MANAGER, study)]),
    )
    return w


def _ctx(world, user):
    return portal_context(world.app, Actor(user=user))


def _trail(world, reader, **filters) -> list[audit_review.TrailRow]:
    shown = audit_review.trail_page(_ctx(world, reader), TrailFilter(**filters), 1)
    return shown.rows


def test_filters_narrow_the_trail(world, monkeypatch):
    later = TUESDAY + dt.timedelta(days=2)
    _save(world, world.nurse_a, world.subject_a, {"weight": "10"}, TUESDAY, monkeypatch)
    _save(world, world.nurse_a, world.subject_a, {"weight": "12"}, later, monkeypatch)
    other = make_subject(world.paris)
    _save(world, world.nurse_a, other, {"note": "fine"}, later, monkeypatch)
    weights = _trail(world, world.monitor, item="weight")
    assert [(r.code, r.old, r.new) for r in weights] == [
        ("item.changed", 10, 12),
        ("item.created", None, 10),
    ]
    assert {(r.item_label, r.place.event_label, r.place.form_title) for r in weights} == {
        ("Weight", "Baseline", "Visit")
    }  # as the study names them, not by their ids
    assert {r.code for r in _trail(world, world.monitor, action="item.changed")} == {"item.changed"}
    first_day = _trail(world, world.monitor, since=TUESDAY.date(), until=TUESDAY.date())
    assert first_day
    assert all(r.at.date() == TUESDAY.date() for r in first_day)
    assert [r.new for r in first_day if r.item] == [10]
    theirs = _trail(world, world.monitor, subject=other.study_code)
    assert theirs
    assert {r.place.subject_code for r in theirs if r.place} == {other.study_code}
    assert "fine" in [r.new for r in theirs]
    assert 12 not in [r.new for r in theirs]
    assert not _trail(world, world.monitor, user=world.nurse_b.email)
    mine = _trail(world, world.monitor, user=world.nurse_a.email.upper(), form="visit")
    assert mine
    assert {r.actor for r in mine} == {world.nurse_a.email}
    assert not _trail(world, world.monitor, form="other_form")


def test_a_reader_sees_only_the_clinical_events_of_their_sites(world, monkeypatch):
    _save(world, world.nurse_a, world.subject_a, {"weight": "10"}, TUESDAY, monkeypatch)
    _save(world, world.nurse_b, world.subject_b, {"weight": "20"}, TUESDAY, monkeypatch)
    audit.record(db.session, Actor(user=world.nurse_a), "auth.login", site_code="FR-71")
    db.session.commit()
    monitor_sees = _trail(world, world.monitor)
    assert {r.site_code for r in monitor_sees} == {"FR-71"}
    assert 20 not in [r.new for r in monitor_sees]
    assert not [r for r in monitor_sees if r.code.startswith(("auth.", "identity."))]
    nurse_sees = _trail(world, world.nurse_b)
    assert {r.site_code for r in nurse_sees} == {"IT-71"}
    assert "identity.created" in {r.code for r in nurse_sees}  # her site's identities are hers
    assert {r.site_code for r in _trail(world, world.manager)} == {"FR-71", "IT-71"}
    with pytest.raises(Invalid):  # another site's subject is no subject of hers
        _trail(world, world.nurse_b, subject=world.subject_a.study_code)


def test_identifier_items_are_masked_for_readers_without_identities(world, monkeypatch):
    _save(world, world.nurse_a, world.subject_a, {"referrer": "Dr Maurice"}, TUESDAY, monkeypatch)
    [seen] = _trail(world, world.monitor, item="referrer")
    assert seen.masked
    assert "Maurice" not in seen.new
    [nurse_seen] = _trail(world, world.nurse_a, item="referrer")
    assert nurse_seen.new == "Dr Maurice"


def _csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_the_csv_holds_the_filtered_rows_formula_safe_and_is_audited(world, client, monkeypatch):
    _save(world, world.nurse_a, world.subject_a, {"note": FORMULA}, TUESDAY, monkeypatch)
    _save(world, world.nurse_a, world.subject_a, {"weight": "7"}, TUESDAY, monkeypatch)
    _save(world, world.nurse_a, world.subject_a, {"referrer": "Dr Maurice"}, TUESDAY, monkeypatch)
    expected = _trail(world, world.monitor, form="visit")
    login(client, world.monitor)
    rows = _csv(client.get("/audit/trail.csv?form=visit"))
    assert [int(r["seq"]) for r in rows] == sorted(r.seq for r in expected)
    [note] = [r for r in rows if r["item_path"].endswith("/note") and r["new_value"]]
    assert note["new_value"] == "'" + FORMULA
    assert note["subject"] == world.subject_a.study_code
    [referrer] = [r for r in rows if r["item_path"].endswith("/referrer")]
    assert "Maurice" not in referrer["new_value"]
    [exported] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == EXPORTED)).all()
    assert exported.actor_id == world.monitor.id
    assert exported.new_value["rows"] == len(rows)
    assert exported.new_value["filters"] == {"form": "visit"}
    assert exported.new_value["sites"] == "FR-71"
    admin = portal_context(world.app, Actor(user=make_user(roles=[(Role.ADMIN, None)])))
    seen, _total = security.security_page(admin, security.EventFilter(action=EXPORTED), 1)
    assert [(e.action, e.target) for e in seen] == [("Audit trail exported", "Audit trail")]
    weights = _csv(client.get("/audit/trail.csv?form=visit&item=weight"))
    assert [r["action"] for r in weights] == ["item.created", "item.changed"]  # set, then emptied
    assert all(r["item_path"].endswith("/weight") for r in weights)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=2026-03-10&until=2026-03-01", "first day comes after the last"),
        ("user=" + "x" * 10_000, "at most 254 characters"),
        ("subject=" + "N" * 10_000, "at most 32 characters"),
        ("item=" + "a" * 10_000, "at most 200 characters"),
        ("item=../etc", "An item is named by its key"),
        ("form=Visit;drop", "A form is named by its id"),
        ("action=auth.login", "Choose an event from the list"),
        ("since=31/02/2026", "no 31/02/2026 in the calendar"),
        ("until=" + "9" * 10_000, "Enter the date as"),
        ("subject=NB-XX-9999", "No subject NB-XX-9999"),
    ],
)
def test_bad_filters_are_explained_not_failed(world, client, query, message):
    login(client, world.monitor)
    for path in ("/audit/", "/audit/trail.csv", "/audit/reports"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 422, (path, response.status_code)
        assert message in response.get_data(as_text=True), path
    assert not db.session.scalar(select(func.count()).where(AuditEvent.action == "audit.exported"))


@pytest.mark.parametrize("page", ["0", "-3", "abc", "99999999999999999999", "100001"])
def test_an_absurd_page_is_a_page(world, client, page):
    login(client, world.nurse_a)
    response = client.get(f"/audit/?page={page}")
    assert response.status_code == 200
    assert "Audit trail" in response.get_data(as_text=True)


def test_the_nav_offers_the_trail_to_its_readers_only(world, client):
    login(client, world.nurse_a)
    assert 'href="/audit/"' in client.get("/").get_data(as_text=True)
    admin = make_user(roles=[(Role.ADMIN, None)])
    other = client.application.test_client()
    other.environ_base.update(client.environ_base)
    login(other, admin)
    assert 'href="/audit/"' not in other.get("/admin/users").get_data(as_text=True)
    assert other.get("/audit/").status_code == 404


def test_reports_find_out_of_hours_edits_and_changes_after_review(world, monkeypatch):
    night = TUESDAY.replace(hour=21, minute=30)  # 22:30 in Paris
    saturday = TUESDAY + dt.timedelta(days=4)
    _save(world, world.nurse_a, world.subject_a, {"weight": "10"}, TUESDAY, monkeypatch)
    _save(world, world.nurse_a, world.subject_a, {"weight": "11"}, night, monkeypatch)
    _save(world, world.nurse_a, world.subject_a, {"weight": "12"}, saturday, monkeypatch)
    record = db.session.scalar(
        select(FormRecord).where(FormRecord.subject_id == world.subject_a.id)
    )
    verified = ItemVerification(record_id=record.id, item_key="weight", value=11)
    db.session.add(verified)
    audit.record(db.session, Actor(user=world.monitor), "sdv.verified", target=verified)
    db.session.flush()
    _at(saturday, monkeypatch)
    audit.record(
        db.session, Actor(user=world.nurse_a), "sdv.reset", target=verified,
        item_path="baseline/1/visit@1/weight", site_code="FR-71", role="nurse",
        old={"verified": True}, new={"verified": False},
    )  # fmt: skip
    db.session.commit()
    monkeypatch.undo()
    shown = review_reports.reports(_ctx(world, world.monitor), TrailFilter())
    assert shown.out_of_hours_total == 2
    assert [(r.new, r.at) for r in shown.out_of_hours] == [(12, saturday), (11, night)]
    assert shown.after_review_total == 1
    [reset] = shown.after_review
    assert reset.code == "sdv.reset"
    assert (reset.place.subject_code, reset.place.form_title) == (
        world.subject_a.study_code,
        "Visit",
    )
    assert reset.item_label == "Weight"
    [count] = [c for c in shown.per_user if c.actor == world.nurse_a.email]
    assert (count.site_code, count.edits) == ("FR-71", 3)
    assert review_reports.OFFICE_HOURS.outside(dt.datetime(2026, 3, 10, 6, 59))
    assert not review_reports.OFFICE_HOURS.outside(dt.datetime(2026, 3, 10, 7, 0))


def test_the_reports_page_lists_them(world, client, monkeypatch):
    night = TUESDAY.replace(hour=21, minute=30)
    _save(world, world.nurse_a, world.subject_a, {"weight": "77"}, night, monkeypatch)
    login(client, world.monitor)
    page = client.get("/audit/reports").get_data(as_text=True)
    assert "Edits out of hours" in page
    assert "77" in page


def _visit(world, what, moment, monkeypatch):
    _at(moment, monkeypatch)
    ctx = Context(db.session(), Actor(user=world.monitor), "en", lambda: moment)
    visit = what(ctx, world.paris)
    db.session.commit()
    monkeypatch.undo()
    return visit


def test_changed_since_my_last_visit_lists_the_items_changed_after_it(world, monkeypatch):
    day = dt.timedelta(days=1)
    _save(world, world.nurse_a, world.subject_a, {"weight": "10"}, TUESDAY, monkeypatch)
    _save(world, world.nurse_a, world.subject_a, {"note": "old"}, TUESDAY, monkeypatch)
    ctx = _ctx(world, world.monitor)
    everything = monitor_visits.changed_since_last_visit(ctx, world.paris)
    assert {c.key for c in everything} == {"weight", "note"}  # no visit yet: all
    _visit(world, monitor_visits.start_visit, TUESDAY + day, monkeypatch)
    _save(world, world.nurse_a, world.subject_a, {"weight": "11"}, TUESDAY + 2 * day, monkeypatch)
    _visit(world, monitor_visits.end_visit, TUESDAY + 3 * day, monkeypatch)
    _save(world, world.nurse_a, world.subject_a, {"weight": "12"}, TUESDAY + 4 * day, monkeypatch)
    _save(world, world.nurse_a, world.subject_a, {"weight": "13"}, TUESDAY + 5 * day, monkeypatch)
    _save(world, world.nurse_b, world.subject_b, {"weight": "99"}, TUESDAY + 5 * day, monkeypatch)
    [changed] = monitor_visits.changed_since_last_visit(_ctx(world, world.monitor), world.paris)
    assert (changed.subject_code, changed.form_id, changed.key) == (
        world.subject_a.study_code, "visit", "weight",
    )  # fmt: skip
    assert changed.changes == 2
    assert changed.last_changed_at == TUESDAY + 5 * day
    assert changed.last_changed_by == world.nurse_a.email


def test_one_open_visit_per_monitor_and_site(world, monkeypatch):
    _visit(world, monitor_visits.start_visit, TUESDAY, monkeypatch)
    with pytest.raises(Conflict):
        _visit(world, monitor_visits.start_visit, TUESDAY, monkeypatch)
    db.session.rollback()
    _visit(world, monitor_visits.end_visit, TUESDAY, monkeypatch)
    with pytest.raises(Conflict):
        _visit(world, monitor_visits.end_visit, TUESDAY, monkeypatch)
    db.session.rollback()
    actions = db.session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.action.startswith("monitoring_visit."))
        .order_by(AuditEvent.seq)
    ).all()
    assert actions == ["monitoring_visit.started", "monitoring_visit.ended"]


def test_a_monitor_starts_and_ends_a_visit_from_the_site_page(world, client, monkeypatch):
    _save(world, world.nurse_a, world.subject_a, {"weight": "10"}, TUESDAY, monkeypatch)
    login(client, world.monitor)
    page = client.get("/monitoring/sites/FR-71")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Start a visit" in body
    crf = f"/subjects/{world.subject_a.study_code}/crf/baseline/1/visit"
    assert f'href="{crf}"' in body
    token = _token(body)
    assert (
        client.post("/monitoring/sites/FR-71/visits/start", data={"csrf_token": token}).status_code
        == 302
    )
    again = client.post("/monitoring/sites/FR-71/visits/start", data={"csrf_token": token})
    assert again.status_code == 409
    assert "already started" in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(MonitorVisit)) == 1
    ended = client.post("/monitoring/sites/FR-71/visits/end", data={"csrf_token": token})
    assert ended.status_code == 302
    after = client.get("/monitoring/sites/FR-71").get_data(as_text=True)
    assert "Nothing changed." in after
    assert client.get("/monitoring/sites/IT-71").status_code == 404  # not her site


def test_a_nurse_reads_her_site_page_but_cannot_start_a_visit(world, client):
    login(client, world.nurse_a)
    page = client.get("/monitoring/sites/FR-71")
    assert page.status_code == 200
    assert "Start a visit" not in page.get_data(as_text=True)
    token = _token(page.get_data(as_text=True))
    refused = client.post("/monitoring/sites/FR-71/visits/start", data={"csrf_token": token})
    assert refused.status_code == 404
    assert client.get("/monitoring/sites/IT-71").status_code == 404


def _token(body: str) -> str:
    import re

    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"|"X-CSRFToken": "([^"]+)"', body)
    if match is None:
        match = re.search(r"X-CSRFToken&#34;: &#34;([^&]+)&#34;", body)
        assert match, "no CSRF token"
        return match.group(1)
    return match.group(1) or match.group(2)


def test_the_trail_page_reads_in_a_constant_number_of_statements(world, client, monkeypatch):
    _save(world, world.nurse_a, world.subject_a, {"weight": "1"}, TUESDAY, monkeypatch)
    login(client, world.monitor)
    few = statements_for(client, "/audit/")
    for n in range(2, 8):
        subject = make_subject(world.paris)
        _save(world, world.nurse_a, subject, {"weight": str(n), "note": "x"}, TUESDAY, monkeypatch)
    assert statements_for(client, "/audit/") == few


def test_the_site_page_reads_in_a_constant_number_of_statements(world, client, monkeypatch):
    _save(world, world.nurse_a, world.subject_a, {"weight": "1"}, TUESDAY, monkeypatch)
    login(client, world.monitor)
    few = statements_for(client, "/monitoring/sites/FR-71")
    for n in range(2, 8):
        subject = make_subject(world.paris)
        _save(world, world.nurse_a, subject, {"weight": str(n), "note": "x"}, TUESDAY, monkeypatch)
    assert statements_for(client, "/monitoring/sites/FR-71") == few


@pytest.mark.commits
def test_two_parallel_starts_open_one_visit(app):
    """A monitor double-taps "Start a visit" (PostgreSQL runs both requests in parallel): the
    site's row lock makes the second wait for the first, find its visit and be refused."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from edc.models.base import utcnow
    from edc.models.studies import Site, Study
    from edc.models.users import RoleAssignment, User
    from tests.concurrency import at_once

    cli, now = Actor.cli(), utcnow()
    with Session(db.engine) as setup:
        study = Study(slug="visit-race", title="Race")
        site = Site(study=study, code="RACE-71", name="Race", country="FR")
        monitor = User(email="monitor@visit-race.example", full_name="M", password_hash="x",
                       created_at=now)  # fmt: skip
        setup.add_all([study, site, monitor])
        for target in (study, site, monitor):
            audit.record(setup, cli, "test.setup", target=target)
        setup.flush()
        role = RoleAssignment(user_id=monitor.id, role="monitor", site_id=site.id,
                              granted_at=now, approved_at=now)  # fmt: skip
        setup.add(role)
        audit.record(setup, cli, "test.setup", target=role)
        setup.commit()
        ids = {"study": study.id, "site": site.id, "user": monitor.id}

    def start() -> str:
        with app.test_request_context(), Session(db.engine) as session:
            ctx = Context(session, Actor(user=session.get(User, ids["user"])))
            try:
                monitor_visits.start_visit(ctx, session.get(Site, ids["site"]))
                session.commit()
            except Conflict:
                session.rollback()
                return "refused"
            return "started"

    try:
        assert sorted(map(str, at_once(2, start))) == ["refused", "started"]
        with Session(db.engine) as check:
            visits = check.scalars(select(MonitorVisit).where(MonitorVisit.site_id == ids["site"]))
            assert len(visits.all()) == 1
    finally:  # the audit events stay (append-only); the rows go, so other tests count as before
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM monitor_visit WHERE site_id = :site"), ids)
            conn.execute(text("DELETE FROM role_assignment WHERE site_id = :site"), ids)
            conn.execute(text("DELETE FROM user_account WHERE id = :user"), ids)
            conn.execute(text("DELETE FROM site WHERE id = :site"), ids)
            conn.execute(text("DELETE FROM study WHERE id = :study"), ids)
