"""Evaluation: every operator, and the blank semantics spelled out in `evaluate`'s docstring."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from forms_dsl.expr import Scope, evaluate, parse
from forms_dsl.expr.nodes import Binary, Call, Name, Number
from forms_dsl.types import Value

TODAY = dt.date(2024, 6, 15)


def ev(text: str, **values: Value) -> Value:
    return evaluate(parse(text), Scope(values=values, today=TODAY))


# -- literals and names ----------------------------------------------------------------------


def test_literals():
    assert ev("12") == 12
    assert ev("3.5") == Decimal("3.5")
    assert ev("'x'") == "x"
    assert ev("true") is True
    assert ev("false") is False
    assert ev("blank") is None
    assert ev("null") is None


def test_names_read_the_values_and_missing_ones_are_blank():
    assert ev("weight", weight=12) == 12
    assert ev("weight") is None
    assert ev("weight", weight="") is None  # empty text is blank
    assert ev("sites", sites=frozenset()) is None  # so is an empty multichoice answer
    assert ev("sites", sites=frozenset({"a"})) == frozenset({"a"})


# -- arithmetic ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2", 3),
        ("5 - 7", -2),
        ("6 * 7", 42),
        ("7 / 2", Decimal("3.5")),
        ("6 / 3", 2),
        ("1.5 + 1", Decimal("2.5")),
        ("0.1 + 0.2", Decimal("0.3")),
        ("-3", -3),
        ("--3", 3),
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("10 - 4 - 3", 3),
        ("w / (h / 100) / (h / 100)", Decimal("16.0")),
    ],
)
def test_arithmetic(text, expected):
    result = ev(text, w=Decimal("16.0"), h=100)
    assert result == expected
    assert not isinstance(result, float | bool)


def test_int_arithmetic_stays_int_and_division_gives_decimal():
    assert isinstance(ev("2 * 3"), int)
    assert isinstance(ev("6 / 3"), Decimal)
    assert ev("1 / 3") == Decimal("0.3333333333333333333333333333333333")


def test_arithmetic_with_blank_or_non_numbers_is_blank():
    for text in ("x + 1", "1 - x", "x * 2", "x / 2", "2 / x", "-x"):
        assert ev(text) is None, text
        assert ev(text, x="text") is None, text
        assert ev(text, x=True) is None, text  # yes/no is not a number
        assert ev(text, x=TODAY) is None, text


def test_division_by_zero_is_blank():
    assert ev("1 / 0") is None
    assert ev("1 / x", x=Decimal("0.000")) is None
    assert ev("0 / 0") is None


def test_numbers_beyond_ten_to_the_thirty_become_blank():
    big = "1" + "0" * 29  # 10^29
    assert ev(f"{big} * 10") == 10**30
    assert ev(f"{big} * 11") is None
    assert ev(f"{big} * {big}") is None
    assert ev(f"-{big} * 100") is None
    assert ev("x + 0", x=10**31) is None
    assert ev("x", x=10**31) is None
    assert ev("x + 1", x=Decimal("1E+400")) is None
    assert ev("x + 1", x=Decimal("NaN")) is None
    assert ev("x + 1", x=Decimal("Infinity")) is None
    assert ev("x * 1", x=Decimal("1E-999999999")) == 0


def test_repeated_multiplication_cannot_blow_up():
    text = " * ".join(["x"] * 200)
    assert ev(text, x=10**29) is None
    assert ev(text, x=Decimal("1.5")) is None


# -- comparisons -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 == 1", True),
        ("1 == 1.0", True),
        ("1 != 2", True),
        ("1 != 1", False),
        ("1 < 2", True),
        ("2 <= 2", True),
        ("3 > 2.5", True),
        ("2 >= 3", False),
        ("'a' == 'a'", True),
        ("'a' != 'b'", True),
        ("'a' == 'A'", False),
        ("true == true", True),
        ("true != false", True),
    ],
)
def test_comparisons(text, expected):
    assert ev(text) is expected


def test_dates_datetimes_and_times_compare_among_themselves():
    d1, d2 = dt.date(2024, 1, 1), dt.date(2024, 2, 1)
    assert ev("a < b", a=d1, b=d2) is True
    assert ev("a == b", a=d1, b=dt.date(2024, 1, 1)) is True
    t1, t2 = dt.datetime(2024, 1, 1, 8), dt.datetime(2024, 1, 1, 9)
    assert ev("a >= b", a=t2, b=t1) is True
    assert ev("a <= b", a=dt.time(8), b=dt.time(9)) is True
    # a date and a date-time are different kinds: neither equal nor unequal
    assert ev("a == b", a=d1, b=dt.datetime(2024, 1, 1)) is False
    assert ev("a != b", a=d1, b=dt.datetime(2024, 1, 1)) is False
    assert ev("a < b", a=d1, b=t1) is False


def test_naive_and_aware_datetimes_do_not_raise():
    aware = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    naive = dt.datetime(2024, 1, 1)
    assert ev("a < b", a=aware, b=naive) is False
    assert ev("a == b", a=aware, b=naive) is False


def test_text_codes_and_yes_no_are_not_ordered():
    assert ev("'a' < 'b'") is False
    assert ev("true > false") is False


def test_comparisons_of_different_kinds_are_false():
    assert ev("x == 1", x="1") is False
    assert ev("x != 1", x="1") is False
    assert ev("x == 1", x=True) is False
    assert ev("x == 'a'", x=frozenset({"a"})) is False


def test_in_and_not_in():
    assert ev("x in [1, 2, 3]", x=2) is True
    assert ev("x in [1, 2, 3]", x=4) is False
    assert ev("x not in [1, 2, 3]", x=4) is True
    assert ev("x not in [1, 2, 3]", x=2) is False
    assert ev("x in ['L1', 'L2']", x="L2") is True
    assert ev("x in [y + 1]", x=3, y=2) is True
    assert ev("x in ['1', 1]", x=1) is True
    assert ev("x not in ['1']", x=1) is True  # different kinds never match


# -- logic -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "and_", "or_"),
    [
        (True, True, True, True),
        (True, False, False, True),
        (False, True, False, True),
        (False, False, False, False),
        (True, None, False, True),
        (None, True, False, True),
        (None, None, False, False),
        (1, True, False, True),  # only `true` is true
    ],
)
def test_and_or_always_give_yes_or_no(a, b, and_, or_):
    assert ev("a and b", a=a, b=b) is and_
    assert ev("a or b", a=a, b=b) is or_


def test_not():
    assert ev("not true") is False
    assert ev("not false") is True
    assert ev("not x") is True  # not blank is true
    assert ev("not x", x="text") is True
    assert ev("not not x") is False


def test_and_or_short_circuit():
    # the right side would be blank either way; this checks they are not needed
    assert ev("false and 1 / 0 == 1") is False
    assert ev("true or 1 / 0 == 1") is True


# -- blank semantics -------------------------------------------------------------------------


def test_every_comparison_with_blank_is_false():
    for op in ("==", "!=", "<", "<=", ">", ">="):
        assert ev(f"x {op} 1") is False, op
        assert ev(f"1 {op} x") is False, op
        assert ev(f"x {op} blank") is False, op
        assert ev(f"blank {op} blank") is False, op


def test_in_and_not_in_are_false_for_blank_but_not_of_in_is_true():
    assert ev("x in [1, blank]") is False
    assert ev("x not in [1]") is False
    assert ev("not (x in [1])") is True
    assert ev("x in [blank]", x=1) is False


def test_blank_counts_as_false_in_conditions():
    assert ev("x and true") is False
    assert ev("x or true") is True
    assert ev("if(x, 'yes', 'no')") == "no"


# -- robustness ------------------------------------------------------------------------------


def test_unchecked_expressions_evaluate_to_blank():
    assert ev("nosuch(1)") is None
    assert ev("round(1, 2, 3)") is None
    assert ev("today(1)") is None


def test_trees_built_by_hand_deeper_than_parse_allows_give_blank():
    deep: Name | Binary = Name("x")
    for _ in range(5_000):
        deep = Binary("+", deep, Number(1))
    assert evaluate(deep, Scope(values={"x": 1}, today=TODAY)) is None
    assert evaluate(Call("today"), Scope(today=TODAY)) == TODAY


def test_scope_defaults_and_immutability():
    scope = Scope(today=TODAY)
    assert (scope.values, scope.rows, scope.groups) == ({}, {}, {})
    with pytest.raises(AttributeError):
        scope.today = TODAY  # type: ignore[misc]
