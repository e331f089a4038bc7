"""Branching (show_if), edit checks (errors and warnings) and calculations working together."""

from __future__ import annotations

import datetime as dt

from forms_dsl import evaluate
from tests.forms_dsl.helpers import CONTEXT, form, one_field

MYCN = """
- id: mycn
  type: choice
  label: MYCN
  choices:
    - {code: amplified, label: Amplified}
    - {code: not_amplified, label: Not amplified}
- id: copies
  type: decimal
  label: Copies
  required: true
  show_if: "mycn == 'amplified'"
  checks:
    - when: "copies <= 4"
      severity: warning
      message: {en: More than 4 copies expected, fr: Plus de 4 copies attendues}
    - when: "copies > 400"
      message: {en: Implausible, fr: Invraisemblable}
"""


def _mycn():
    text = MYCN.replace("label: MYCN", "label: {en: MYCN, fr: MYCN}")
    for word in ("Amplified", "Not amplified", "Copies"):
        text = text.replace(f"label: {word}", f"label: {{en: {word}, fr: {word}}}")
    return one_field(text, languages=("en", "fr"))


def test_hidden_fields_are_not_stored_and_not_required():
    result = evaluate(_mycn(), {"mycn": "not_amplified", "copies": "12"})
    assert result.values == {"mycn": "not_amplified"}
    assert "copies" not in result.shown
    assert result.errors == []


def test_shown_fields_are_required_and_checked():
    form = _mycn()
    assert [i.kind for i in evaluate(form, {"mycn": "amplified"}).errors] == ["required"]
    result = evaluate(form, {"mycn": "amplified", "copies": "3"}, lang="fr")
    assert result.errors == []
    (warning,) = result.warnings
    assert (warning.field, warning.kind, warning.message) == (
        "copies",
        "copies.1",
        "Plus de 4 copies attendues",
    )
    assert [i.kind for i in evaluate(form, {"mycn": "amplified", "copies": "500"}).errors] == [
        "copies.2"
    ]


def test_a_check_on_a_blank_value_does_not_fire():
    result = evaluate(_mycn(), {"mycn": "amplified", "copies": ""})
    assert [i.kind for i in result.errors] == ["required"]
    assert result.warnings == []


def test_section_show_if_hides_all_its_fields():
    text = """\
    form: t
    version: 1
    title: T
    sections:
      - id: a
        title: A
        fields:
          - {id: sex, type: choice, label: Sex, choices: [{code: f, label: F}, {code: m, label: M}]}
      - id: pregnancy
        title: Pregnancy
        show_if: "sex == 'f'"
        fields:
          - {id: pregnant, type: yesno, label: Pregnant, required: true}
    """
    f = form(text)
    assert evaluate(f, {"sex": "m", "pregnant": "yes"}).values == {"sex": "m"}
    assert [i.kind for i in evaluate(f, {"sex": "f"}).errors] == ["required"]


def test_relevance_follows_calculations_and_chains():
    f = one_field(
        """
        - id: a
          type: integer
          label: A
        - id: doubled
          type: calc
          calc: "a * 2"
          label: Doubled
        - id: b
          type: text
          label: B
          show_if: "doubled > 10"
        - id: c
          type: text
          label: C
          show_if: "b == 'go'"
        """
    )
    assert evaluate(f, {"a": "6", "b": "go", "c": "x"}).values == {
        "a": 6,
        "doubled": 12,
        "b": "go",
        "c": "x",
    }
    hidden = evaluate(f, {"a": "2", "b": "go", "c": "x"})
    assert hidden.values == {"a": 2, "doubled": 4}  # b hidden, so c hidden too


def test_age_in_months_from_the_subject_context():
    f = one_field(
        """
        - id: diagnosed
          type: date
          label: Diagnosed
        - id: age
          type: calc
          calc: "age_months(date_of_birth, diagnosed)"
          label: Age
        """,
        context=CONTEXT,
    )
    result = evaluate(
        f, {"diagnosed": "2026-07-14"}, context={"date_of_birth": dt.date(2025, 1, 15)}
    )
    assert result.values["age"] == 17
    assert evaluate(f, {"diagnosed": "2026-07-14"}).values["age"] is None  # no birth date: blank
