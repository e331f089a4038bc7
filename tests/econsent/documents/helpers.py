"""A small study folder in tmp_path (two languages), with one consent document of each audience
and a rule table for France, so each test changes one thing and reads what the checker says."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from econsent.documents import ConsentLibrary, load_consent
from forms_dsl import FormsDslError
from forms_dsl.errors import DslError

STUDY = """\
study: mini
title: {en: Mini, fr: Mini}
languages: [en, fr]
events: []
"""

PARENT = """\
document: parent_consent
audience: parent
title: {en: Consent, fr: Consentement}
versions:
  - version: 1
    effective: 2026-01-15
    approvals:
      - {country: FR, reference: "DEMO-1", approved: 2025-12-01}
    sections:
      - id: purpose
        title: {en: Purpose, fr: Objectif}
        body:
          en: |
            Why we **ask**.
          fr: |
            Pourquoi nous **demandons**.
    options:
      - id: biobank_storage
        label: {en: Keep samples, fr: Garder les échantillons}
    questions:
      - id: can_withdraw
        question: {en: "Can you withdraw?", fr: "Pouvez-vous vous retirer ?"}
        answers:
          - {id: "yes", label: {en: "Yes", fr: Oui}}
          - {id: "no", label: {en: "No", fr: Non}}
        correct: "yes"
"""

ADULT = """\
document: adult_consent
audience: adult
title: {en: Adult consent, fr: Consentement adulte}
versions:
  - version: 1
    effective: 2026-01-15
    approvals:
      - {country: FR, reference: "DEMO-2"}
    sections:
      - id: purpose
        title: {en: Purpose, fr: Objectif}
        body: {en: Why., fr: Pourquoi.}
"""

CHILD = """\
document: child_assent
audience: child
title: {en: Assent, fr: Assentiment}
versions:
  - version: 1
    effective: 2026-01-15
    approvals:
      - {country: FR, reference: "DEMO-3"}
    bands:
      - band: younger
        sections:
          - id: hello
            title: {en: Hello, fr: Bonjour}
            body: {en: Simple words., fr: Mots simples.}
      - band: older
        sections:
          - id: why
            title: {en: Why, fr: Pourquoi}
            body: {en: Plain words., fr: Mots clairs.}
"""

RULES = """\
version: 3
countries:
  FR:
    - effective: 2026-01-01
      source: "a source"
      parents: {required: 2, exceptions: [deceased, unknown]}
      age_of_majority: 18
      documents: {parent: parent_consent, adult: adult_consent}
      assent:
        - {ages: [6, 11], document: child_assent, band: younger, mode: verbal}
        - {ages: [12, 17], document: child_assent, band: older, mode: written}
      witness: [signer_cannot_read]
      remote_consent: false
      signatures: [wet_ink, ses]
"""

FILES = {
    "parent_consent.yaml": PARENT,
    "adult_consent.yaml": ADULT,
    "child_assent.yaml": CHILD,
    "rules.yaml": RULES,
}


def study(tmp_path: Path, **changed: str | None) -> Path:
    """The mini study; `changed` replaces a consent file's text (`rules="…"`, `parent_consent=…`)
    or, given None, leaves that file out."""
    root = tmp_path / "mini"
    (root / "consent").mkdir(parents=True)
    (root / "study.yaml").write_text(STUDY)
    for name, text in FILES.items():
        stem = name.removesuffix(".yaml")
        text = changed.get(stem, text)
        if text is not None:
            (root / "consent" / name).write_text(textwrap.dedent(text))
    return root


def library(tmp_path: Path, **changed: str | None) -> ConsentLibrary:
    return load_consent(study(tmp_path, **changed))


def problems(tmp_path: Path, **changed: str | None) -> list[DslError]:
    with pytest.raises(FormsDslError) as caught:
        load_consent(study(tmp_path, **changed))
    return list(caught.value.errors)


def located(tmp_path: Path, **changed: str | None) -> list[tuple[str, str, int, int]]:
    """(code, file name, line, column) of every problem."""
    return [
        (p.code.id, Path(p.location.file).name, p.location.line, p.location.column)
        for p in problems(tmp_path, **changed)
    ]
