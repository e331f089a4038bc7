"""Investigators hear of changed decisions in the app; decision support names what it rests on."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from edc.access import Role
from edc.actor import Actor
from edc.context import Context
from edc.dates import moment
from edc.extensions import db
from edc.models.base import utcnow
from edc.models.notices import Notice
from edc.models.subjects import Subject
from edc.models.users import RoleAssignment
from edc.services import entries, notices
from edc.services.crf_values import posted_from_stored
from edc.web import app_context
from tests.edc.test_derived import CORRECTED, _correct, demo  # noqa: F401 (the fixture)
from tests.factories import another_browser, csrf, login, make_subject, make_user, statements_for


def _diagnosis(demo):  # noqa: F811
    entry = entries.open_entry(
        Context(db.session(), Actor(user=demo.nurse)), demo.subject, "diagnosis", 1, "diagnosis"
    )
    assert entry is not None
    return entry


def test_no_notice_when_no_decision_changes(demo):  # noqa: F811
    entry = _diagnosis(demo)
    sent = notices.decisions_changed(
        app_context(Actor(user=demo.nurse)), demo.subject, entry.form, entry.stored,
        {**entry.stored, "primary_site": "adrenal"}, utcnow(),
    )  # fmt: skip
    assert sent == []
    assert db.session.scalars(select(Notice)).all() == []


def test_only_current_investigators_of_the_site_are_told(demo):  # noqa: F811
    site = demo.subject.site
    second = make_user(roles=[(Role.INVESTIGATOR, site)])
    gone = make_user(roles=[(Role.INVESTIGATOR, site)])
    db.session.execute(
        update(RoleAssignment).where(RoleAssignment.user_id == gone.id).values(revoked_at=utcnow())
    )
    entry = _diagnosis(demo)
    sent = notices.decisions_changed(
        app_context(Actor(user=demo.nurse)), demo.subject, entry.form, entry.stored,
        {**entry.stored, "mycn": "amplified"}, utcnow(),
    )  # fmt: skip
    assert sorted(n.user_id for n in sent) == sorted([demo.investigator.id, second.id])
    (table,) = sent[0].payload["tables"]
    assert {o["id"]: (o["old"], o["new"]) for o in table["outputs"]} == {
        "group": ("F", "O"),
        "risk": ("low", "high"),
    }


def test_the_investigator_sees_the_notice_at_home_and_marks_it_read(client, demo):  # noqa: F811
    _correct(demo.nurse, demo.subject, CORRECTED)
    db.session.commit()
    code = demo.subject.study_code
    login(client, demo.investigator)
    page = client.get("/").get_data(as_text=True)
    assert "1 unread notice" in page
    assert f"Decision support changed for {code}" in page
    assert "INRG pretreatment risk group" in page
    assert f'href="/subjects/{code}"' in page
    (notice_id,) = db.session.scalars(select(Notice.id))
    token = csrf(client, "/")
    # Not without the form's token; not someone else's notice.
    assert client.post(f"/notices/{notice_id}/read").status_code == 400
    assert (
        client.post(f"/notices/{notice_id + 1}/read", data={"csrf_token": token}).status_code == 404
    )
    done = client.post(f"/notices/{notice_id}/read", data={"csrf_token": token})
    assert done.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "unread notice" not in page
    assert db.session.get(Notice, notice_id).read_at is not None


def test_a_notice_is_only_for_its_reader(client, demo):  # noqa: F811
    _correct(demo.nurse, demo.subject, CORRECTED)
    db.session.commit()
    (notice_id,) = db.session.scalars(select(Notice.id))
    login(client, demo.nurse)
    assert "unread notice" not in client.get("/").get_data(as_text=True)
    token = csrf(client, "/")
    assert client.post(f"/notices/{notice_id}/read", data={"csrf_token": token}).status_code == 404
    assert db.session.get(Notice, notice_id).read_at is None


def test_a_notice_about_a_subject_out_of_scope_is_not_shown(client, demo):  # noqa: F811
    _correct(demo.nurse, demo.subject, CORRECTED)
    db.session.execute(
        update(RoleAssignment)
        .where(RoleAssignment.user_id == demo.investigator.id)
        .values(revoked_at=utcnow())
    )
    make_user(roles=[(Role.INVESTIGATOR, demo.subject.site)])  # the investigator's successor
    db.session.commit()
    login(client, demo.investigator)
    page = client.get("/").get_data(as_text=True)
    assert demo.subject.study_code not in page


def test_the_home_page_reads_notices_in_constant_queries(client, demo):  # noqa: F811
    login(client, demo.investigator)
    _correct(demo.nurse, demo.subject, CORRECTED)
    one = statements_for(client, "/")
    site = db.session.get(Subject, demo.subject.id).site
    for _ in range(3):
        other = make_subject(site, date_of_birth=dt.date(2025, 1, 10))
        db.session.add(
            Notice(
                user_id=demo.investigator.id, subject_id=other.id, kind="decision_changed",
                payload=db.session.scalar(select(Notice.payload)), created_at=utcnow(),
            )
        )  # fmt: skip
    assert statements_for(client, "/") == one
    assert "4 unread notices" in client.get("/").get_data(as_text=True)


def test_decision_support_names_the_saved_form_its_status_and_when(client, demo):  # noqa: F811
    login(client, demo.nurse)
    page = client.get(f"/subjects/{demo.subject.study_code}").get_data(as_text=True)
    source = re.search(r'<p class="hint decision-source">(.*?)</p>', page, re.S)
    assert source is not None
    text = " ".join(source.group(1).split())
    code = demo.subject.study_code
    assert f'href="/subjects/{code}/crf/diagnosis/1/diagnosis"' in text
    assert ">Diagnosis</a>" in text
    assert "Complete" in text
    record = _diagnosis(demo).record
    zone = ZoneInfo(client.application.config["EDC_SETTINGS"].account_timezone)
    assert f'datetime="{record.updated_at.isoformat(timespec="seconds")}"' in text
    assert moment(record.updated_at, zone, "en") in text  # the portal's zone, the reader's format


def test_a_nurses_save_that_changes_the_risk_group_tells_the_investigator(demo):  # noqa: F811
    from edc.models.base import utcnow as now
    from edc.services import data_entry

    assert db.session.scalars(select(Notice)).all() == []  # the first classification: no news
    entry = _diagnosis(demo)
    posted = {**posted_from_stored(entry.form, entry.stored), "mycn": "amplified"}
    saved = data_entry.save(
        Context(db.session(), Actor(user=demo.nurse), "en", now), entry,
        data_entry.SaveRequest(
            posted, expected_version=entry.row_version, reasons={"*": "late MYCN result"}
        ),
    )  # fmt: skip
    assert saved.outcome is data_entry.Outcome.SAVED
    (notice,) = db.session.scalars(select(Notice))
    assert notice.user_id == demo.investigator.id


def test_every_page_shows_the_unread_count_without_a_query_of_its_own(client, demo):  # noqa: F811
    _correct(demo.nurse, demo.subject, CORRECTED)
    db.session.commit()
    login(client, demo.investigator)
    page = client.get("/subjects/").get_data(as_text=True)
    assert '<span class="badge" aria-label="1 unread notice">1</span>' in page
    nurse_client = another_browser(client)
    login(nurse_client, demo.nurse)
    assert 'class="badge"' not in nurse_client.get("/subjects/").get_data(as_text=True)
    with_notice = statements_for(client, "/subjects/")
    assert with_notice == statements_for(nurse_client, "/subjects/")  # read with the session
