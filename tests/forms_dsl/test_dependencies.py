"""What an answer can change: the fields reading it, directly or through others, and no more."""

from __future__ import annotations

from forms_dsl.dependencies import affected, context_read, needed_to_show, readers
from tests.forms_dsl.helpers import CONTEXT, form

TEXT = """\
form: t
version: 1
title: T
sections:
  - id: main
    title: Main
    fields:
      - id: mycn
        type: choice
        label: MYCN
        choices: [{code: amp, label: Amp}, {code: no, label: No}]
      - {id: copies, type: decimal, label: Copies, show_if: "mycn == 'amp'"}
      - {id: high, type: calc, label: High, calc: "copies > 10"}
      - id: note
        type: text
        label: Note
        checks: [{when: "high and is_blank(note)", message: Say why}]
      - {id: seen, type: date, label: Seen, max: today()}
      - {id: weight, type: integer, label: Weight}
  - id: later
    title: Later
    show_if: "weight > 0"
    fields:
      - {id: visit, type: date, label: Visit, min: seen}
  - id: doses
    title: Doses
    repeat: {min: 0, max: 5}
    fields:
      - {id: dose, type: integer, label: Dose}
  - id: totals
    title: Totals
    fields:
      - {id: n_doses, type: calc, label: Doses given, calc: "count(doses)"}
      - {id: total, type: calc, label: Total, calc: "sum(dose)"}
"""


def test_an_answer_reaches_what_reads_it_through_visibility_calculations_and_checks():
    f = form(TEXT, context=CONTEXT)
    assert affected(f, "mycn") == {"mycn", "copies", "high", "note"}
    assert affected(f, "weight") == {"weight", "visit"}  # the section it shows
    assert affected(f, "seen") == {"seen", "visit"}  # a limit that reads it
    assert affected(f, "note") == {"note"}
    assert affected(f, "dose") == {"dose", "n_doses", "total"}  # the column and its section


AGE = '{id: age, type: calc, label: Age, calc: "age_months(date_of_birth, seen)"}'


def _after_weight(field: str) -> str:
    """TEXT with one more field in the main section, after `weight`."""
    weight = "{id: weight, type: integer, label: Weight}"
    return TEXT.replace(weight, f"{weight}\n      - {field}")


def test_a_form_names_the_context_values_it_reads_and_only_those():
    f = form(TEXT, context=CONTEXT)
    assert context_read(f) == frozenset()  # nothing here needs the birth date
    g = form(_after_weight(AGE), context=CONTEXT)
    assert context_read(g) == {"date_of_birth"}
    assert readers(g)["date_of_birth"] == {"age"}
    assert readers(g) is readers(g)  # worked out once per model: pages ask on every change


def test_a_value_is_needed_to_show_the_sections_that_read_it_or_decide_what_is_shown():
    reading = _after_weight(AGE)
    g = form(reading, context=CONTEXT)
    assert needed_to_show(g, "date_of_birth", {"main"})  # the age is computed there
    assert not needed_to_show(g, "date_of_birth", {"doses", "totals"})
    shown_by_age = reading.replace('show_if: "weight > 0"', 'show_if: "age > 12"')
    h = form(shown_by_age, context=CONTEXT)
    assert needed_to_show(h, "date_of_birth", {"doses"})  # which sections are shown depends on it


def test_a_new_message_is_not_a_new_value_for_what_reads_the_field():
    # `note`'s check reads `high`: the note gets a new message, nothing reading the note changes.
    noted = '{id: noted, type: calc, label: Noted, calc: "not is_blank(note)"}'
    g = form(_after_weight(noted), context=CONTEXT)
    assert affected(g, "copies") == {"copies", "high", "note"}  # not `noted`
    assert "noted" in affected(g, "note")  # a new note is a new value
