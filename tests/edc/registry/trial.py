"""A small study with an allow-listed form and a local one, a subject whose parents granted
registry transfer, and a registry stand-in: what the registry push tests share."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, replace

from sqlalchemy import select

from edc.access import Role
from edc.actor import Actor
from edc.context import Context
from edc.extensions import db
from edc.models.base import utcnow
from edc.models.registry import RegistryOutbox
from edc.registry import client, worker
from edc.services import consent_scope, data_entry, entries, locks
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

    def probe(self, _settings) -> bool:
        """Whether it answers its capability statement (the worker asks while rows wait)."""
        return not self.down

    def bundles(self) -> list[dict]:
        return [json.loads(body) for body in self.received]


def make_trial(app, tmp_path):
    """(study, site, subject, nurse, data manager, settings naming a registry)."""
    study = stored_study(tmp_path, "registry-test", STUDY, {"diagnosis": DIAGNOSIS, "local": LOCAL})
    site = make_site("FR-77", study)
    subject = make_subject(
        site, family_name="Lefèvre", given_names="Zoé", hospital_number="HN-99812"
    )
    nurse = make_user(roles=[(Role.NURSE, site)])
    manager = make_user(roles=[(Role.DATA_MANAGER, study)])
    settings = replace(app.config["EDC_SETTINGS"], registry_url="http://127.0.0.1:9")
    return study, site, subject, nurse, manager, settings


def ctx_of(user, settings=None) -> Context:
    return Context(db.session(), Actor(user=user), settings=settings)


def consent(subject, nurse, registry: bool = True) -> None:
    granted = Granted(
        reference=f"econsent:{subject.id}", document="parent_consent", title="Parents",
        version="2", language="fr", since=utcnow() - dt.timedelta(days=3),
        options={"registry_transfer": registry, "biobank_storage": True},
    )  # fmt: skip
    consent_scope.put_in_force(ctx_of(nurse), subject, granted)


def save(nurse, subject, form_id, posted, complete=True):
    entry = entries.open_entry(ctx_of(nurse), subject, "baseline", 1, form_id)
    asked = data_entry.SaveRequest(posted, expected_version=entry.row_version, complete=complete)
    return data_entry.save(ctx_of(nurse), entry, asked)


def lock_subject(manager, study, subject):
    target = locks.Target(locks.Level.SUBJECT, study, subject=subject)
    return locks.place(ctx_of(manager), target, "ready for the registry")


def queued(subject) -> list[RegistryOutbox]:
    query = select(RegistryOutbox).where(RegistryOutbox.subject_id == subject.id)
    return list(db.session.scalars(query.order_by(RegistryOutbox.id)))


def push(settings, registry: Registry, at=None) -> worker.PassResult:
    ctx = app_context(worker_actor()).acting_as(worker_actor())
    ctx = replace(ctx, settings=settings, clock=(lambda: at) if at else utcnow)
    return worker.push_once(ctx, send=registry, probe=registry.probe)


def worker_actor() -> Actor:
    return Actor(user=None, label="cli:registry-worker")


def entered(trial, registry=True, complete=True):
    study, _site, subject, nurse, manager, _settings = trial
    consent(subject, nurse, registry)
    save(nurse, subject, "diagnosis", POSTED, complete=complete)
    save(nurse, subject, "local", {"weight": "14"})
    return lock_subject(manager, study, subject)
