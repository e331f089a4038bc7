"""Derived values never go stale: a birth-date correction recomputes stored ages and decisions."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from edc.access import Role
from edc.actor import Actor
from edc.context import Context
from edc.dates import moment
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.models.crf import ItemValue
from edc.models.notices import Notice
from edc.models.subjects import Subject
from edc.services import casebook, data_entry, derived_events, entries, subjects
from edc.services.crf_values import posted_from_stored
from edc.services.data_entry import Outcome
from edc.services.definitions import load_definition
from edc.settings import ROOT
from edc.web import app_context
from tests.factories import make_site, make_study, make_subject, make_user

DEMO = ROOT / "studies" / "siopen-nb"
#: A complete diagnosis, stage M, MYCN not amplified, hyperdiploid: INRG group F (low risk)
#: before 18 months of age, P (high risk) from 18 months on.
DIAGNOSIS = {
    "diagnosis_date": "2026-06-15",
    "inrg_stage": "M",
    "histology": "nb",
    "grade": "poorly_differentiated",
    "mycn": "not_amplified",
    "chr11q": "no",
    "dna_index": "1.5",
    "metastases-0-metastasis_site": "bone_marrow",
}
BORN = dt.date(2025, 1, 10)  # 17 completed months at diagnosis
CORRECTED = dt.date(2024, 11, 10)  # 19 completed months


@pytest.fixture
def demo():
    """The demo study stored, one subject with a complete diagnosis, and the site's staff."""
    study = make_study("siopen-nb")
    load_definition(app_context(Actor.cli()), study, DEMO, utcnow())
    db.session.commit()
    site = make_site("FR-01", study)
    subject = make_subject(site, date_of_birth=BORN)
    nurse = make_user(roles=[(Role.NURSE, site)])
    investigator = make_user(roles=[(Role.INVESTIGATOR, site)])
    elsewhere = make_user(roles=[(Role.INVESTIGATOR, make_site("FR-02", study))])
    entry = _entry(nurse, subject)
    saved = _save(nurse, entry, DIAGNOSIS, complete=True)
    assert saved.outcome is Outcome.SAVED, saved.evaluation and saved.evaluation.errors
    db.session.commit()
    assert _entry(nurse, subject).stored["age_months"] == 17
    return dataclasses.make_dataclass("Demo", ["subject", "nurse", "investigator", "elsewhere"])(
        subject, nurse, investigator, elsewhere
    )


def _entry(user, subject):
    entry = entries.open_entry(
        Context(db.session(), Actor(user=user)), subject, "diagnosis", 1, "diagnosis"
    )
    assert entry is not None
    return entry


def _save(user, entry, posted, *, complete=False, reasons=None, version=None):
    return data_entry.save(
        Context(db.session(), Actor(user=user)), entry,
        data_entry.SaveRequest(
            posted, expected_version=entry.row_version if version is None else version,
            complete=complete, reasons=reasons or {},
        ),
    )  # fmt: skip


def _correct(user, subject, born):
    actor = Actor(user=user)
    identity = subjects.read_identity(app_context(actor), subject, "correction")
    return subjects.correct_identity(
        app_context(actor), subject, dataclasses.replace(identity, date_of_birth=born),
        "birth certificate", utcnow(),
    )  # fmt: skip


def _risk(reader, subject):
    ctx = Context(db.session(), Actor(user=reader))
    views = casebook.decision_support(ctx, subject, masked=False)
    (inrg,) = [v for v in views if v.table.id == "inrg_risk"]
    return inrg.decision.outputs


