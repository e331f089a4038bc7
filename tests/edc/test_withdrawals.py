"""Withdrawal of consent: recorded by the site's staff with what it stops, who and how, it
governs entry and what a consent grants at once, and deletes nothing; a consent's last valid
day closes entry after it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from edc.access import Role
from edc.actor import Actor
from edc.context import Context
from edc.errors import Conflict, Denied
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.models.crf import ItemValue
from edc.models.subjects import Subject
from edc.services import consent_scope, withdrawals
from edc.services.withdrawals import Withdrawal
from tests.edc.test_consent_scope import _granted, _save, make_trial
from tests.factories import csrf, login, make_site, make_subject, make_user


@pytest.fixture
def trial(tmp_path):
    return make_trial(tmp_path)


def _ctx(user, clock=utcnow) -> Context:
    return Context(db.session(), Actor(user=user), clock=clock)


def _today() -> dt.date:
    return utcnow().date()


def _consented(trial_, **options):
    _study, _site, subject, nurse = trial_
    consent_scope.put_in_force(_ctx(nurse), subject, _granted(**options))
    _save(nurse, subject, "screening", {"eligible": "yes"})
    assert subject.status == "enrolled"
    db.session.commit()
    return subject, nurse


def _withdrawal_form(client, code, **fields):
    url = f"/subjects/{code}/withdrawal"
    data = {"withdrawn_by": "parent", "method": "letter", "withdrawn_on": _today().isoformat()}
    return client.post(url, data={**data, **fields, "csrf_token": csrf(client, url)})


def _values(subject) -> list[tuple[str, object]]:
    rows = db.session.execute(
        select(ItemValue.path, ItemValue.value).join(ItemValue.record).order_by(ItemValue.path)
    )
    return [tuple(r) for r in rows]


def test_withdrawing_the_registry_option_shows_at_once_and_leaves_the_rest(client, trial):
    subject, nurse = _consented(trial, registry_transfer=True, biobank_storage=True)
    assert consent_scope.allows(_ctx(nurse), subject, "registry_transfer")
    stored = _values(subject)
    login(client, nurse)
    done = _withdrawal_form(client, subject.study_code, stops="option", option="registry_transfer")
    assert done.status_code == 302
    assert done.location.endswith("#consent")

    page = client.get(f"/subjects/{subject.study_code}").get_data(as_text=True)
    assert 'data-option="registry_transfer" data-granted="no"' in page
    assert 'data-option="biobank_storage" data-granted="yes"' in page
    assert "withdrawn on" in page
    assert "One optional item" in page
    assert not consent_scope.allows(_ctx(nurse), subject, "registry_transfer")
    assert consent_scope.allows(_ctx(nurse), subject, "biobank_storage")
    assert _values(subject) == stored  # nothing deleted
    # entry goes on: only the option was withdrawn
    assert _save(nurse, subject, "visit", {"weight": "13"}).outcome.value == "saved"
    # the same withdrawal twice is refused, and the form offers only what is still granted
    again = _withdrawal_form(client, subject.study_code, stops="option", option="registry_transfer")
    assert again.status_code == 422
    assert 'value="registry_transfer"' not in again.get_data(as_text=True)


def test_stopping_all_further_collection_refuses_entry_and_withdraws_the_subject(client, trial):
    subject, nurse = _consented(trial, registry_transfer=True)
    _save(nurse, subject, "visit", {"weight": "12"})
    db.session.commit()
    stored = _values(subject)
    login(client, nurse)
    assert _withdrawal_form(client, subject.study_code, stops="all_collection").status_code == 302

    subject = db.session.get(Subject, subject.id)
    assert subject.status == "withdrawn"
    with pytest.raises(Conflict, match="withdrawn: nothing more can be entered"):
        _save(nurse, subject, "visit", {"weight": "14"})
    url = f"/subjects/{subject.study_code}/crf/baseline/1/visit"
    page = client.get(url).get_data(as_text=True)
    assert "Consent to further data collection was withdrawn" in page
    assert 'name="weight"' not in page
    refused = client.post(url, data={"weight": "15", "csrf_token": csrf(client, url)})
    assert refused.status_code == 409
    assert _values(subject) == stored
    # every option goes with it: nothing leaves the site any more
    assert not consent_scope.allows(_ctx(nurse), subject, "registry_transfer")


def test_stopping_visits_or_treatment_is_recorded_and_entry_goes_on(trial):
    subject, nurse = _consented(trial)
    withdrawals.withdraw(_ctx(nurse), subject, Withdrawal("visits", "patient", "phone", _today()))
    assert subject.status == "enrolled"
    assert _save(nurse, subject, "visit", {"weight": "12"}).outcome.value == "saved"
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "consent.withdrawn").order_by(
            AuditEvent.seq.desc()).limit(1)
    )  # fmt: skip
    assert event.new_value["stops"] == "visits"
    assert (event.new_value["withdrawn_by"], event.new_value["method"]) == ("patient", "phone")


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"stops": ""}, "stops", "Choose what the withdrawal stops"),
        ({"stops": "option", "option": "biobank_storage"}, "option", "optional items"),
        ({"stops": "visits", "withdrawn_on": "2999-01-01"}, "withdrawn_on", "future"),
        ({"stops": "visits", "method": "pigeon"}, "method", None),
        ({"stops": "visits", "withdrawn_on": ""}, "withdrawn_on", "Give the date"),
    ],
)
def test_a_withdrawal_that_makes_no_sense_is_refused_next_to_its_field(
    client, trial, fields, field, message
):
    subject, nurse = _consented(trial, registry_transfer=True)
    start = db.session.scalar(select(func.max(AuditEvent.seq))) or 0
    login(client, nurse)
    refused = _withdrawal_form(client, subject.study_code, note="Letter of 2 May", **fields)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert re.search(rf'id="{field}-error"', page)
    if message:
        assert message in page
    assert "Letter of 2 May" in page  # what was typed is kept
    count = (
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "consent.withdrawn", AuditEvent.seq > start)
    )
    assert db.session.scalar(count) == 0


def test_only_the_sites_consent_staff_record_withdrawals(app, trial):
    study = trial[0]
    subject, _nurse = _consented(trial)
    monitor = make_user(roles=[(Role.MONITOR, study)])
    elsewhere = make_user(roles=[(Role.NURSE, make_site("FR-33", study))])
    for user in (monitor, elsewhere):
        with pytest.raises(Denied):
            withdrawals.withdraw(
                _ctx(user), subject, Withdrawal("visits", "parent", "letter", _today())
            )
        client = app.test_client()
        login(client, user)
        assert client.get(f"/subjects/{subject.study_code}/withdrawal").status_code == 404
    client = app.test_client()
    login(client, monitor)
    page = client.get(f"/subjects/{subject.study_code}").get_data(as_text=True)
    assert "Record a withdrawal" not in page


def test_a_consent_stops_counting_after_its_last_valid_day(trial):
    subject, nurse = _consented(trial)
    last_day = _today() + dt.timedelta(days=30)
    consent_scope.limit(_ctx(nurse), subject, last_day, "new version approved")
    assert _save(nurse, subject, "visit", {"weight": "12"}).outcome.value == "saved"
    later = dt.datetime.combine(last_day + dt.timedelta(days=2), dt.time(12), dt.UTC)
    ctx = _ctx(nurse, clock=lambda: later)
    assert consent_scope.in_force(ctx, subject) is None
    assert "stopped counting" in consent_scope.entry_refusal(ctx, subject, _study(subject), "visit")
    assert consent_scope.entry_refusal(ctx, subject, _study(subject), "screening") == ""


def test_a_new_consent_after_a_withdrawn_option_starts_afresh(trial):
    subject, nurse = _consented(trial, registry_transfer=True)
    withdrawal = Withdrawal("option", "parent", "in_person", _today(), "registry_transfer")
    withdrawals.withdraw(_ctx(nurse), subject, withdrawal)
    assert not consent_scope.allows(_ctx(nurse), subject, "registry_transfer")
    consent_scope.put_in_force(_ctx(nurse), subject, _granted(2, registry_transfer=True))
    assert consent_scope.allows(_ctx(nurse), subject, "registry_transfer")
    page_history = withdrawals.withdrawals(_ctx(nurse), subject)
    assert [w.option for w in page_history] == ["registry_transfer"]  # kept in the history


def _study(subject):
    from edc.services.definitions import study_model

    return study_model(db.session, subject.study_id)


def test_the_subject_page_lists_every_consent_and_withdrawal(client, trial):
    subject, nurse = _consented(trial, registry_transfer=True)
    withdrawal = Withdrawal("option", "parent", "letter", _today(), "registry_transfer")
    withdrawals.withdraw(_ctx(nurse), subject, withdrawal)
    consent_scope.put_in_force(_ctx(nurse), subject, _granted(2, registry_transfer=False))
    db.session.commit()
    login(client, nurse)
    page = client.get(f"/subjects/{subject.study_code}").get_data(as_text=True)
    history = page[page.index('class="consent-history"') :]
    assert history.count("<tr><td>Consent of parents</td>") == 2
    assert "Transfer to the registry" in history  # what the first consent granted
    assert "Withdrawals" in page
    assert "A parent, by letter." in page


def test_exports_and_the_push_keep_only_subjects_whose_consent_grants_the_item(trial):
    study, site, subject, nurse = trial
    subject, nurse = _consented(trial, registry_transfer=True)
    refused = make_subject(site, family_name="Roux")
    consent_scope.put_in_force(_ctx(nurse), refused, _granted(2, registry_transfer=False))
    later = make_subject(site, family_name="Petit")
    consent_scope.put_in_force(_ctx(nurse), later, _granted(3, registry_transfer=True))
    make_subject(site, family_name="Blanc")  # no consent at all
    ctx = _ctx(nurse)
    assert consent_scope.subjects_allowing(ctx, study.id, "registry_transfer") == {
        subject.id,
        later.id,
    }
    withdrawal = Withdrawal("option", "parent", "letter", _today(), "registry_transfer")
    withdrawals.withdraw(ctx, later, withdrawal)
    assert consent_scope.subjects_allowing(ctx, study.id, "registry_transfer") == {subject.id}
    consent_scope.limit(ctx, subject, _today() - dt.timedelta(days=1), "grace date passed")
    assert consent_scope.subjects_allowing(ctx, study.id, "registry_transfer") == set()
