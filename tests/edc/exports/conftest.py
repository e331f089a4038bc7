"""A small seeded study for the export tests: two sites, consented and unconsented subjects,
a form with every kind of item (an identifier item among them), a repeating section, an edit
with a reason and an investigator's signature."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from types import SimpleNamespace

import pyotp
import pytest
from sqlalchemy import func, select

from edc.access import Role
from edc.actor import Actor
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.models.subjects import Subject
from edc.services import consent_scope, data_entry, entries, exports, signing, withdrawals
from edc.services.consent_scope import Granted
from tests.edc.conftest import stored_study
from tests.factories import make_site, make_subject, make_user, portal_context

STUDY = """\
study: {slug}
title: {{en: Export test, fr: Test export}}
languages: [en, fr]
context:
  date_of_birth: date
events:
  - id: baseline
    label: {{en: Baseline, fr: Inclusion}}
    forms: [visit]
  - id: followup
    label: {{en: Follow-up, fr: Suivi}}
    repeating: true
    forms: [notes]
"""
VISIT = """\
form: visit
version: 1
title: {en: Visit, fr: Visite}
sections:
  - id: main
    title: {en: Main, fr: Principal}
    fields:
      - id: visit_date
        type: date
        label: {en: Visit date, fr: Date de visite}
        required: true
      - id: age
        type: calc
        label: {en: Age (months), fr: Âge (mois)}
        calc: "age_months(date_of_birth, visit_date)"
      - id: weight
        type: decimal
        label: {en: Weight, fr: Poids}
        unit: kg
        min: 0
        max: 200
      - id: delta
        type: decimal
        label: {en: Change, fr: Variation}
      - id: mycn
        type: choice
        label: {en: MYCN, fr: MYCN}
        choices:
          - {code: amplified, label: {en: Amplified, fr: Amplifié}}
          - {code: not_amplified, label: {en: Not amplified, fr: Non amplifié}}
      - id: symptoms
        type: multichoice
        label: {en: Symptoms, fr: Symptômes}
        choices:
          - {code: fever, label: {en: Fever, fr: Fièvre}}
          - {code: pain, label: {en: Pain, fr: Douleur}}
          - {code: other, label: {en: Other, fr: Autre}}
      - id: surgery
        type: yesno
        label: {en: Surgery, fr: Chirurgie}
      - id: comment
        type: text
        label: {en: Comment, fr: Commentaire}
      - id: referrer
        type: text
        label: {en: Referring physician, fr: Médecin référent}
        identifier: true
      - id: referrer_again
        type: calc
        label: {en: Referrer (copy), fr: Référent (copie)}
        calc: "referrer"
  - id: doses
    title: {en: Doses, fr: Doses}
    repeat: {min: 0, max: 5}
    fields:
      - id: drug
        type: text
        label: {en: Drug, fr: Médicament}
      - id: dose_mg
        type: integer
        label: {en: Dose, fr: Dose}
        unit: mg
      - id: contact
        type: text
        label: {en: Contact, fr: Contact}
        identifier: true
"""
NOTES = """\
form: notes
version: 1
title: {en: Notes, fr: Notes}
sections:
  - id: main
    title: {en: Main, fr: Principal}
    fields:
      - id: remark
        type: text
        label: {en: Remark, fr: Remarque}