def test_a_birth_date_correction_updates_the_stored_age_and_risk_group_at_once(demo):
    assert _risk(demo.nurse, demo.subject) == {"group": "F", "risk": "low"}
    before = _entry(demo.nurse, demo.subject).row_version

    assert _correct(demo.nurse, demo.subject, CORRECTED) == ["date_of_birth"]

    # Nothing committed yet: the recomputation belongs to the correction's transaction.
    entry = _entry(demo.nurse, demo.subject)
    assert entry.stored["age_months"] == 19
    assert entry.row_version == before + 1
    assert entry.record.status == "complete"
    assert _risk(demo.nurse, demo.subject) == {"group": "P", "risk": "high"}
    cause = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "identity.corrected"))
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "item.derived").order_by(AuditEvent.seq)
    ).all()
    changed = {
        e.item_path.rsplit("/", 1)[-1]: (e.old_value, derived_events.value_of(e)) for e in events
    }
    # The age, and what reads it: the INPC group of an undifferentiated tumour after 18 months.
    assert changed == {"age_months": (17, 19), "inpc_prognosis": (None, "unfavourable")}
    assert entry.stored["inpc_prognosis"] == "unfavourable"
    for event in events:
        assert derived_events.cause_of(event) == cause.seq
        assert event.reason == ""  # nobody was asked for one
        assert event.actor_email == demo.nurse.email
        assert (event.role, event.site_code) == ("nurse", "FR-01")
    db.session.rollback()  # the correction and everything derived from it go together
    assert _entry(demo.nurse, demo.subject).stored["age_months"] == 17


def test_the_next_save_of_an_unrelated_answer_asks_no_reason_for_calculations(demo):
    _correct(demo.nurse, demo.subject, CORRECTED)
    db.session.commit()
    entry = _entry(demo.nurse, demo.subject)
    posted = {**posted_from_stored(entry.form, entry.stored), "primary_site": "adrenal"}
    asked = _save(demo.nurse, entry, posted)
    assert asked.outcome is Outcome.NEEDS_REASONS
    assert [c.path for c in asked.changes] == ["primary_site"]  # not the age
    done = _save(demo.nurse, _entry(demo.nurse, demo.subject), posted,
                 reasons={"primary_site": "operation report"})  # fmt: skip
    assert done.outcome is Outcome.SAVED


def test_a_page_opened_before_the_correction_cannot_write_over_it(demo):
    opened = _entry(demo.nurse, demo.subject)
    read_version = opened.row_version  # what the page holds in its form
    posted = {**posted_from_stored(opened.form, opened.stored), "primary_site": "adrenal"}
    _correct(demo.nurse, demo.subject, CORRECTED)
    db.session.commit()
    late = _save(demo.nurse, _entry(demo.nurse, demo.subject), posted, version=read_version,
                 reasons={"primary_site": "operation report"})  # fmt: skip
    assert late.outcome is Outcome.CONFLICT
    assert late.stored["age_months"] == 19


def test_the_investigators_of_the_site_hear_that_the_risk_group_changed(demo):
    _correct(demo.nurse, demo.subject, CORRECTED)
    cause = db.session.scalar(
        select(AuditEvent.seq).where(AuditEvent.action == "identity.corrected")
    )
    (notice,) = db.session.scalars(select(Notice))
    assert notice.user_id == demo.investigator.id  # not the nurse, not another site's
    assert notice.subject_id == demo.subject.id
    assert notice.read_at is None
    (table,) = notice.payload["tables"]
    assert table["id"] == "inrg_risk"
    assert {o["id"]: (o["old"], o["new"]) for o in table["outputs"]} == {
        "group": ("F", "P"),
        "risk": ("low", "high"),
    }
    assert notice.payload["cause"] == cause


def test_a_correction_that_keeps_the_age_writes_nothing_derived(demo):
    _correct(demo.nurse, demo.subject, BORN + dt.timedelta(days=1))  # still 17 months
    assert _entry(demo.nurse, demo.subject).stored["age_months"] == 17
    assert not db.session.scalars(
        select(AuditEvent).where(AuditEvent.action.in_(("item.derived", "record.derived")))
    ).all()
    assert not db.session.scalars(select(Notice)).all()


def test_a_correction_of_the_name_recomputes_nothing(demo):
    actor = Actor(user=demo.nurse)
    identity = subjects.read_identity(app_context(actor), demo.subject, "correction")
    subjects.correct_identity(
        app_context(actor), demo.subject, dataclasses.replace(identity, family_name="Dupont"),
        "typo", utcnow(),
    )  # fmt: skip
    assert not db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "item.derived")
    ).all()


