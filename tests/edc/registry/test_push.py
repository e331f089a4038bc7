"""The registry push through the outbox: what a lock queues, what the worker sends, retries,
parking, consent asked again at send time, and a lifted lock (the registry is faked here; the
real process is in test_push_to_registry_process.py)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field, replace

import pytest
from sqlalchemy import func, select

from edc.access import Role
from edc.actor import Actor
from edc.context import Context
from edc.errors import Denied
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.models.registry import RegistryOutbox
from edc.registry import client, fhir_check, outbox, worker
from edc.services import consent_scope, data_entry, entries, locks, withdrawals
from edc.services.consent_scope import Granted
from edc.web import app_context
from tests.edc.conftest import stored_study
from tests.factories import make_site, make_subject, make_user

STUDY = """\
study: {slug}
title: {{en: Registry study, fr: Étude registre}}
languages: [en, fr]
registry:
  forms:
    diagnosis: [all, variant]
events:
  - id: baseline
    label: {{en: Baseline, fr: Inclusion}}
    forms: [diagnosis, local]
"""
DIAGNOSIS = """\
form: diagnosis
version: 3
title: {en: Diagnosis, fr: Diagnostic}
sections:
  - id: tumour
    title: {en: Tumour, fr: Tumeur}
    fields:
      - id: diagnosis_date
        type: date
        label: {en: Date of diagnosis, fr: Date du diagnostic}
      - id: stage
        type: choice
        label: {en: Stage, fr: Stade}
        choices:
          - {code: L1, label: {en: L1, fr: L1}}
          - {code: M, label: {en: M, fr: M}}
      - id: copies
        type: decimal
        label: {en: MYCN copies, fr: Copies MYCN}
      - id: variant
        type: text
        label: {en: ALK variant, fr: Variant ALK}
      - id: remarks
        type: textarea
        label: {en: Remarks, fr: Remarques}
      - id: physician
        type: text
        identifier: true
        label: {en: Referring physician, fr: Médecin référent}
  - id: mets
    title: {en: Metastases, fr: Métastases}
    repeat: {max: 5}
    fields:
      - id: where
        type: choice
        label: {en: Site, fr: Site}
        choices:
          - {code: bone, label: {en: Bone, fr: Os}}
          - {code: liver, label: {en: Liver, fr: Foie}}
"""
LOCAL = """\
form: local
version: 1
title: {en: Local, fr: Local}
sections:
  - id: main
    title: {en: Main, fr: Principal}
    fields:
      - id: weight
        type: integer
        label: {en: Weight, fr: Poids}
