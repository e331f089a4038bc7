"""`required: "<condition>"`: an answer needed only while the condition holds."""

from __future__ import annotations

from forms_dsl import evaluate
from forms_dsl.dependencies import affected
from forms_dsl.diff import diff
from tests.forms_dsl.helpers import located, one_field, wrap

FIELDS = """\
- {id: ratio, type: decimal, label: MYCN/NAGK ratio}
- id: cutoff
  type: decimal
  label: Laboratory cut-off
  required: "not is_blank(ratio)"
"""


def test_the_answer_is_required_only_while_the_condition_holds():
    form = one_field(FIELDS)
    needed = evaluate(form, {"ratio": "2,5"})
    assert [(i.field, i.kind) for i in needed.errors] == [("cutoff", "required")]
    assert ("cutoff", None) in needed.required
    free = evaluate(form, {})
    assert free.errors == []  # a blank condition is not true
    assert ("cutoff", None) not in free.required
    assert evaluate(form, {"ratio": "2,5", "cutoff": "1,2"}).errors == []


def test_a_condition_that_is_not_yes_or_no_is_located():
    text = wrap(FIELDS.replace('"not is_blank(ratio)"', '"ratio + 1"'))
    lines = text.splitlines()
    line = next(n for n, t in enumerate(lines, start=1) if "ratio + 1" in t)
    assert [(code, at) for code, at, _col in located(text)] == [("E301", line)]


def test_the_condition_is_a_dependency_and_a_change_of_meaning():
    form = one_field(FIELDS)
    assert "cutoff" in affected(form, "ratio")  # the asterisk follows the ratio live
    plain = one_field(FIELDS.replace('required: "not is_blank(ratio)"', "required: true"))
    changes = diff(plain, form).changed
    assert [c.what for c in changes] == [
        "required True → False",
        "required when – → not is_blank(ratio)",
    ]
