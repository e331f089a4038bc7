# ruff: noqa: E501 - each case is one YAML document on one line, easier to read whole
"""Author mistakes are caught at load time, each at its file, line and column, with a fix hint.

Line numbers refer to the YAML after `wrap()` (fields start on line 8, their keys in column 9).
"""

from __future__ import annotations

import textwrap

import pytest

from tests.forms_dsl.helpers import CONTEXT, FILE, located, problems, wrap

X = "- id: x\n  type: integer\n  label: X\n"
CHOICE = "- id: c\n  type: choice\n  label: C\n  choices:\n    - {code: a, label: A}\n"

CASES = [
    # (name, yaml, expected (code, line, column))
    (
        "bad indentation",
        "form: t\nversion: 1\ntitle: T\nsections:\n  - id: m\n   title: M\n",
        ("E101", 6, 4),
    ),
    ("duplicate key", wrap(X + "  label: Again\n"), ("E102", 11, 9)),
    ("unknown field key", wrap(X + "  lable: X\n"), ("E201", 11, 9)),
    ("unknown form key", "form: t\nversion: 1\ntitle: T\nsectons: []\n", ("E201", 4, 1)),
    ("missing field type", wrap("- id: x\n  label: X\n"), ("E202", 8, 9)),
    ("missing version", "form: t\ntitle: T\nsections: []\n", ("E202", 1, 1)),
    ("label is a list", wrap("- id: x\n  type: text\n  label: [X]\n"), ("E203", 10, 16)),
    ("bad field id", wrap("- id: Tumour-Size\n  type: text\n  label: X\n"), ("E204", 8, 13)),
    ("duplicate field id", wrap(X + X), ("E205", 11, 13)),
    (
        "duplicate section id",
        "form: t\nversion: 1\ntitle: T\nsections:\n  - id: m\n    title: M\n    fields: [{id: a, type: text, label: A}]\n  - id: m\n    title: M\n    fields: [{id: b, type: text, label: B}]\n",
        ("E206", 8, 9),
    ),
    ("unknown type", wrap("- id: x\n  type: integr\n  label: X\n"), ("E207", 9, 15)),
    ("version zero", "form: t\nversion: 0\ntitle: T\nsections: []\n", ("E208", 2, 10)),
    ("missing choices", wrap("- id: c\n  type: choice\n  label: C\n"), ("E213", 8, 9)),
    (
        "unknown choice list",
        wrap("- id: c\n  type: choice\n  label: C\n  choices: stages\n"),
        ("E211", 11, 18),
    ),
    ("duplicate choice code", wrap(CHOICE + "    - {code: a, label: A again}\n"), ("E212", 13, 20)),
    ("bad choice code", wrap(CHOICE + "    - {code: 'two words', label: B}\n"), ("E226", 13, 20)),
    ("bad regex", wrap("- id: x\n  type: text\n  label: X\n  pattern: '[A-Z'\n"), ("E214", 11, 18)),
    ("min above max", wrap(X + "  min: 10\n  max: 5\n"), ("E215", 12, 14)),
    ("option for another type", wrap(X + "  pattern: '[0-9]+'\n"), ("E216", 11, 9)),
    (
        "decimals out of range",
        wrap("- id: x\n  type: decimal\n  label: X\n  decimals: 20\n"),
        ("E225", 11, 19),
    ),
    ("default not a code", wrap(CHOICE + "  default: b\n"), ("E217", 13, 18)),
    ("calc without expression", wrap("- id: x\n  type: calc\n  label: X\n"), ("E218", 8, 9)),
    ("calc on a plain field", wrap(X + "  calc: '1 + 1'\n"), ("E218", 11, 9)),
    (
        "repeat min above max",
        "form: t\nversion: 1\ntitle: T\nsections:\n  - id: m\n    title: M\n    repeat: {min: 5, max: 2}\n    fields: [{id: a, type: text, label: A}]\n",
        ("E219", 7, 13),
    ),
    ("widget not for type", wrap(CHOICE + "  widget: slider\n"), ("E220", 13, 17)),
    (
        "bad severity",
        wrap(X + "  checks:\n    - when: 'x > 1'\n      severity: fatal\n      message: M\n"),
        ("E221", 13, 23),
    ),
    (
        "empty section",
        "form: t\nversion: 1\ntitle: T\nsections:\n  - id: m\n    title: M\n    fields: []\n",
        ("E223", 7, 13),
    ),
    (
        "bad terminology code",
        wrap(X + "  codes: [{system: snomed, code: '123'}]\n"),
        ("E224", 11, 26),
    ),
    ("show_if not yes/no", wrap(X + "  show_if: 'x + 1'\n"), ("E301", 11, 19)),
    (
        "calculation cycle",
        wrap(
            "- id: a\n  type: calc\n  calc: 'b + 1'\n  label: A\n- id: b\n  type: calc\n  calc: 'a + 1'\n  label: B\n"
        ),
        ("E302", 8, 9),
    ),
    ("show_if hides itself", wrap(X + "  show_if: 'x > 3'\n"), ("E303", 11, 19)),
    ("expression not text", wrap(X + "  show_if: true\n"), ("E304", 11, 18)),
    (
        "literal max of wrong type",
        wrap("- id: d\n  type: date\n  label: D\n  max: 12\n"),
        ("E305", 11, 14),
    ),
]


@pytest.mark.parametrize(("name", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_mistake_is_reported_at_its_place(name, text, expected):
    found = located(text)
    assert expected in found, f"{name}: {found}"


def test_at_least_thirty_distinct_mistakes_are_covered():
    assert len({c[2][0] for c in CASES}) >= 30


def test_every_problem_carries_a_fix_hint():
    for _name, text, expected in CASES:
        for problem in problems(text):
            if (problem.code.id, problem.location.line, problem.location.column) == expected:
                assert problem.fix
                assert str(problem).startswith(
                    f"{FILE}:{expected[1]}:{expected[2]}: {expected[0]}: "
                )


def test_a_file_with_several_mistakes_reports_all_of_them():
    text = wrap(
        "- id: x\n  type: integr\n  label: X\n"
        "- id: y\n  type: text\n  lable: Y\n"
        "- id: x\n  type: text\n  label: Again\n"
        "- id: z\n  type: text\n  label: Z\n  show_if: 'unknown_field == 1'\n"
    )
    codes = {code for code, _line, _col in located(text)}
    assert {"E207", "E201", "E205"} <= codes
    assert any(code.startswith("E4") for code in codes)  # the unknown name in show_if


def test_missing_and_unknown_translations():
    text = """\
    form: t
    version: 1
    title: {en: Test, fr: Test}
    sections:
      - id: m
        title: {en: Main, fr: Principal, xx: Nope}
        fields:
          - id: a
            type: text
            label: {en: A}
    """
    found = located(textwrap.dedent(text), languages=("en", "fr"))
    assert ("E210", 6, 38) in found
    assert ("E209", 10, 16) in found  # the label lacks French


def test_unknown_reference_and_type_mismatch_in_expressions_are_located():
    text = wrap(
        "- id: born\n  type: date\n  label: B\n"
        '- id: n\n  type: integer\n  label: N\n  show_if: "born > 3 and nope == 1"\n'
    )
    found = problems(text, context=CONTEXT)
    by_code = {p.code.id: p for p in found}
    assert len(found) >= 2
    assert all(p.location.line == 14 for p in found)
    columns = sorted(p.location.column for p in found)
    assert columns == [24, 32]  # the `>` comparing a date with a number; the unknown `nope`
    assert any("nope" in p.message for p in by_code.values())
