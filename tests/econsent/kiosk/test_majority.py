"""The age of majority: a minor's consent counts until the eve of their 18th birthday (in their
country's rule) plus its grace; after that CRF entry waits for their own adult consent, and the
parents' consent and the child's assent stay in their history. Clocks are fixed per call."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from econsent.library import use_folder
from econsent.models import ConsentSignature, ReconsentTask
from econsent.services import reconsent, reconsent_lists
from edc.access import Role
from edc.errors import Conflict, Invalid
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.models.consent import ConsentScope
from edc.services import data_entry, entries
from tests.econsent.kiosk.conftest import Clinic
from tests.econsent.kiosk.reconsent_helpers import DEMO, at, run_consent
from tests.edc.conftest import stored_study
from tests.edc.test_consent_scope import SCREENING, STUDY, VISIT
from tests.factories import make_site, make_subject, make_user

pytestmark = pytest.mark.usefixtures("in_request")


def _noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), dt.UTC)


@pytest.fixture
def turning_18(app, tmp_path):
    """A 17-year-old at a French site of a study whose forms wait for consent, reaching the
    age of majority in about 10 days."""
    study = stored_study(tmp_path, "majority", STUDY, {"screening": SCREENING, "visit": VISIT})
    use_folder(study.slug, DEMO)
    site = make_site("FR-71", study, country="FR")
    birthday = utcnow().date() + dt.timedelta(days=10)
    birth = dt.date(birthday.year - 18, birthday.month, min(birthday.day, 28))
    subject = make_subject(site, date_of_birth=birth)
    nurse = make_user(roles=[(Role.NURSE, site)])
    clinic = Clinic(app, site, subject, nurse, make_user(roles=[(Role.INVESTIGATOR, site)]))
    return clinic, birth.replace(year=birth.year + 18)


def _enter(clinic, moment: dt.datetime, weight: str) -> data_entry.Outcome:
    ctx = at(clinic.ctx(), moment)
    entry = entries.open_entry(ctx, clinic.subject, "baseline", 1, "visit")
    asked = data_entry.SaveRequest({"weight": weight}, expected_version=entry.row_version)
    return data_entry.save(ctx, entry, asked).outcome


def test_past_the_grace_date_entry_waits_for_the_adult_consent(turning_18):
    clinic, majority = turning_18
    parents = run_consent(clinic, clinic.subject)  # parents consent, the child assents
    assert parents.child_band == "older"
    (task,) = db.session.scalars(select(ReconsentTask)).all()
    eve = majority - dt.timedelta(days=1)  # the French rule gives no grace after 18
    assert (task.reason, task.document, task.grace_until) == ("majority", "adult_consent", eve)
    assert db.session.scalar(select(ConsentScope.valid_until)) == eve

    assert _enter(clinic, _noon(eve), "60") is data_entry.Outcome.SAVED
    with pytest.raises(Conflict, match="stopped counting"):
        _enter(clinic, _noon(majority), "61")

    adult = run_consent(clinic, clinic.subject, _noon(majority))  # now the patient signs
    assert (adult.audience, adult.document) == ("adult", "adult_consent")
    db.session.refresh(task)
    assert task.closed_by_session_id == adult.id
    assert _enter(clinic, _noon(majority), "61") is data_entry.Outcome.SAVED

    scopes = db.session.scalars(select(ConsentScope).order_by(ConsentScope.id)).all()
    assert [(s.document, s.end_reason, s.valid_until) for s in scopes] == [
        ("parent_consent", "superseded", eve),
        ("adult_consent", "", None),
    ]
    assent = select(ConsentSignature.decision).where(
        ConsentSignature.session_id == parents.id, ConsentSignature.role == "child_assent"
    )
    assert db.session.scalar(assent) == "assent"  # the assent stays beside the adult consent
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"consent.reconsent_opened", "consent.reconsent_closed"} <= actions


def test_the_majority_list_reads_birth_dates_and_gives_each_child_a_task(turning_18):
    clinic, majority = turning_18
    run_consent(clinic, clinic.subject)
    db.session.execute(ReconsentTask.__table__.delete())  # a consent from before this feature
    coming = reconsent_lists.reaching_majority(clinic.ctx(), 30)
    assert [(c.study_code, c.majority_on, c.age_of_majority, c.days) for c in coming] == [
        (clinic.subject.study_code, majority, 18, (majority - utcnow().date()).days)
    ]
    assert reconsent_lists.reaching_majority(clinic.ctx(), 5) == []  # not within 5 days
    reads = db.session.scalars(
        select(AuditEvent.new_value).where(AuditEvent.action == "identity.read")
    ).all()
    assert sum(1 for r in reads if r.get("purpose") == "majority") == 2
    (task,) = db.session.scalars(select(ReconsentTask)).all()
    assert (task.reason, task.grace_until) == (reconsent.MAJORITY, majority - dt.timedelta(days=1))
    for wrong in ("0", "367", "abc", "-4", "²", "9" * 40, "1.5"):
        with pytest.raises(Invalid):
            reconsent_lists.parse_days(wrong)
    assert reconsent_lists.parse_days("") == 90
