"""Every load-time mistake in a decision table is reported with its code, line, column and a fix."""

from __future__ import annotations

from textwrap import dedent

import pytest

from forms_dsl.decision import build as decision_build
from forms_dsl.decision import build_tables, load_table_yaml
from forms_dsl.errors import DslError, ErrorCode, FormsDslError, Problems
from forms_dsl.source import parse
from forms_dsl.types import FieldInfo, VType
from tests.forms_dsl.test_decision_catalogue import NUMBER, code

LANGS = ("en", "fr")
FIELDS = {
    "stage": code("L1", "L2", "M", "MS"),
    "age": NUMBER,
    "mycn": code("amplified", "not_amplified"),
    "relapse": FieldInfo(VType.BOOL),
    "comment": FieldInfo(VType.TEXT),
    "site": FieldInfo(VType.CODE, repeat="metastases", codes=frozenset({"bone"})),
    "earlier_error": FieldInfo(VType.ANY),
}

BASE = dedent(
    """\
    risk:
      title: {en: Risk, fr: Risque}
      inputs: [stage, age]
      outputs:
        group: {en: Group, fr: Groupe}
      flags:
        review: {en: Review needed, fr: Revue nécessaire}
      rows:
        - id: young
          when: {stage: [L1, L2], age: "<18"}
          then: {group: low}
        - id: old
          when: {stage: [L1, L2], age: ">=18"}
          then: {group: high}
        - id: metastatic
          when: {stage: [M, MS]}
          not_classifiable: review
    """
)


def check(text: str, fields: dict[str, FieldInfo] = FIELDS) -> list[DslError]:
    problems = Problems()
    tables = build_tables(parse(text, "form.yaml"), fields, LANGS, problems)  # type: ignore[arg-type]
    assert isinstance(tables, dict)
    return sorted(problems, key=lambda e: (e.location, e.code.id))


def at(text: str, needle: str, nth: int = 1) -> tuple[int, int]:
    """1-based line and column of the nth occurrence of `needle`."""
    index = -1
    for _ in range(nth):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def edit(*pairs: str) -> str:
    text = BASE
    for old, new in zip(pairs[::2], pairs[1::2], strict=True):
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def test_the_base_table_is_clean():
    assert check(BASE) == []