def test_the_item_history_shows_a_derived_value_and_its_cause(demo, client):
    from tests.factories import login

    _correct(demo.nurse, demo.subject, CORRECTED)
    db.session.commit()
    cause = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "identity.corrected"))
    login(client, demo.nurse)
    url = f"/subjects/{demo.subject.study_code}/crf/diagnosis/1/diagnosis/history/age_months"
    page = client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    corrected = moment(
        cause.at, ZoneInfo(client.application.config["EDC_SETTINGS"].account_timezone)
    )
    assert "Recalculated by the system after: Identity corrected, " in page
    assert f"{corrected} (no reason needed)" in page  # what caused it and when, not an event id
    assert f"#{cause.seq}" not in page
    assert "19" in page
    assert "cause" not in page  # the value, not the stored record of how it came


@pytest.mark.commits
def test_a_save_during_a_birth_date_correction_computes_with_the_corrected_date(app, tmp_path):
    """A correction in progress holds the vault row; a save that starts meanwhile waits for it
    and computes the age from the corrected date. Here the correction itself changes no stored
    value (the age stays 26 months at the stored visit), but the save moves the visit date to
    where the two birth dates give different ages: without the wait (PostgreSQL runs them in
    parallel) it would store the age from the old date, and nothing would ever correct it."""
    import threading
    import time

    from sqlalchemy.orm import Session

    from edc.models.users import User
    from tests.edc.test_occurrences import _own_database

    engine, subject_id, nurse_id = _own_database(app, tmp_path, born=dt.date(2024, 1, 10))
    with app.test_request_context(), Session(engine) as session:
        nurse = Actor(user=session.get(User, nurse_id))
        subject = session.get(Subject, subject_id)
        entry = entries.open_entry(Context(session, nurse), subject, "baseline", 1, "visit")
        first = {"visit_date": "2026-03-25", "mycn": "not_amplified"}
        saved = data_entry.save(
            Context(session, nurse), entry, data_entry.SaveRequest(first, expected_version=0)
        )
        assert saved.outcome is Outcome.SAVED
        session.commit()
    done = threading.Event()
    outcome: list[object] = []

    def save_meanwhile() -> None:
        try:
            with app.test_request_context(), Session(engine) as session:
                nurse = Actor(user=session.get(User, nurse_id))
                subject = session.get(Subject, subject_id)
                entry = entries.find_entry(
                    Context(session, nurse),
                    subject.study_code,
                    "baseline",
                    1,
                    "visit",
                    identity=True,
                )
                result = data_entry.save(
                    Context(session, nurse), entry,
                    data_entry.SaveRequest(
                        {**first, "visit_date": "2026-03-15"},
                        expected_version=entry.row_version,
                    ),
                )  # fmt: skip
                session.commit()
                outcome.append(result.outcome)
        except BaseException as exc:  # reported below
            outcome.append(exc)
        finally:
            done.set()

    try:
        with app.test_request_context(), Session(engine) as correcting:
            nurse = Actor(user=correcting.get(User, nurse_id))
            subject = correcting.get(Subject, subject_id)
            identity = subjects.read_identity(Context(correcting, nurse), subject, "correction")
            changed = subjects.correct_identity(
                Context(correcting, nurse), subject,
                dataclasses.replace(identity, date_of_birth=dt.date(2024, 1, 20)),
                "birth certificate", utcnow(),
            )  # fmt: skip
            assert changed == ["date_of_birth"]
            worker = threading.Thread(target=save_meanwhile)
            worker.start()
            time.sleep(0.5)
            assert not done.is_set()  # the save waits for the correction
            correcting.commit()
        worker.join(timeout=30)
        assert outcome == [Outcome.SAVED]
        with Session(engine) as check:
            ages = check.scalars(select(ItemValue.value).where(ItemValue.path == "age")).all()
        assert ages == [25]  # born 20 January: not yet 26 months on 15 March
    finally:
        engine.dispose()