"""
POSTED = {
    "diagnosis_date": "2026-03-02",
    "stage": "M",
    "copies": "12.5",
    "variant": "F1174L",
    "remarks": "seen by Dr House on ward 4",
    "physician": "Dr Gregory House",
    "mets-0-where": "bone",
    "mets-1-where": "liver",
}


@dataclass
class Registry:
    """A registry stand-in: answers `status`, or raises when `down`; keeps what it received."""

    status: int = 200
    down: bool = False
    received: list[bytes] = field(default_factory=list)

    def __call__(self, _settings, body: bytes) -> client.Answer:
        if self.down:
            raise client.Unreachable("connection refused")
        self.received.append(body)
        return client.Answer(
            self.status, b'{"resourceType":"Bundle","type":"transaction-response"}'
        )

    def bundles(self) -> list[dict]:
        return [json.loads(body) for body in self.received]


@pytest.fixture
def trial(app, tmp_path):
    study = stored_study(tmp_path, "registry-test", STUDY, {"diagnosis": DIAGNOSIS, "local": LOCAL})
    site = make_site("FR-77", study)
    subject = make_subject(
        site, family_name="Lefèvre", given_names="Zoé", hospital_number="HN-99812"
    )
    nurse = make_user(roles=[(Role.NURSE, site)])
    manager = make_user(roles=[(Role.DATA_MANAGER, study)])
    settings = replace(app.config["EDC_SETTINGS"], registry_url="http://127.0.0.1:9")
    return study, site, subject, nurse, manager, settings


def _ctx(user, settings=None) -> Context:
    return Context(db.session(), Actor(user=user), settings=settings)


def _consent(subject, nurse, registry: bool = True) -> None:
    granted = Granted(
        reference=f"econsent:{subject.id}", document="parent_consent", title="Parents",
        version="2", language="fr", since=utcnow() - dt.timedelta(days=3),
        options={"registry_transfer": registry, "biobank_storage": True},
    )  # fmt: skip
    consent_scope.put_in_force(_ctx(nurse), subject, granted)


def _save(nurse, subject, form_id, posted, complete=True):
    entry = entries.open_entry(_ctx(nurse), subject, "baseline", 1, form_id)
    asked = data_entry.SaveRequest(posted, expected_version=entry.row_version, complete=complete)
    return data_entry.save(_ctx(nurse), entry, asked)


def _lock(manager, study, subject):
    target = locks.Target(locks.Level.SUBJECT, study, subject=subject)
    return locks.place(_ctx(manager), target, "ready for the registry")


def _rows(subject) -> list[RegistryOutbox]:
    query = select(RegistryOutbox).where(RegistryOutbox.subject_id == subject.id)
    return list(db.session.scalars(query.order_by(RegistryOutbox.id)))


def _push(settings, registry: Registry, at=None) -> worker.PassResult:
    ctx = app_context(worker_actor()).acting_as(worker_actor())
    ctx = replace(ctx, settings=settings, clock=(lambda: at) if at else utcnow)
    return worker.push_once(ctx, send=registry)


def worker_actor() -> Actor:
    return Actor(user=None, label="cli:registry-worker")


def _entered(trial, registry=True, complete=True):
    study, _site, subject, nurse, manager, _settings = trial
    _consent(subject, nurse, registry)
    _save(nurse, subject, "diagnosis", POSTED, complete=complete)
    _save(nurse, subject, "local", {"weight": "14"})
    return _lock(manager, study, subject)


def test_a_lock_queues_each_allow_listed_complete_record_in_its_own_transaction(trial):
    subject = trial[2]
    lock = _entered(trial)
    rows = _rows(subject)
    assert [(r.kind, r.state, r.lock_id) for r in rows] == [("record", "pending", lock.id)]
    db.session.rollback()  # the lock and its queue stand or fall together
    assert _rows(subject) == []


def test_a_draft_and_a_subject_without_registry_consent_queue_nothing(trial):
    _entered(trial, complete=False)
    assert _rows(trial[2]) == []
    other = make_subject(trial[1], family_name="Autre")
    _consent(other, trial[3], registry=False)
    _save(trial[3], other, "diagnosis", POSTED)
    _lock(trial[4], trial[0], other)
    assert _rows(other) == []


def test_the_worker_sends_one_valid_bundle_with_only_the_allowed_items(trial):
    subject, settings = trial[2], trial[5]
    _entered(trial)
    registry = Registry()
    result = _push(settings, registry)
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
    assert [r.state for r in _rows(subject)] == ["sent"]
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "registry.pushed")
    ).all()[-1]
    assert event.entity_id == subject.study_code


def test_the_same_record_sent_twice_sends_the_same_bytes(trial):
    study, _site, subject, _nurse, manager, settings = trial
    lock = _entered(trial)
    registry = Registry()
    _push(settings, registry)
    locks.lift(_ctx(manager), lock.id, "second look")
    _lock(manager, study, subject)
    _push(settings, registry)
    first, second = registry.received
    assert first == second
    assert {r.bundle_sha256 for r in _rows(subject)} == {hashlib.sha256(first).hexdigest()}


def test_an_unreachable_registry_is_tried_again_later_then_parked_and_retried(trial):
    study, _site, subject, _nurse, manager, settings = trial
    _entered(trial)
    settings = replace(settings, registry_max_attempts=3)
    down, now = Registry(down=True), utcnow()
    result = _push(settings, down, at=now)
    (row,) = _rows(subject)
    assert (result.failed, row.state, row.attempts) == (1, "pending", 1)
    assert row.next_attempt_at == now + dt.timedelta(seconds=30)
    assert _push(settings, down, at=now + dt.timedelta(seconds=29)).worked == 0  # not due yet
    _push(settings, down, at=now + dt.timedelta(seconds=31))
    assert row.next_attempt_at == now + dt.timedelta(seconds=31 + 60)  # doubled
    result = _push(settings, down, at=now + dt.timedelta(hours=1))
    assert (result.parked, row.state, row.attempts) == (1, "parked", 3)
    assert "connection refused" in row.last_error
    with pytest.raises(Denied):
        outbox.retry(_ctx(trial[3]), study, [row.id])
    assert outbox.retry(_ctx(manager), study, [row.id]) == 1
    assert _push(settings, Registry(), at=now + dt.timedelta(hours=2)).sent == 1
    assert row.state == "sent"


def test_a_refusal_by_the_registry_is_a_failure_not_a_send(trial):
    _entered(trial)
    result = _push(trial[5], Registry(status=400))
    (row,) = _rows(trial[2])
    assert (result.sent, result.failed, row.state) == (0, 1, "pending")
    assert row.last_error.startswith("HTTP 400")


def test_withdrawing_the_registry_option_sends_the_inactive_consent_and_then_nothing(trial):
    study, _site, subject, nurse, manager, settings = trial
    lock = _entered(trial)
    registry = Registry()
    _push(settings, registry)
    locks.lift(_ctx(manager), lock.id, "correction")
    _lock(manager, study, subject)  # queued again …
    withdrawal = withdrawals.Withdrawal(
        stops="option", option="registry_transfer", withdrawn_by="parent", method="letter",
        on=dt.date.today(),
    )  # fmt: skip
    withdrawals.withdraw(_ctx(nurse), subject, withdrawal)  # … then withdrawn before its turn
    result = _push(settings, registry)
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
        _ctx(manager),
        db.session.scalars(select(locks.DataLock).order_by(locks.DataLock.id.desc())).first().id,
        "again",
    )
    _lock(manager, study, subject)
    assert _push(settings, registry).worked == 0
    assert len(registry.received) == 2


def test_a_record_unlocked_before_its_turn_is_not_sent(trial):
    manager, settings = trial[4], trial[5]
    lock = _entered(trial)
    locks.lift(_ctx(manager), lock.id, "found an error")
    registry = Registry()
    result = _push(settings, registry)
    assert (result.cancelled, registry.received) == (1, [])
    assert [r.state for r in _rows(trial[2])] == ["cancelled"]


def test_nothing_is_sent_while_no_registry_is_configured(trial):
    _entered(trial)
    settings = replace(trial[5], registry_url="")
    registry = Registry()
    assert _push(settings, registry).worked == 0
    assert registry.received == []
    assert db.session.scalar(select(func.count()).select_from(RegistryOutbox)) >= 1
