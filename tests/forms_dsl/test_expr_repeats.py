"""Repeating groups: columns in aggregates, any/all per row, row scope, and column misuse."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from forms_dsl.expr import ExprProblem, Scope, check, evaluate, parse
from forms_dsl.types import FieldInfo, Value, VType

TODAY = dt.date(2024, 6, 15)

ENV = {
    "weight": FieldInfo(VType.NUMBER),
    "max_dose": FieldInfo(VType.NUMBER),
    "sites": FieldInfo(VType.CODES, codes=frozenset({"bone", "liver"})),
    "meds": FieldInfo(VType.GROUP),
    "drug": FieldInfo(VType.TEXT, repeat="meds"),
    "dose": FieldInfo(VType.NUMBER, repeat="meds"),
    "route": FieldInfo(VType.CODE, repeat="meds", codes=frozenset({"po", "iv"})),
    "started": FieldInfo(VType.DATE, repeat="meds"),
    "effects": FieldInfo(VType.CODES, repeat="meds", codes=frozenset({"rash", "fever"})),
    "scans": FieldInfo(VType.GROUP),
    "lesions": FieldInfo(VType.NUMBER, repeat="scans"),
}
GROUPS = {name: info.repeat for name, info in ENV.items() if info.repeat}

MEDS: list[dict[str, Value]] = [
    {"drug": "a", "dose": 10, "route": "po", "started": dt.date(2024, 1, 5), "effects": None},
    {"drug": "b", "dose": None, "route": "iv", "started": None, "effects": frozenset({"rash"})},
    {
        "drug": "c",
        "dose": Decimal("2.5"),
        "route": "po",
        "started": dt.date(2023, 12, 1),
        "effects": frozenset(),
    },
]
SCANS: list[dict[str, Value]] = [{"lesions": 1}, {"lesions": 4}]


def scope(meds: list[dict[str, Value]] = MEDS, **kwargs: object) -> Scope:
    values = {"weight": 20, "max_dose": 5, "sites": frozenset({"bone"})}
    return Scope(
        values=values,
        rows={"meds": meds, "scans": SCANS},
        groups=GROUPS,
        today=TODAY,
        **kwargs,  # type: ignore[arg-type]
    )


def ev(text: str, **kwargs: object) -> Value:
    return evaluate(parse(text), scope(**kwargs))


def problems(text: str, row_group: str | None = None) -> list[ExprProblem]:
    return check(parse(text), ENV, row_group=row_group)[1]


def codes(text: str, row_group: str | None = None) -> list[tuple[str, int]]:
    return [(p.code.id, p.offset) for p in problems(text, row_group)]


# -- aggregates ------------------------------------------------------------------------------


def test_count_of_a_group_counts_its_rows():
    assert ev("count(meds)") == 3
    assert ev("count(scans)") == 2
    assert ev("count(meds)", meds=[]) == 0
    assert check(parse("count(meds)"), ENV) == (VType.NUMBER, [])


def test_count_of_a_column_counts_non_blank_values():
    assert ev("count(dose)") == 2
    assert ev("count(drug)") == 3
    assert ev("count(effects)") == 1  # a multichoice column: non-empty answers
    assert ev("count(dose)", meds=[]) == 0


def test_sum_skips_blanks():
    assert ev("sum(dose)") == Decimal("12.5")
    assert ev("sum(lesions)") == 5
    assert ev("sum(dose)", meds=[]) == 0
    assert ev("sum(dose)", meds=[{"dose": None}]) == 0
    assert ev("sum(dose)", meds=[{"dose": 10**30}, {"dose": 1}]) is None  # overflow: blank


def test_min_and_max_of_a_column_skip_blanks():
    assert ev("min(dose)") == Decimal("2.5")
    assert ev("max(dose)") == 10
    assert ev("max(started)") == dt.date(2024, 1, 5)
    assert ev("min(dose)", meds=[{"dose": None}]) is None
    assert ev("max(dose)", meds=[]) is None
    assert check(parse("max(started)"), ENV) == (VType.DATE, [])
    assert check(parse("min(dose)"), ENV) == (VType.NUMBER, [])


def test_aggregates_in_larger_expressions():
    assert ev("sum(dose) / count(dose) > max_dose") is True
    assert ev("max(dose) > max_dose and count(meds) >= 3") is True
    assert check(parse("sum(dose) / weight"), ENV) == (VType.NUMBER, [])


def test_column_type_errors():
    assert codes("sum(drug)") == [("E450", 4)]
    assert codes("min(route)") == [("E450", 4)]
    assert codes("max(effects)") == [("E450", 4)]
    assert codes("count(drug) + count(effects) + count(meds)") == []


# -- any / all -------------------------------------------------------------------------------


def test_any_is_true_if_one_row_satisfies_the_condition():
    assert ev("any(dose > 5)") is True
    assert ev("any(dose > 50)") is False
    assert ev("any(dose > 5)", meds=[]) is False
    assert ev("any(route == 'iv' and is_blank(dose))") is True


def test_all_is_true_if_every_row_does_and_for_no_rows():
    assert ev("all(not is_blank(drug))") is True
    assert ev("all(dose > 1)") is False  # the blank dose is not > 1
    assert ev("all(dose > 1)", meds=[]) is True
    assert ev("all(lesions >= 1)") is True


def test_fields_outside_the_group_keep_their_top_level_values():
    assert ev("any(dose > max_dose)") is True
    assert ev("all(dose < weight or is_blank(dose))") is True
    assert check(parse("any(dose > max_dose)"), ENV) == (VType.BOOL, [])


def test_any_all_with_row_functions_and_codes():
    assert ev("any(selected(effects, 'rash'))") is True
    assert ev("all(route in ['po', 'iv'])") is True
    assert ev("any(days_between(started, today()) > 180)") is True
    assert codes("any(route == 'im')") == [("E447", 13)]
    assert codes("any(selected(effects, 'cough'))") == [("E447", 22)]


def test_aggregates_of_other_groups_inside_any():
    assert ev("any(dose > count(scans))") is True
    assert ev("any(lesions > max(dose))") is False
    assert codes("any(lesions > max(dose))") == []


def test_nested_any_binds_its_own_group():
    assert ev("any(dose > 5 and any(lesions > 3))") is True
    assert codes("any(dose > 5 and any(lesions > 3))") == []


def test_any_needs_exactly_one_group():
    problem = problems("any(weight > 3)")[0]
    assert (problem.code.id, problem.offset) == ("E453", 0)
    assert "any(dose > 10)" in problem.fix
    assert ev("any(weight > 3)") is None
    mixed = problems("all(dose > lesions)")[0]
    assert (mixed.code.id, mixed.offset) == ("E452", 0)
    assert mixed.message == "`all` mixes fields of repeating groups `meds`, `scans`"
    assert len(problems("all(dose > lesions)")) == 1  # no cascade of column errors
    assert ev("all(dose > lesions)") is None


def test_any_needs_a_condition():
    assert codes("any(dose)") == [("E449", 4)]


# -- columns outside aggregates --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "offset"),
    [
        ("dose > 3", 0),
        ("weight + dose", 9),
        ("is_blank(drug)", 9),
        ("sum(dose * 2)", 4),
        ("max(dose, 3)", 4),
        ("dose in [1, 2]", 0),
        ("selected(effects, 'rash')", 9),
        ("weight in [dose]", 11),
    ],
)
def test_a_column_outside_an_aggregate_is_an_error(text, offset):
    problem = problems(text)[0]
    assert (problem.code.id, problem.offset) == ("E451", offset)
    assert "one value per row" in problem.message
    assert "count(" in problem.fix
    assert "any(" in problem.fix
    ev(text)  # evaluates anyway, with the column as blank


def test_a_misused_column_evaluates_as_blank():
    assert ev("dose") is None
    assert ev("is_blank(drug)") is True
    assert ev("max(dose, 3)") == 3


def test_column_message():
    problem = problems("dose > 3")[0]
    assert problem.message == (
        "`dose` is a field of repeating group `meds` (one value per row), "
        "used here as a single value"
    )


# -- inside a row ----------------------------------------------------------------------------


def test_inside_a_row_its_fields_are_the_rows_values():
    row = MEDS[0]
    assert ev("dose > max_dose", row_group="meds", row=row) is True
    assert ev("route == 'po' and days_between(started, today()) > 100", row_group="meds", row=row)
    assert ev("is_blank(dose)", row_group="meds", row=MEDS[1]) is True
    assert codes("dose > max_dose and route == 'po'", row_group="meds") == []


def test_inside_a_row_other_groups_are_still_columns():
    assert ev("dose < sum(lesions)", row_group="meds", row=MEDS[0]) is False
    assert codes("dose < sum(lesions)", row_group="meds") == []
    assert codes("dose < lesions", row_group="meds") == [("E451", 7)]


def test_inside_a_row_the_groups_fields_are_not_aggregated():
    assert codes("sum(dose) > 1", row_group="meds") == [("E455", 4)]
    assert codes("any(dose > 1)", row_group="meds") == [("E453", 0)]
    assert codes("count(meds) > 1", row_group="meds") == []  # rows of the group: still fine
    assert ev("count(meds)", row_group="meds", row=MEDS[0]) == 3
    assert codes("count(effects) > 1", row_group="meds") == []  # this row's choices
    assert ev("count(effects)", row_group="meds", row=MEDS[1]) == 1


def test_row_scope_without_a_row_is_blank():
    assert ev("dose", row_group="meds") is None


def test_wrong_calls_with_columns_report_only_the_call():
    assert codes("count(dose, drug)") == [("E442", 0)]
    assert codes("sumif(dose > 1)") == [("E441", 0)]
