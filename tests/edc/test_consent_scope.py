"""The subject's consent scope: what puts it in force, what it opens (data entry) and what it
changes (enrolment), for a study that waits for consent."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from edc.access import Role
from edc.actor import Actor
from edc.context import Context
from edc.errors import Conflict, Denied
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.models.subjects import Subject
from edc.services import consent_scope, data_entry, entries
from edc.services.consent_scope import Granted
from tests.edc.conftest import stored_study
from tests.factories import csrf, login, make_site, make_subject, make_user

STUDY = """\
study: {slug}
title: Consent study
languages: [en]
consent:
  required_for_entry: true
  before_consent: [screening]
  eligibility: screening.eligible
events:
  - id: baseline
    label: Baseline
    forms: [screening, visit]
"""
SCREENING = """\
form: screening
version: 1
title: Screening
sections:
  - id: main
    title: Main
    fields:
      - id: eligible
        type: yesno
        label: Eligible
        required: true
"""
VISIT = """\
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
"""


def make_trial(tmp_path):
    """A study waiting for consent, a site, a child registered there and a nurse of the site."""
    study = stored_study(tmp_path, "consent-test", STUDY, {"screening": SCREENING, "visit": VISIT})
    site = make_site("FR-31", study)
    subject = make_subject(site, date_of_birth=dt.date(2019, 5, 2))
    nurse = make_user(roles=[(Role.NURSE, site)])
    return study, site, subject, nurse


@pytest.fixture
def trial(tmp_path):
    return make_trial(tmp_path)


def _ctx(user) -> Context:
    return Context(db.session(), Actor(user=user))


def _granted(n: int = 1, **options: bool) -> Granted:
    return Granted(
        reference=f"econsent:{n}", document="parent_consent", title="Consent of parents",
        version="1", language="fr", options=options, since=utcnow(),
    )  # fmt: skip


def _save(nurse, subject, form_id, posted, *, complete=True):
    entry = entries.open_entry(_ctx(nurse), subject, "baseline", 1, form_id)
    assert entry is not None
    asked = data_entry.SaveRequest(posted, expected_version=entry.row_version, complete=complete)
    return data_entry.save(_ctx(nurse), entry, asked)


def test_entry_waits_for_consent_and_opens_once_it_is_in_force(client, trial):
    _study, _site, subject, nurse = trial
    with pytest.raises(Conflict, match="once the consent is complete"):
        _save(nurse, subject, "visit", {"weight": "12"})
    assert _save(nurse, subject, "screening", {"eligible": "no"}, complete=False).outcome.value
    login(client, nurse)
    url = f"/subjects/{subject.study_code}/crf/baseline/1/visit"
    page = client.get(url).get_data(as_text=True)
    assert "This form opens once the consent is complete" in page
    assert 'name="weight"' not in page  # read-only: nothing to type into
    refused = client.post(
        url, data={"weight": "12", "row_version": 0, "csrf_token": csrf(client, url)}
    )
    assert refused.status_code == 409

    consent_scope.put_in_force(_ctx(nurse), subject, _granted(biobank_storage=True))
    db.session.commit()
    page = client.get(url).get_data(as_text=True)
    assert 'name="weight"' in page
    assert _save(nurse, subject, "visit", {"weight": "12"}).outcome is data_entry.Outcome.SAVED


def test_consent_and_confirmed_eligibility_enrol_whichever_comes_last(trial):
    _study, _site, subject, nurse = trial
    _save(nurse, subject, "screening", {"eligible": "yes"}, complete=False)
    consent_scope.put_in_force(_ctx(nurse), subject, _granted())
    assert subject.status == "registered"  # a draft's answer confirms nothing
    _save(nurse, subject, "screening", {"eligible": "yes"})
    assert subject.status == "enrolled"
    change = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "subject.status_changed")
    )
    assert change.reason == "Consent complete and eligibility confirmed."

    other = make_subject(trial[1], family_name="Moreau")
    _save(nurse, other, "screening", {"eligible": "yes"})
    assert other.status == "registered"  # no consent yet
    consent_scope.put_in_force(_ctx(nurse), other, _granted(2))
    assert other.status == "enrolled"


def test_an_ineligible_child_is_not_enrolled_by_consent(trial):
    _study, _site, subject, nurse = trial
    _save(nurse, subject, "screening", {"eligible": "no"})
    consent_scope.put_in_force(_ctx(nurse), subject, _granted())
    assert subject.status == "registered"


def test_a_new_consent_supersedes_the_one_before_and_is_recorded_once(trial):
    _study, _site, subject, nurse = trial
    before = db.session.scalar(select(func.max(AuditEvent.seq))) or 0
    first = consent_scope.put_in_force(_ctx(nurse), subject, _granted(1, registry_transfer=True))
    second = consent_scope.put_in_force(_ctx(nurse), subject, _granted(2, registry_transfer=False))
    assert (first.ended_at, first.end_reason) == (second.since, "superseded")
    assert consent_scope.in_force(_ctx(nurse), subject) is second
    assert second.options == {"registry_transfer": False}
    with pytest.raises(Conflict):
        consent_scope.put_in_force(_ctx(nurse), subject, _granted(2))
    actions = db.session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.action.like("consent.%"), AuditEvent.seq > before)
        .order_by(AuditEvent.seq)
    ).all()
    assert actions == ["consent.scope_granted", "consent.scope_ended", "consent.scope_granted"]


def test_only_staff_of_the_subjects_site_record_or_read_a_consent(trial):
    study, _site, subject, _nurse = trial
    elsewhere = make_user(roles=[(Role.NURSE, make_site("FR-32", study))])
    monitor = make_user(roles=[(Role.MONITOR, study)])
    with pytest.raises(Denied):
        consent_scope.put_in_force(_ctx(elsewhere), subject, _granted())
    with pytest.raises(Denied):
        consent_scope.put_in_force(_ctx(monitor), subject, _granted())
    with pytest.raises(Denied):
        consent_scope.in_force(_ctx(elsewhere), subject)
    assert consent_scope.in_force(_ctx(monitor), subject) is None  # status only, and allowed


def test_the_subject_page_shows_the_consent_and_its_options(client, trial):
    _study, _site, subject, nurse = trial
    login(client, nurse)
    page = client.get(f"/subjects/{subject.study_code}").get_data(as_text=True)
    assert "No consent is in force." in page
    consent_scope.put_in_force(
        _ctx(nurse), db.session.get(Subject, subject.id),
        _granted(biobank_storage=True, registry_transfer=False),
    )  # fmt: skip
    db.session.commit()
    page = client.get(f"/subjects/{subject.study_code}").get_data(as_text=True)
    assert "Consent of parents, version 1" in page
    assert "Storage of samples in the biobank: <strong>Yes</strong>" in page
    assert "Transfer to the registry: <strong>No</strong>" in page
