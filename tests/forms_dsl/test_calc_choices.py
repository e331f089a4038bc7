"""Calculated codes: `choices` on a calc field name the codes it gives and their labels."""

from __future__ import annotations

import forms_dsl
from forms_dsl.types import VType
from tests.forms_dsl.helpers import located, one_field, wrap

MYCN = """\
- id: mycn
  type: choice
  label: MYCN
  choices: [{code: amp, label: Amplified}, {code: not_amp, label: Not amplified}]
"""
PROFILE = """\
- id: profile
  type: calc
  label: Profile
  calc: "{calc}"
  choices:
    - {{code: mycn_amplified, label: MYCN amplified}}
    - {{code: other, label: Other}}
"""


def test_a_calc_with_choices_gives_a_code_that_other_expressions_compare_with_its_codes():
    form = one_field(
        MYCN
        + PROFILE.format(calc="if(mycn == 'amp', 'mycn_amplified', 'other')")
        + "- {id: copies, type: decimal, label: Copies, show_if: \"profile == 'mycn_amplified'\"}\n"
    )
    profile = form.field("profile")
    assert profile.vtype is VType.CODE
    assert profile.choices is not None
    assert profile.choices.choices[0].label.get("en") == "MYCN amplified"
    result = forms_dsl.evaluate(form, {"mycn": "amp"})
    assert result.values["profile"] == "mycn_amplified"
    assert "copies" in result.shown
    assert "copies" not in forms_dsl.evaluate(form, {"mycn": "not_amp"}).shown


def test_a_result_that_is_not_a_choice_is_located_on_its_literal():
    text = wrap(MYCN + PROFILE.format(calc="if(mycn == 'amp', 'mycn_amplified', 'segmental')"))
    lines = text.splitlines()
    line = next(n for n, t in enumerate(lines, start=1) if "'segmental'" in t)
    assert located(text) == [("E308", line, lines[line - 1].index("'segmental'") + 1)]


def test_coalesce_results_are_checked_too():
    text = wrap(
        MYCN + PROFILE.format(calc="coalesce(if(mycn == 'amp', 'mycn_amplified', blank), 'x')")
    )
    assert [code for code, _line, _col in located(text)] == ["E308"]


def test_a_calc_with_choices_must_give_text():
    text = wrap(MYCN + PROFILE.format(calc="2 + 3"))
    assert [code for code, _line, _col in located(text)] == ["E307"]


def test_comparing_a_calculated_code_with_an_unknown_one_is_an_error():
    text = wrap(
        MYCN
        + PROFILE.format(calc="if(mycn == 'amp', 'mycn_amplified', 'other')")
        + "- {id: n, type: yesno, label: N, show_if: \"profile == 'segmental'\"}\n"
    )
    assert [code for code, _line, _col in located(text)] == ["E447"]


def test_a_calc_without_choices_still_gives_plain_text():
    form = one_field(
        MYCN + "- {id: t, type: calc, label: T, calc: \"if(mycn == 'amp', 'a', 'b')\"}\n"
    )
    assert form.field("t").vtype is VType.TEXT
    assert form.field("t").choices is None
