"""Fixtures for data-entry tests: a small stored study with one subject and their nurse."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from edc.access import Role
from edc.actor import Actor
from edc.context import Context
from edc.extensions import db
from edc.models.base import utcnow
from edc.services import entries
from edc.services.definitions import load_definition
from edc.web import app_context
from tests.factories import make_site, make_study, make_subject, make_user

STUDY = """\
study: {slug}
title: Test study
languages: [en]
context:
  date_of_birth: date
events:
  - id: baseline
    label: Baseline
    forms: [visit]
"""
FORM = """\
form: visit
version: 1
title: Visit
sections:
  - id: main
    title: Main
    fields:
      - id: visit_date
        type: date
        label: Visit date
        required: true
        max: today()
      - id: age
        type: calc
        label: Age (months)
        calc: "age_months(date_of_birth, visit_date)"
      - id: mycn
        type: choice
        label: MYCN
        required: true
        choices: [{code: amplified, label: Amplified}, {code: not_amplified, label: Not amplified}]
      - id: copies
        type: decimal
        label: Copies
        show_if: "mycn == 'amplified'"
        checks:
          - when: "copies <= 4"
            severity: warning
            message: More than 4 copies expected
      - id: weight
        type: integer
        label: Weight
  - id: doses
    title: Doses
    repeat: {min: 0, max: 3}
    fields:
      - id: dose_mg
        type: integer
        label: Dose (mg)
"""


def stored_study(tmp_path, slug: str, study_yaml: str, forms: dict[str, str]):
    """A study whose folder (study.yaml, `forms` by id) is written and stored, as `flask
    studies load` would."""
    study = make_study(slug)
    folder = tmp_path / slug
    (folder / "forms").mkdir(parents=True)
    (folder / "study.yaml").write_text(study_yaml.format(slug=study.slug))
    for form_id, text in forms.items():
        (folder / "forms" / f"{form_id}.yaml").write_text(textwrap.dedent(text))
    load_definition(app_context(Actor.cli()), study, folder, utcnow())
    db.session.commit()
    return study


@pytest.fixture
def entry_for(tmp_path):
    """A subject at a site, the study definition stored, and the nurse who enters data."""
    study = stored_study(tmp_path, "crf-test", STUDY, {"visit": FORM})
    site = make_site("FR-09", study)
    subject = make_subject(site, date_of_birth=dt.date(2025, 1, 10))
    nurse = make_user(roles=[(Role.NURSE, site)])

    def make(actor_user=None):
        entry = entries.open_entry(
            Context(db.session(), Actor(user=actor_user or nurse)), subject, "baseline", 1, "visit"
        )
        assert entry is not None
        return entry

    make.nurse = nurse
    make.subject = subject
    return make