"""
FORMULA = '=HYPERLINK("http://evil.example","x")'
REFERRER = "Dr Gregory Housemartin"
CONTACT = "Jeanne Contactiere"
VISIT_VALUES = {
    "visit_date": "2025-06-02", "weight": "12.50", "delta": "-3.250", "mycn": "amplified",
    "symptoms": ["fever", "pain"], "surgery": "yes", "comment": FORMULA, "referrer": REFERRER,
    "doses-0-drug": "Cisplatin", "doses-0-dose_mg": "10", "doses-0-contact": CONTACT,
    "doses-1-drug": "-Etoposide", "doses-1-dose_mg": "20",
}  # fmt: skip


def ctx_of(app, user, at=None):
    base = portal_context(app, Actor(user=user, ip="127.0.0.1"))
    moment = at or utcnow()
    return dataclasses.replace(base, clock=lambda: moment)


def subject_of(subject) -> Subject:
    found = db.session.get(Subject, subject.id)
    assert found is not None
    return found


def save(app, nurse, subject, event_id, number, form_id, posted, *, complete=True, reasons=None):
    ctx = ctx_of(app, nurse)
    entry = entries.open_entry(ctx, subject_of(subject), event_id, number, form_id)
    assert entry is not None
    asked = data_entry.SaveRequest(
        posted, expected_version=entry.row_version, complete=complete, reasons=reasons or {}
    )
    result = data_entry.save(ctx, entry, asked)
    assert result.outcome is data_entry.Outcome.SAVED, result
    db.session.commit()


def consent(app, nurse, subject, n):
    granted = Granted(
        reference=f"econsent:{subject.id}-{n}", document="parent_consent", title="Consent",
        version="1", language="fr", options={"registry_transfer": True}, since=utcnow(),
    )  # fmt: skip
    consent_scope.put_in_force(ctx_of(app, nurse), subject_of(subject), granted)
    db.session.commit()


def withdraw(app, nurse, subject, stops: str, option: str = "") -> None:
    """The parents withdraw (by letter, today): one optional item, or all further collection."""
    withdrawal = withdrawals.Withdrawal(
        stops=stops, option=option, withdrawn_by="parent", method="letter", on=dt.date.today()
    )
    withdrawals.withdraw(ctx_of(app, nurse), subject_of(subject), withdrawal)
    db.session.commit()


def sign(app, investigator, subject, event_id, number, form_id, minutes=1):
    at = utcnow() + dt.timedelta(minutes=minutes)
    ctx = ctx_of(app, investigator, at)
    target = signing.target(ctx, subject_of(subject), event_id, number, form_id)
    code = pyotp.TOTP(investigator.totp_plain).at(at)
    signing.sign(ctx, target, meaning="approve", password=investigator.password, code=code,
                 certify=True)  # fmt: skip
    db.session.commit()


def make_export_trial(app, tmp_path):
    #: Events before this are others' (committed tests leave theirs, and ids can be reused).
    since = db.session.scalar(select(func.max(AuditEvent.seq))) or 0
    study = stored_study(tmp_path, "exp-test", STUDY, {"visit": VISIT, "notes": NOTES})
    site, other = make_site("FR-01", study), make_site("IT-02", study)
    t = SimpleNamespace(app=app, study=study, site=site, other=other, since=since)
    t.nurse = make_user(roles=[(Role.NURSE, site)])
    t.other_nurse = make_user(roles=[(Role.NURSE, other)])
    t.investigator = make_user(roles=[(Role.INVESTIGATOR, site)])
    t.other_investigator = make_user(roles=[(Role.INVESTIGATOR, other)])
    t.data_manager = make_user(roles=[(Role.DATA_MANAGER, study)])
    t.first = make_subject(site, date_of_birth=dt.date(2024, 1, 10))
    t.unconsented = make_subject(site, family_name="Martin", date_of_birth=dt.date(2023, 3, 3))
    t.third = make_subject(other, family_name="Rossi", date_of_birth=dt.date(2022, 8, 8))
    consent(app, t.nurse, t.first, 1)
    consent(app, t.other_nurse, t.third, 1)
    save(app, t.nurse, t.first, "baseline", 1, "visit", VISIT_VALUES)
    changed = dict(VISIT_VALUES, weight="12.75")
    save(app, t.nurse, t.first, "baseline", 1, "visit", changed, reasons={"*": "scale checked"})
    save(app, t.nurse, t.first, "followup", 1, "notes", {"remark": "well"})
    save(app, t.nurse, t.unconsented, "baseline", 1, "visit", {"visit_date": "2025-06-03"})
    save(app, t.other_nurse, t.third, "baseline", 1, "visit",
         {"visit_date": "2025-07-01", "weight": "9"})  # fmt: skip
    sign(app, t.investigator, t.first, "baseline", 1, "visit")
    return t


@pytest.fixture
def trial(app, tmp_path):
    return make_export_trial(app, tmp_path)


def run(t, user, fmt: str, site: str | None = None) -> tuple[bytes, exports.Outcome]:
    """Export as `user`; the bytes written and the outcome (committed, like the CLI)."""
    ctx = ctx_of(t.app, user)
    out = io.BytesIO()
    outcome = exports.export(ctx, exports.scope(ctx, t.study.slug, site), fmt, out)
    db.session.commit()
    return out.getvalue(), outcome
