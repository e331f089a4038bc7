"""Each function: its values, its handling of blank and of wrong types, and its documentation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from forms_dsl.expr import FUNCTIONS, Scope, evaluate, parse
from forms_dsl.expr.checker import _Checker
from forms_dsl.expr.functions import age_months
from forms_dsl.types import Value

TODAY = dt.date(2024, 6, 15)
D = dt.date


def ev(text: str, **values: Value) -> Value:
    return evaluate(parse(text), Scope(values=values, today=TODAY))


def test_the_function_set_is_documented_and_fully_checked():
    assert set(FUNCTIONS) == {
        "today",
        "now",
        "age_months",
        "days_between",
        "is_blank",
        "selected",
        "count",
        "sum",
        "min",
        "max",
        "round",
        "abs",
        "coalesce",
        "if",
        "any",
        "all",
        "count_if",
        "len",
    }
    assert set(_Checker({}).calls) == set(FUNCTIONS)
    for spec in FUNCTIONS.values():
        assert spec.doc.endswith(".")
        assert spec.signature.startswith(spec.name + "(")


def test_arity_in_words():
    assert FUNCTIONS["today"].arity == "no arguments"
    assert FUNCTIONS["len"].arity == "exactly 1 argument"
    assert FUNCTIONS["if"].arity == "exactly 3 arguments"
    assert FUNCTIONS["round"].arity == "1 or 2 arguments"
    assert FUNCTIONS["coalesce"].arity == "at least 1 argument"


def test_today():
    assert ev("today()") == TODAY


# -- age_months ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "at", "months"),
    [
        (D(2020, 1, 31), D(2020, 2, 29), 0),
        (D(2020, 1, 31), D(2020, 3, 1), 1),
        (D(2020, 1, 15), D(2020, 1, 15), 0),
        (D(2020, 1, 15), D(2020, 2, 14), 0),
        (D(2020, 1, 15), D(2020, 2, 15), 1),
        (D(2020, 1, 31), D(2020, 4, 30), 2),
        (D(2020, 1, 31), D(2020, 5, 1), 3),
        (D(2020, 2, 29), D(2021, 2, 28), 11),
        (D(2020, 2, 29), D(2021, 3, 1), 12),
        (D(2019, 12, 31), D(2020, 12, 31), 12),
        (D(2010, 6, 15), D(2024, 6, 15), 168),
        (D(2020, 3, 15), D(2020, 1, 20), None),  # `at` earlier: no age before birth
        (D(2020, 3, 15), D(2020, 1, 15), None),
    ],
)
def test_age_months_counts_completed_calendar_months(born, at, months):
    assert ev("age_months(b, a)", b=born, a=at) == months
    assert age_months(born, at) == months


def test_age_months_and_days_between_take_datetimes_by_their_date():
    born = dt.datetime(2020, 1, 31, 23, 59)
    assert ev("age_months(b, a)", b=born, a=dt.datetime(2020, 3, 1, 0, 1)) == 1
    assert ev("days_between(a, b)", a=born, b=D(2020, 2, 1)) == 1


def test_age_months_with_today():
    assert ev("age_months(dob, today())", dob=D(2023, 6, 16)) == 11


def test_days_between():
    assert ev("days_between(a, b)", a=D(2024, 1, 1), b=D(2024, 3, 1)) == 60
    assert ev("days_between(a, b)", a=D(2024, 3, 1), b=D(2024, 1, 1)) == -60
    assert ev("days_between(a, a)", a=D(2024, 3, 1)) == 0


@pytest.mark.parametrize("function", ["age_months", "days_between"])
def test_date_functions_with_blank_or_wrong_types_are_blank(function):
    assert ev(f"{function}(a, b)", a=D(2024, 1, 1)) is None
    assert ev(f"{function}(a, b)", b=D(2024, 1, 1)) is None
    assert ev(f"{function}(a, b)", a=D(2024, 1, 1), b=3) is None
    assert ev(f"{function}(a, b)", a="2024-01-01", b=D(2024, 1, 1)) is None
    assert ev(f"{function}(a, b)", a=dt.time(3), b=D(2024, 1, 1)) is None


# -- is_blank, selected, len -----------------------------------------------------------------


def test_is_blank():
    assert ev("is_blank(x)") is True
    assert ev("is_blank(x)", x="") is True
    assert ev("is_blank(x)", x=frozenset()) is True
    assert ev("is_blank(x)", x=0) is False
    assert ev("is_blank(x)", x=False) is False
    assert ev("is_blank(x)", x="a") is False
    assert ev("is_blank(1 / 0)") is True
    assert ev("not is_blank(x)", x=3) is True


def test_selected():
    sites = frozenset({"bone", "marrow"})
    assert ev("selected(s, 'bone')", s=sites) is True
    assert ev("selected(s, 'liver')", s=sites) is False
    assert ev("selected(s, 'M')", s="M") is True  # single choice: equals
    assert ev("selected(s, 'M')", s="L1") is False
    assert ev("selected(s, 'bone')") is None
    assert ev("selected(s, 'bone')", s=frozenset()) is None
    assert ev("selected(s, c)", s=sites) is None  # blank code
    assert ev("selected(s, 3)", s=sites) is None
    assert ev("selected(s, 'x')", s=3) is None
    assert ev("not selected(s, 'bone')") is True


def test_len():
    assert ev("len(t)", t="abc") == 3
    assert ev("len(t)", t="é") == 1
    assert ev("len(t)") is None
    assert ev("len(t)", t=12) is None


# -- count, sum, min, max on plain values ---------------------------------------------------


def test_count_of_a_multichoice_answer_counts_its_codes():
    assert ev("count(s)", s=frozenset({"a", "b", "c"})) == 3
    assert ev("count(s)", s=frozenset()) == 0
    assert ev("count(s)") == 0
    assert ev("count(s)", s="a") == 1  # unchecked use: one value


def test_min_and_max_of_values_skip_blanks():
    assert ev("min(3, 1, 2)") == 1
    assert ev("max(3, 1.5, 2)") == 3
    assert ev("max(a, b, 2)", b=Decimal("2.5")) == Decimal("2.5")
    assert ev("min(a, b)") is None
    assert ev("max(a, b)", a=D(2024, 1, 1), b=D(2023, 1, 1)) == D(2024, 1, 1)
    assert ev("min(a, b)", a=dt.time(9), b=dt.time(8)) == dt.time(8)
    assert ev("min(a, b)", a=D(2024, 1, 1), b=3) is None  # mixed kinds
    assert ev("min(a, b)", a="x", b="y") is None  # text is not ordered
    aware = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert ev("max(a, b)", a=aware, b=dt.datetime(2024, 1, 1)) is None


def test_sum_of_a_single_value():
    assert ev("sum(x)", x=3) == 3
    assert ev("sum(x)") is None
    assert ev("sum(x)", x="a") is None


# -- round -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("round(2.5)", 3),
        ("round(3.5)", 4),
        ("round(-2.5)", -3),
        ("round(2.4)", 2),
        ("round(2.45, 1)", Decimal("2.5")),
        ("round(2.449, 2)", Decimal("2.45")),
        ("round(7, 2)", Decimal("7.00")),
        ("round(1 / 3, 3)", Decimal("0.333")),
        ("round(12.5, 0)", 13),
        ("round(x)", None),
        ("round(2.5, x)", None),
        ("round(2.5, -1)", None),
        ("round(2.5, 1.5)", None),
        ("round(2.5, 31)", None),
        ("round(2.25, 1.0)", Decimal("2.3")),
        ("round('a')", None),
    ],
)
def test_round_half_up(text, expected):
    result = ev(text)
    assert result == expected
    if expected is not None:
        assert type(result) is type(expected)


def test_round_at_the_limits():
    nines = "9" * 30
    assert ev("round(x)", x=Decimal(nines + ".5")) == 10**30
    assert ev("round(x, 30)", x=Decimal("0." + nines)) == Decimal("0." + nines)
    assert ev("round(x, 2)", x=Decimal("1E-999999999")) == Decimal("0.00")


# -- coalesce and if -------------------------------------------------------------------------


def test_coalesce_takes_the_first_non_blank():
    assert ev("coalesce(a, b, 3)", b=2) == 2
    assert ev("coalesce(a, b, 3)") == 3
    assert ev("coalesce(a, b)") is None
    assert ev("coalesce(a, 'x')", a="") == "x"
    assert ev("coalesce(a)", a=False) is False


def test_if_takes_the_else_branch_unless_the_condition_is_true():
    assert ev("if(c, 1, 2)", c=True) == 1
    assert ev("if(c, 1, 2)", c=False) == 2
    assert ev("if(c, 1, 2)") == 2
    assert ev("if(c, 1, 2)", c="true") == 2
    assert ev("if(x > 3, 'big', 'small')", x=4) == "big"
    assert ev("if(true, blank, 2)") is None


def test_abs_gives_the_size_of_a_number_whatever_its_sign():
    assert ev("abs(x - y)", x=3, y=10) == 7
    assert ev("abs(x)", x=Decimal("-2.5")) == Decimal("2.5")
    assert ev("abs(x)", x=None) is None
    assert ev("abs(x - y) > 5", x=Decimal("1.5"), y=10) is True


def test_now_is_the_entry_sites_time_to_the_minute():
    at = dt.datetime(2024, 6, 15, 10, 30)
    scope = Scope(values={"taken": dt.datetime(2024, 6, 15, 11, 0)}, today=TODAY, now=at)
    assert evaluate(parse("now()"), scope) == at
    assert evaluate(parse("taken > now()"), scope) is True
    assert ev("now()") == dt.datetime(2024, 6, 15, 23, 59)  # no clock given: the day's last minute
