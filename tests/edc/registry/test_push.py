"""The registry push through the outbox: what a lock queues, what the worker sends, retries,
parking, consent asked again at send time, and a lifted lock (the registry is faked here; the
real process is in test_push_to_registry_process.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from edc.errors import Denied
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.models.crf import EventOccurrence
from edc.models.monitoring import DataLock
from edc.models.registry import RegistryOutbox
from edc.registry import fhir_check, outbox
from edc.services import locks, withdrawals
from tests.edc.registry.trial import (
    POSTED,
    Registry,
    consent,
    ctx_of,
    entered,
    lock_subject,
    push,
    queued,
    save,
)
from tests.factories import make_subject


def test_a_lock_queues_each_allow_listed_complete_record_in_its_own_transaction(trial):
    subject = trial[2]
    lock = entered(trial)
    rows = queued(subject)
    assert [(r.kind, r.state, r.lock_id) for r in rows] == [("record", "pending", lock.id)]
    db.session.rollback()  # the lock and its queue stand or fall together
    assert queued(subject) == []


def test_a_draft_and_a_subject_without_registry_consent_queue_nothing(trial):
    entered(trial, complete=False)
    assert queued(trial[2]) == []
    other = make_subject(trial[1], family_name="Autre")
    consent(other, trial[3], registry=False)
    save(trial[3], other, "diagnosis", POSTED)
    lock_subject(trial[4], trial[0], other)
    assert queued(other) == []


def test_the_worker_sends_one_valid_bundle_with_only_the_allowed_items(trial):
    subject, settings = trial[2], trial[5]
    entered(trial)
    registry = Registry()
    result = push(settings, registry)
    assert (result.bundles, result.sent) == (1, 1)
    (bundle,) = registry.bundles()
    assert fhir_check.bundle_problems(bundle) == []
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds == [
        "Patient",
        "ResearchStudy",
        "Consent",
        "ResearchSubject",
        "QuestionnaireResponse",
    ]
    (response,) = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "QuestionnaireResponse"
    ]
    assert response["questionnaire"].endswith("/registry-test/Questionnaire/diagnosis|3")
    answered = {i["linkId"] for group in response["item"] for i in group["item"]}
    assert answered == {"diagnosis_date", "stage", "copies", "variant", "where"}
    assert [g["linkId"] for g in response["item"]] == ["tumour", "mets", "mets"]
    text = registry.received[0].decode()
    for secret in ("House", "Lefèvre", "Lefevre", "Zoé", "HN-99812", "ward 4"):
        assert secret not in text
    patient = bundle["entry"][0]["resource"]
    assert patient["identifier"] == [
        {"system": "https://fhir.siopen-edc.org/registry-test/subject", "value": subject.study_code}
    ]
    assert {e["url"].rsplit("/", 1)[1] for e in patient["extension"]} == {
        "linkage-token",
        "linkage-clk",
    }
    assert [r.state for r in queued(subject)] == ["sent"]
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "registry.pushed")
    ).all()[-1]
    assert event.entity_id == subject.study_code


def test_the_same_record_sent_twice_sends_the_same_bytes(trial):
    study, _site, subject, _nurse, manager, settings = trial
    lock = entered(trial)
    registry = Registry()
    push(settings, registry)
    locks.lift(ctx_of(manager), lock.id, "second look")
    lock_subject(manager, study, subject)
    push(settings, registry)
    first, second = registry.received
    assert first == second
    assert {r.bundle_sha256 for r in queued(subject)} == {hashlib.sha256(first).hexdigest()}


def test_an_unreachable_registry_is_tried_again_later_then_parked_and_retried(trial):
    study, _site, subject, _nurse, manager, settings = trial
    entered(trial)
    settings = replace(settings, registry_max_attempts=3)
    down, now = Registry(down=True), utcnow()
    result = push(settings, down, at=now)
    (row,) = queued(subject)
    assert (result.failed, row.state, row.attempts) == (1, "pending", 1)
    assert row.next_attempt_at == now + dt.timedelta(seconds=30)
    assert push(settings, down, at=now + dt.timedelta(seconds=29)).worked == 0  # not due yet
    push(settings, down, at=now + dt.timedelta(seconds=31))
    assert row.next_attempt_at == now + dt.timedelta(seconds=31 + 60)  # doubled
    result = push(settings, down, at=now + dt.timedelta(hours=1))
    assert (result.parked, row.state, row.attempts) == (1, "parked", 3)
    assert "connection refused" in row.last_error
    with pytest.raises(Denied):
        outbox.retry(ctx_of(trial[3]), study, [row.id])
    assert outbox.retry(ctx_of(manager), study, [row.id]) == 1
    assert push(settings, Registry(), at=now + dt.timedelta(hours=2)).sent == 1
    assert row.state == "sent"


def test_a_refusal_by_the_registry_is_a_failure_not_a_send(trial):
    entered(trial)
    result = push(trial[5], Registry(status=400))
    (row,) = queued(trial[2])
    assert (result.sent, result.failed, row.state) == (0, 1, "pending")
    assert row.last_error.startswith("HTTP 400")


def test_withdrawing_the_registry_option_sends_the_inactive_consent_and_then_nothing(trial):
    study, _site, subject, nurse, manager, settings = trial
    lock = entered(trial)
    registry = Registry()
    push(settings, registry)
    locks.lift(ctx_of(manager), lock.id, "correction")
    lock_subject(manager, study, subject)  # queued again …
    withdrawal = withdrawals.Withdrawal(
        stops="option", option="registry_transfer", withdrawn_by="parent", method="letter",
        on=dt.date.today(),
    )  # fmt: skip
    withdrawals.withdraw(ctx_of(nurse), subject, withdrawal)  # … then withdrawn before its turn
    result = push(settings, registry)
    assert (result.withheld, result.bundles) == (1, 1)
    last = registry.bundles()[-1]
    kinds = [e["resource"]["resourceType"] for e in last["entry"]]
    assert "QuestionnaireResponse" not in kinds
    (consent,) = [
        e["resource"] for e in last["entry"] if e["resource"]["resourceType"] == "Consent"
    ]
    assert consent["status"] == "inactive"
    denied = {
        p["code"][0]["coding"][0]["code"]: p["type"] for p in consent["provision"]["provision"]
    }
    assert denied["registry_transfer"] == "deny"
    assert "extension" not in last["entry"][0]["resource"]  # no linkage tokens any more
    locks.lift(
        ctx_of(manager),
        db.session.scalars(select(DataLock).order_by(DataLock.id.desc())).first().id,
        "again",
    )
    lock_subject(manager, study, subject)
    assert push(settings, registry).worked == 0
    assert len(registry.received) == 2


def test_a_record_unlocked_before_its_turn_is_not_sent(trial):
    manager, settings = trial[4], trial[5]
    lock = entered(trial)
    locks.lift(ctx_of(manager), lock.id, "found an error")
    registry = Registry()
    result = push(settings, registry)
    assert (result.cancelled, registry.received) == (1, [])
    assert [r.state for r in queued(trial[2])] == ["cancelled"]


def test_the_worker_reads_which_forms_are_locked_as_the_data_entry_check_does(trial):
    """`locked_forms` (one read for all a subject's forms, used by the worker) answers as
    `is_locked` (one form, used by data entry) for form, subject and lifted locks."""
    study, site, subject, nurse, manager, _settings = trial
    save(nurse, subject, "diagnosis", POSTED)
    save(nurse, subject, "local", {"weight": "14"})
    visit = db.session.scalars(
        select(EventOccurrence).where(EventOccurrence.subject_id == subject.id)
    ).one()
    forms = [(visit.id, "diagnosis"), (visit.id, "local")]
    ctx = ctx_of(manager)

    def agree() -> set:
        one_by_one = {f for f in forms if locks.is_locked(ctx, subject, *f)}
        assert locks.locked_forms(ctx, subject, forms) == one_by_one
        return one_by_one

    assert agree() == set()
    locks.place(ctx, locks.Target(locks.Level.FORM, study, site, subject, visit, "local"))
    assert agree() == {(visit.id, "local")}
    whole = lock_subject(manager, study, subject)
    assert agree() == set(forms)
    locks.lift(ctx, whole.id, "one answer to check")
    assert agree() == {(visit.id, "local")}


def test_nothing_is_sent_while_no_registry_is_configured(trial):
    entered(trial)
    settings = replace(trial[5], registry_url="")
    registry = Registry()
    assert push(settings, registry).worked == 0
    assert registry.received == []
    assert db.session.scalar(select(func.count()).select_from(RegistryOutbox)) >= 1


def test_once_the_registry_answers_again_the_waiting_backlog_is_due_at_once(trial):
    study, site, subject, nurse, manager, settings = trial
    entered(trial)
    start = utcnow()
    push(settings, Registry(down=True), at=start)
    (waiting,) = queued(subject)
    assert waiting.next_attempt_at == start + dt.timedelta(seconds=30)
    newcomer = make_subject(site, family_name="Neu")
    consent(newcomer, nurse)
    save(nurse, newcomer, "diagnosis", POSTED)
    lock_subject(manager, study, newcomer)
    back = start + dt.timedelta(seconds=5)
    result = push(settings, Registry(), at=back)
    assert (result.bundles, result.woken) == (1, 1)
    assert waiting.next_attempt_at == back
    assert push(settings, Registry(), at=back).bundles == 1
    assert waiting.state == "sent"


def test_a_registry_back_from_an_outage_is_noticed_before_the_waits_end(trial):
    settings = trial[5]
    entered(trial)
    start = utcnow()
    push(settings, Registry(down=True), at=start)
    (waiting,) = queued(trial[2])
    still_down = push(settings, Registry(down=True), at=start + dt.timedelta(seconds=10))
    assert (still_down.worked, waiting.attempts) == (0, 1)  # the probe failed: nothing changes
    back = start + dt.timedelta(seconds=12)
    noticed = push(settings, Registry(), at=back)
    assert (noticed.woken, noticed.bundles) == (1, 0)
    assert waiting.next_attempt_at == back
    assert push(settings, Registry(), at=back).bundles == 1
