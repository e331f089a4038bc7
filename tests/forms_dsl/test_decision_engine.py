"""How `decide` reads conditions and values: ranges, lists, `any`, blanks, yes/no, bad values."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from decimal import Decimal
from textwrap import dedent

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forms_dsl.decision import DecisionTable, build_tables, decide, load_table_yaml
from forms_dsl.errors import Problems
from forms_dsl.source import parse
from forms_dsl.types import FieldInfo, VType
from tests.forms_dsl.test_decision_catalogue import DOMAINS, NUMBER, code, inrc, inrg

FIELDS = {"x": NUMBER, "kind": code("a", "b", "c"), "flag": FieldInfo(VType.BOOL)}


def one_row(condition: str) -> DecisionTable:
    """A table whose only row tests `x` (the missing complement is the only problem)."""
    text = dedent(
        f"""\
        t:
          title: {{en: T}}
          inputs: [x]
          outputs: {{out: {{en: Out}}}}
          rows:
            - id: hit
              when: {{x: {condition}}}
              then: {{out: "yes"}}
        """
    )
    problems = Problems()
    tables = build_tables(parse(text, "t.yaml"), FIELDS, ["en"], problems)  # type: ignore[arg-type]
    assert {e.code.id for e in problems} <= {"E521"}, [str(e) for e in problems]
    return tables["t"]


@pytest.mark.parametrize(
    ("condition", "inside", "outside"),
    [
        ('"<18"', [17, Decimal("17.99"), -5], [18, 19]),
        ('"<=1"', [1, Decimal("1.00"), Decimal("0.5")], [Decimal("1.0001"), 2]),
        ('">1"', [Decimal("1.01"), 3], [1, Decimal("1.000"), 0]),
        ('">=18"', [18, Decimal("18.0"), 400], [17, Decimal("17.999")]),
        ('"12..<18"', [12, 15, Decimal("17.9")], [Decimal("11.99"), 18, 30]),
        ('"12..18"', [12, 18], [Decimal("18.01"), 11]),
        ('"-2.5..<0.5"', [Decimal("-2.5"), 0], [Decimal("0.5"), -3]),
        ('"≥ 5"', [5, 6], [4]),
        ('"≤5"', [5, 4], [6]),
        ('"= 3"', [3, Decimal("3.00")], [Decimal("3.01")]),
        ("3", [3, Decimal("3.0")], [4]),
        ('"3"', [3], [2]),
        ('["<0", ">=10"]', [-1, 10, 11], [0, 5, Decimal("9.99")]),
        ("2.5", [Decimal("2.5"), Decimal("2.50")], [2]),
    ],
)
def test_numeric_conditions(condition, inside, outside):
    table = one_row(condition)
    for value in inside:
        assert decide(table, {"x": value}).classifiable, (condition, value)
    for value in outside:
        d = decide(table, {"x": value})
        assert (d.classifiable, d.status) == (False, "uncovered"), (condition, value)
        assert d.explanation == ("→ Not classifiable: no row of the table covers these values",)


def test_floats_are_compared_as_written_and_non_numbers_are_invalid():
    table = one_row('"<=1"')
    assert decide(table, {"x": 1.0}).classifiable
    assert not decide(table, {"x": 1.1}).classifiable
    for bad in (
        True,
        "1",
        float("nan"),
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        dt.date(2020, 1, 1),
        frozenset({"1"}),
    ):
        d = decide(table, {"x": bad})
        assert (d.status, d.invalid) == ("invalid", ("x",)), bad


def test_explanations_show_how_each_condition_was_met():
    table = load_table_yaml(
        dedent(
            """\
            t:
              title: {en: T}
              inputs: [x, kind, flag]
              outputs: {out: {en: Result}}
              rows:
                - id: r1
                  when: {x: "12..<18", kind: [a, b], flag: yes}
                  then: {out: first}
                - id: r2
                  when: {x: "12..<18", kind: [a, b], flag: no}
                  then: {out: second}
                - id: r3
                  when: {x: ["<12", ">=18"], kind: any}
                  then: {out: third}
                - id: r4
                  when: {x: "12..<18", kind: c}
                  then: {out: fourth}
            """
        ),
        "t.yaml",
        FIELDS,
        ["en"],
    )
    d = decide(table, {"x": 12, "kind": "b", "flag": True})
    assert d.explanation == (
        "x = 12 (12..<18)",
        "kind = b (one of a, b)",
        "flag = yes",
        "→ Result: first",
    )
    # `any` and omitted inputs are not explained, and match a blank value
    d = decide(table, {"x": Decimal("20.5")})
    assert (d.row, d.explanation) == ("r3", ("x = 20.5 (one of < 12, >= 18)", "→ Result: third"))


def test_blank_values_satisfy_only_any():
    table = load_table_yaml(
        dedent(
            """\
            t:
              title: {en: T}
              inputs: [kind, flag]
              outputs: {out: {en: Out}}
              rows:
                - {id: a, when: {kind: a, flag: any}, then: {out: "1"}}
                - {id: b, when: {kind: b}, then: {out: "2"}}
                - {id: c-yes, when: {kind: c, flag: true}, then: {out: "3"}}
                - {id: c-no, when: {kind: c, flag: false}, then: {out: "4"}}
            """
        ),
        "t.yaml",
        FIELDS,
        ["en"],
    )
    assert decide(table, {"kind": "a"}).outputs == {"out": "1"}
    assert decide(table, {"kind": "b", "flag": None}).outputs == {"out": "2"}
    for blank in (None, "", "  "):
        d = decide(table, {"kind": "c", "flag": blank})
        assert (d.status, d.missing) == ("incomplete", ("flag",))
    assert decide(table, {"kind": "", "flag": True}).missing == ("kind",)
    assert decide(table, {"kind": "c", "flag": "yes"}).outputs == {"out": "3"}
    assert decide(table, {"kind": "c", "flag": False}).outputs == {"out": "4"}


def test_yes_no_conditions_accept_yes_no_and_true_false_but_nothing_else():
    base = dedent(
        """\
        t:
          title: {en: T}
          inputs: [flag]
          outputs: {out: {en: Out}}
          rows:
            - {id: y, when: {flag: YES_VALUE}, then: {out: "1"}}
            - {id: n, when: {flag: NO_VALUE}, then: {out: "0"}}
        """
    )
    for yes, no in (("yes", "no"), ("true", "false"), ('"yes"', '"no"'), ("True", "No")):
        table = load_table_yaml(
            base.replace("YES_VALUE", yes).replace("NO_VALUE", no), "t.yaml", FIELDS, ["en"]
        )
        assert decide(table, {"flag": True}).row == "y"
        assert decide(table, {"flag": False}).row == "n"
    problems = Problems()
    node = parse(base.replace("YES_VALUE", "maybe").replace("NO_VALUE", "no"), "t.yaml")
    build_tables(node, FIELDS, ["en"], problems)  # type: ignore[arg-type]
    assert [(e.code.id, e.location.line, e.fix) for e in problems] == [
        ("E508", 6, "write `yes` or `no`")
    ]


def test_status_names_every_outcome():
    assert decide(inrg(), {"inrg_stage": "M", "age_months": 30}).status == "classified"
    assert decide(inrg(), {"inrg_stage": "MS", "age_months": 30}).status == "not_classifiable"
    assert decide(inrg(), {"inrg_stage": "M"}).status == "incomplete"
    assert decide(inrg(), {"inrg_stage": "L3"}).status == "invalid"


def test_an_invalid_value_off_the_path_does_not_block_the_decision():
    d = decide(inrg(), {"inrg_stage": "M", "age_months": 30, "histology": "teratoma"})
    assert (d.classifiable, d.outputs["group"], d.invalid) == (True, "P", ("histology",))


def test_row_order_carries_no_meaning():
    table = inrg()
    shuffled = dataclasses.replace(table, rows=tuple(reversed(table.rows)))
    for stage, age, hist, mycn, chr11q in itertools.product(
        ("L1", "L2", "M", "MS", None),
        (6, 12, 18, None),
        ("nb", "gn_maturing", None),
        ("gain", "amplified", None),
        ("yes", None),
    ):
        values = {
            "inrg_stage": stage,
            "age_months": age,
            "histology": hist,
            "mycn": mycn,
            "chr11q": chr11q,
            "grade": "differentiating",
            "dna_index": Decimal("1.1"),
        }
        assert decide(table, values) == decide(shuffled, values)


# -- properties ----------------------------------------------------------------------------------

NUMBERS = st.one_of(
    st.integers(-1000, 1000),
    st.decimals(min_value=-1000, max_value=1000, places=2),
    st.sampled_from([Decimal(0), Decimal(1), Decimal("1.00"), 12, 18, Decimal("17.99")]),
)
ANYTHING = st.one_of(
    st.none(),
    st.just(""),
    st.text(max_size=8),
    st.booleans(),
    NUMBERS,
    st.decimals(allow_nan=True, allow_infinity=True),
    st.floats(allow_nan=True, allow_infinity=True),
    st.dates(),
    st.frozensets(st.text(max_size=3), max_size=2),
)
TABLES = {"inrg": inrg, "inrc": inrc}


def valid_value(name: str) -> st.SearchStrategy:
    return st.sampled_from(DOMAINS[name]) if name in DOMAINS else NUMBERS


@st.composite
def any_case(draw, table_name: str) -> tuple[DecisionTable, dict]:
    table = TABLES[table_name]()
    values = {}
    for spec in table.inputs:
        values[spec.id] = draw(st.one_of(ANYTHING, valid_value(spec.id), st.none()))
    return table, values


@st.composite
def complete_case(draw, table_name: str) -> tuple[DecisionTable, dict]:
    table = TABLES[table_name]()
    return table, {spec.id: draw(valid_value(spec.id)) for spec in table.inputs}


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(TABLES)).flatmap(any_case), st.sampled_from(["en", "fr", "xx"]))
def test_decide_never_raises_and_always_explains(case, lang):
    table, values = case
    d = decide(table, values, lang)
    assert d.explanation
    assert d.status in {"classified", "not_classifiable", "incomplete", "invalid"}
    assert bool(d.outputs) == d.classifiable
    assert set(d.missing) <= {spec.id for spec in table.inputs}
    assert all(
        values.get(name) in (None, "") or not str(values[name]).strip() for name in d.missing
    )


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(TABLES)).flatmap(complete_case))
def test_every_complete_valid_case_is_classified_or_says_why(case):
    table, values = case
    d = decide(table, values)
    assert d.row is not None
    assert d.classifiable or (d.flags and d.flags[0] == table.row(d.row).not_classifiable)
    assert d.missing == ()
    assert d.invalid == ()


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(TABLES)).flatmap(complete_case), st.data())
def test_a_decision_on_partial_data_never_contradicts_the_complete_case(case, data):
    table, complete = case
    blanked = data.draw(st.sets(st.sampled_from([s.id for s in table.inputs])))
    partial = {k: (None if k in blanked else v) for k, v in complete.items()}
    d_partial, d_complete = decide(table, partial), decide(table, complete)
    if d_partial.row is not None:
        assert d_partial == d_complete
    else:
        assert d_partial.missing
        assert set(d_partial.missing) <= blanked


def test_explanations_can_speak_the_forms_words():
    from forms_dsl.decision import Wording

    text = dedent(
        """\
        t:
          title: {en: T}
          inputs: [kind, flag]
          outputs: {out: {en: Out}}
          rows:
            - id: ab
              when: {kind: [a, b], flag: true}
              then: {out: "x"}
            - id: rest
              when: {kind: [c], flag: any}
              then: {out: "y"}
            - id: no_flag
              when: {kind: [a, b], flag: false}
              then: {out: "z"}
        """
    )
    problems = Problems()
    table = build_tables(parse(text, "t.yaml"), FIELDS, ["en"], problems)["t"]  # type: ignore[arg-type]
    words = Wording(
        names={"kind": "Histology", "flag": "Reviewed"},
        codes={"kind": {"a": "Alpha", "b": "Beta"}, "flag": {"yes": "Yes", "no": "No"}},
    )
    said = decide(table, {"kind": "a", "flag": True}, "en", words).explanation
    assert said[:2] == ("Histology = Alpha (one of Alpha, Beta)", "Reviewed = Yes")
    assert decide(table, {"kind": "a", "flag": True}).explanation[0] == "kind = a (one of a, b)"
    waiting = decide(table, {"kind": "a"}, "en", words)
    assert waiting.explanation[-1] == "→ Not classifiable: missing Reviewed"
