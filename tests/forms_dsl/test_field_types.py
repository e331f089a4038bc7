"""Every field type: what a browser posts becomes a typed value, or an error next to the field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from forms_dsl import evaluate
from forms_dsl.model import FieldType
from tests.forms_dsl.helpers import located, one_field, wrap

CHOICES = """
  choices:
    - {code: a, label: A}
    - {code: b, label: B}
"""


def _form(ftype: str, extra: str = ""):
    body = f"- id: x\n  type: {ftype}\n  label: X\n{extra}"
    return one_field(body)


@pytest.mark.parametrize(
    ("ftype", "extra", "posted", "value"),
    [
        ("text", "", "  hello ", "hello"),
        ("textarea", "", "line one\nline two", "line one\nline two"),
        ("integer", "", "42", 42),
        ("integer", "", "-7", -7),
        ("decimal", "  decimals: 2\n", "3,25", Decimal("3.25")),
        ("decimal", "", "0.5", Decimal("0.5")),
        ("date", "", "2026-02-28", dt.date(2026, 2, 28)),
        ("datetime", "", "2026-02-28T14:30", dt.datetime(2026, 2, 28, 14, 30)),
        ("time", "", "07:05", dt.time(7, 5)),
        ("yesno", "", "yes", True),
        ("yesno", "", "no", False),
        ("choice", CHOICES, "b", "b"),
        ("multichoice", CHOICES, ["a", "b"], frozenset({"a", "b"})),
    ],
)
def test_posted_strings_become_typed_values(ftype, extra, posted, value):
    result = evaluate(_form(ftype, extra), {"x": posted})
    assert result.errors == []
    assert result.values["x"] == value


@pytest.mark.parametrize(
    ("ftype", "extra", "posted", "kind"),
    [
        ("integer", "", "4.5", "integer"),
        ("integer", "", "twelve", "integer"),
        ("decimal", "  decimals: 1\n", "3.25", "decimals"),
        ("decimal", "", "1e5", "decimal"),
        ("date", "", "31/02/2026", "no_such_date"),
        ("date", "", "2026-02-30", "no_such_date"),
        ("date", "", "02/2026", "date"),
        ("datetime", "", "2026-02-28", "datetime"),
        ("time", "", "25:00", "time"),
        ("yesno", "", "maybe", "yesno"),
        ("choice", CHOICES, "z", "choice"),
        ("multichoice", CHOICES, ["a", "z"], "choice"),
    ],
)
def test_malformed_input_gives_an_error_on_that_field(ftype, extra, posted, kind):
    result = evaluate(_form(ftype, extra), {"x": posted})
    (issue,) = result.errors
    assert (issue.field, issue.kind) == ("x", kind)
    assert "x" not in result.values or result.values["x"] is None


def test_errors_are_in_the_reader_language():
    form = _form("integer", "  required: true\n")
    assert evaluate(form, {"x": ""}, lang="fr").errors[0].message == "Ce champ est obligatoire."
    assert (
        evaluate(form, {"x": "a"}, lang="de").errors[0].message == "Geben Sie eine ganze Zahl ein."
    )
    assert evaluate(form, {"x": ""}, lang="xx").errors[0].message == "This field is required."


def test_text_limits_pattern_and_length():
    form = _form("text", "  pattern: '[A-Z]{2}[0-9]{3}'\n  max_length: 5\n")
    assert evaluate(form, {"x": "FR123"}).errors == []
    assert [i.kind for i in evaluate(form, {"x": "fr123"}).errors] == ["pattern"]
    assert {i.kind for i in evaluate(form, {"x": "FR1234"}).errors} == {"pattern", "too_long"}


def test_a_pattern_message_says_in_the_authors_words_what_is_expected():
    plain = _form("text", "  pattern: '[0-9]{8}'\n")
    assert evaluate(plain, {"x": "12"}).errors[0].message == (
        "This answer does not have the expected format."
    )
    own = _form(
        "text", "  pattern: '[0-9]{8}'\n  pattern_message: Hospital numbers have 8 digits.\n"
    )
    assert evaluate(own, {"x": "12"}).errors[0].message == "Hospital numbers have 8 digits."
    assert evaluate(own, {"x": "12345678"}).errors == []


def test_a_pattern_message_without_a_pattern_is_located():
    text = wrap("- id: x\n  type: text\n  label: X\n  pattern_message: Eight digits.\n")
    assert located(text) == [("E227", 11, 9)]  # on the key


def test_numeric_and_date_limits_literal_and_expression():
    number = _form("decimal", "  min: 0\n  max: 10.5\n")
    assert evaluate(number, {"x": "10.5"}).errors == []
    assert [i.kind for i in evaluate(number, {"x": "10.6"}).errors] == ["max"]
    assert "at most 10.5" in evaluate(number, {"x": "11"}).errors[0].message
    when = _form("date", "  min: 2020-01-01\n  max: today()\n")
    today = dt.date(2026, 11, 27)
    assert evaluate(when, {"x": "2026-11-27"}, today=today).errors == []
    assert [i.kind for i in evaluate(when, {"x": "2026-11-28"}, today=today).errors] == ["max"]
    assert [i.kind for i in evaluate(when, {"x": "2019-12-31"}, today=today).errors] == ["min"]


def test_defaults_readonly_and_notes_are_part_of_the_model():
    form = one_field(
        """
        - id: n
          type: note
          label: Read the protocol first.
        - id: count
          type: integer
          label: Count
          default: 3
          readonly: true
        """
    )
    assert form.field("count").default == 3
    assert form.field("count").readonly
    assert form.field("n").type is FieldType.NOTE
    assert "n" not in evaluate(form, {"n": "typed into a note"}).values


def test_calc_fields_are_computed_never_read_from_the_input():
    form = one_field(
        """
        - id: weight
          type: decimal
          label: Weight (kg)
        - id: height
          type: decimal
          label: Height (m)
        - id: bmi
          type: calc
          decimals: 1
          calc: "weight / (height * height)"
          label: BMI
        """
    )
    result = evaluate(form, {"weight": "20", "height": "1.1", "bmi": "999"})
    assert result.values["bmi"] == Decimal("16.5")
    assert evaluate(form, {"weight": "20"}).values["bmi"] is None  # blank in, blank out


def test_unknown_keys_are_ignored_and_reported():
    result = evaluate(_form("text"), {"x": "a", "injected": "1", "main-0-x": "2"})
    assert result.values == {"x": "a"}
    assert result.unknown_keys == ["injected", "main-0-x"]


def test_now_and_today_are_the_entry_sites_clock():
    taken = _form("datetime", "  max: now()\n")
    at = dt.datetime(2026, 11, 28, 0, 30)  # half past midnight where the nurse is
    assert evaluate(taken, {"x": "2026-11-28T00:30"}, now=at).errors == []
    late = evaluate(taken, {"x": "2026-11-28T00:31"}, now=at)
    assert [i.kind for i in late.errors] == ["max"]
    seen = _form("date", "  max: today()\n")
    assert evaluate(seen, {"x": "2026-11-28"}, now=at).errors == []  # today follows now