# (case id, edited text, [(code, needle, nth)], a fragment of the first message or fix)
CASES = [
    (
        "wrong kind",
        edit("then: {group: low}", "then: low"),
        [("E203", "low\n", 1)],
        "`then` of row `young` must be a mapping of outputs, found text",
    ),
    (
        "unknown table key",
        edit("  inputs:", "  titel: {en: x, fr: y}\n  inputs:"),
        [("E201", "titel", 1)],
        "did you mean `title`?",
    ),
    (
        "unknown row key",
        edit("then: {group: high}", "than: {group: high}"),
        [("E201", "than", 1), ("E513", "id: old", 1)],
        "unknown key `than` in row `old`",
    ),
    (
        "missing title",
        edit("  title: {en: Risk, fr: Risque}\n", ""),
        [("E202", "inputs", 1)],
        "decision table `risk` needs `title`",
    ),
    (
        "missing row id",
        edit("- id: old\n      when", "- when"),
        [("E202", 'when: {stage: [L1, L2], age: ">=18"}', 1)],
        "a row needs `id`",
    ),
    (
        "unknown field",
        edit(
            "[stage, age]",
            "[stage, agee]",
            'age: "<18"',
            'agee: "<18"',
            'age: ">=18"',
            'agee: ">=18"',
        ),
        [("E504", "agee", 1)],
        "did you mean `age`?",
    ),
    (
        "field of the wrong type",
        edit("[stage, age]", "[stage, age, comment, site, earlier_error]"),
        [("E505", "comment", 1), ("E505", "site", 1)],
        "input `comment` is a text field",
    ),
    (
        "input listed twice",
        edit("[stage, age]", "[stage, age, stage]"),
        [("E506", "stage]", 1)],
        "input `stage` is listed twice",
    ),
    (
        "condition on an input not declared",
        edit('age: "<18"}', 'age: "<18", mycn: amplified}'),
        [("E507", "mycn", 1)],
        "add `mycn` to the table's `inputs`",
    ),
    (
        "value not a code of the input",
        edit('[L1, L2], age: "<18"', '[L1, L3], age: "<18"'),
        [("E508", "L3", 1)],
        "`L3` is not a value of `stage`",
    ),
    (
        "bad range syntax",
        edit('"<18"', '"<<18"'),
        [("E509", '"<<18"', 1)],
        "`<<18` is not a number or a range (for `age`)",
    ),
    (
        "range on a choice input",
        edit("{stage: [M, MS]}", '{stage: "<2"}'),
        [("E510", '"<2"', 1)],
        "list the values instead: `L1`, `L2`, `M`, `MS`",
    ),
    (
        "empty range",
        edit('"<18"', '"18..<12"'),
        [("E511", '"18..<12"', 1)],
        "the range `18..<12` contains no number",
    ),
    (
        "duplicate row id",
        edit("id: old", "id: young"),
        [("E512", "id: young", 2)],
        "row id `young` is used twice (first on line 9)",
    ),
    (
        "row without a result",
        edit("      then: {group: high}\n", ""),
        [("E513", "id: old", 1)],
        "add `then: {group: …}`",
    ),
    (
        "row with two results",
        edit("then: {group: low}", "then: {group: low}\n      not_classifiable: review"),
        [("E514", "not_classifiable", 1)],
        "row `young` has both `then` and `not_classifiable`",
    ),
    (
        "output not given",
        edit(
            "    group: {en: Group, fr: Groupe}",
            "    group: {en: Group, fr: Groupe}\n    risk: {en: Risk, fr: Risque}",
            "{group: low}",
            "{group: low, risk: low}",
        ),
        [("E515", "{group: high}", 1)],
        "row `old` gives no value for output `risk`",
    ),
    (
        "unknown output",
        edit("{group: low}", "{group: low, grupo: x}"),
        [("E516", "grupo", 1)],
        "did you mean `group`?",
    ),
    (
        "unknown flag",
        edit("then: {group: low}", "then: {group: low}\n      flags: [reviw]"),
        [("E517", "reviw", 1)],
        "did you mean `review`?",
    ),
    (
        "missing translation",
        edit("title: {en: Risk, fr: Risque}", "title: {en: Risk}"),
        [("E209", "{en: Risk}", 1)],
        "the title of `risk` has no fr text",
    ),
    (
        "language not of the study",
        edit("{en: Risk, fr: Risque}", "{en: Risk, fr: Risque, xx: Risk}"),
        [("E210", "xx", 1)],
        "`xx` is not a language of the study",
    ),
    (
        "overlapping rows",
        BASE
        + '    - id: extra\n      when: {stage: L1, age: "12..20"}\n      then: {group: low}\n',
        [("E520", "id: extra", 1), ("E520", "id: extra", 1)],
        "rows `young` and `extra` overlap: both match stage=L1, 12<=age<18",
    ),
    (
        "uncovered combination",
        edit("{stage: [M, MS]}", "{stage: M}"),
        [("E521", "rows:", 1)],
        "no row covers stage=MS",
    ),
    (
        "empty list",
        edit("{stage: [M, MS]}", "{stage: []}"),
        [("E523", "[]", 1)],
        "the empty list for `stage` matches no value",
    ),
    (
        "output value not declared",
        edit(
            "group: {en: Group, fr: Groupe}",
            "group:\n      label: {en: Group, fr: Groupe}\n      values: [low, high]",
            "{group: low}",
            "{group: lo}",
        ),
        [("E524", "lo}", 1)],
        "did you mean `low`?",
    ),
    (
        "no rows",
        BASE[: BASE.index("  rows:")] + "  rows: []\n",
        [("E525", "[]", 1), ("E527", "review:", 1)],
        "table `risk` has no rows",
    ),
    (
        "bad ids",
        edit("risk:", "Risk:", "id: old", "id: very old"),
        [("E526", "Risk", 1), ("E526", "very old", 1)],
        "`Risk` is not a valid table id",
    ),
    (
        "unused flag (warning)",
        edit("  rows:", "    spare: {en: Spare, fr: Réserve}\n  rows:"),
        [("E527", "spare", 1)],
        "flag `spare` is declared but no row uses it",
    ),
    (
        "unused input (warning)",
        edit("[stage, age]", "[stage, age, mycn]"),
        [("E528", "mycn", 1)],
        "input `mycn` is listed in `inputs` but no row tests it",
    ),
    (
        "any inside a list",
        edit("{stage: [M, MS]}", "{stage: [any, M]}"),
        [("E529", "any", 1)],
        "`any` inside a list (for `stage`)",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_mistake_is_reported_where_it_is(text, expected, fragment):
    errors = check(text)
    wanted = sorted((c, *at(text, needle, nth)) for c, needle, nth in expected)
    assert sorted((e.code.id, e.location.line, e.location.column) for e in errors) == wanted
    assert all(e.location.file == "form.yaml" for e in errors)
    assert any(fragment in f"{e.message} ({e.fix})" for e in errors), [str(e) for e in errors]


def test_overlap_names_both_rows_and_points_at_the_second():
    text = CASES[[c[0] for c in CASES].index("overlapping rows")][1]
    errors = check(text)
    assert [e.message for e in errors] == [
        "rows `young` and `extra` overlap: both match stage=L1, 12<=age<18",
        "rows `old` and `extra` overlap: both match stage=L1, 18<=age<=20",
    ]


def test_a_gap_lists_examples_and_counts_the_rest():
    text = edit(
        '{stage: [L1, L2], age: "<18"}',
        '{stage: L1, age: "<12"}',
        '{stage: [L1, L2], age: ">=18"}',
        '{stage: L2, age: ">=18"}',
        "{stage: [M, MS]}",
        '{stage: M, age: "1..5"}',
    )
    (error,) = check(text)
    assert error.code.id == "E521"
    # age is cut at 1, 5, 12 and 18 into 9 elementary intervals: 4 + 7 + 6 + 9 uncovered
    assert error.message == (
        "no row covers stage=L1, age>=12; stage=L2, age<18; stage=M, age<1 or age>5 "
        "and 1 more (26 uncovered combinations in all)"
    )


def test_a_row_that_tests_a_broken_input_adds_no_further_noise():
    text = edit(
        "[stage, age]", "[stage, age, comment]", "{stage: [M, MS]}", "{stage: [M, MS], comment: x}"
    )
    assert [e.code.id for e in check(text)] == ["E505"]


def test_several_mistakes_in_one_table_are_all_reported():
    text = dedent(
        """\
        risk:
          title: {en: Risk}
          inputs: [stage, agee, mycn]
          outputs:
            group: {en: Group, fr: Groupe}
          rows:
            - id: a
              when: {stage: [L1, L3], age: "<<18"}
              then: {group: low, colour: red}
            - id: a
              when: {stage: M, mycn: []}
            - id: c
              when: {stage: MS}
              not_classifiable: nope
        """
    )
    found = [(e.code.id, e.location.line, e.location.column) for e in check(text)]
    assert found == [
        ("E209", 2, 10),  # title without fr
        ("E504", 3, 19),  # agee: did you mean age?
        ("E508", 8, 26),  # L3
        ("E507", 8, 31),  # age is not an input (agee was meant)
        ("E516", 9, 26),  # colour
        ("E512", 10, 7),  # a again
        ("E513", 10, 7),  # no then
        ("E523", 11, 30),  # mycn: []
        ("E517", 14, 25),  # nope
    ]
    hints = {e.code.id: e.fix for e in check(text)}
    assert hints["E504"] == "did you mean `age`?"
    assert hints["E507"] == "add `age` to the table's `inputs`"


def test_decision_tables_must_be_a_mapping():
    problems = Problems()
    assert build_tables(parse("[a, b]", "f.yaml"), FIELDS, LANGS, problems) == {}  # type: ignore[arg-type]
    assert [(e.code.id, e.location.line) for e in problems] == [("E203", 1)]


def test_too_many_combinations_to_check(monkeypatch):
    monkeypatch.setattr(decision_build, "COVERAGE_LIMIT", 2)
    errors = check(BASE)
    assert [(e.code.id, *(e.location.line, e.location.column)) for e in errors] == [
        ("E522", *at(BASE, "rows:"))
    ]


def test_a_table_file_holds_exactly_one_table():
    with pytest.raises(FormsDslError) as caught:
        load_table_yaml(BASE + BASE.replace("risk:", "other:", 1), "t.yaml", FIELDS, LANGS)
    assert [(e.code.id, e.location.line) for e in caught.value.errors] == [("E530", 1)]
    assert "found 2 entries" in str(caught.value)


def test_load_table_yaml_raises_with_every_error_but_tolerates_warnings():
    with pytest.raises(FormsDslError) as caught:
        load_table_yaml(
            edit('L2], age: "<18"', 'L9], age: "<18"', "id: old", "id: o ld"),
            "t.yaml",
            FIELDS,
            LANGS,
        )
    assert [e.code.id for e in caught.value.errors] == ["E508", "E526"]
    table = load_table_yaml(edit("[stage, age]", "[stage, age, mycn]"), "t.yaml", FIELDS, LANGS)
    assert [r.id for r in table.rows] == ["young", "old", "metastatic"]


def test_every_decision_error_code_is_exercised():
    exercised = {c for case in CASES for c, _n, _nth in case[2]} | {"E522", "E530"}
    declared = {c.id for c in ErrorCode.all() if c.id.startswith("E5")}
    assert declared <= exercised  # shared codes (E2xx: keys, kinds, texts) are exercised too
    assert all(c.fix and c.message for c in ErrorCode.all() if c.id.startswith("E5"))
