"""Runtime operations on values, total by design: anything unexpected gives blank or false.

Values come from people typing into forms (and from the application), so every operation here
accepts any `Value` — including values of the wrong type — and never raises. The rules:

- Blank is `None`; empty text and an empty multichoice answer count as blank too. A number whose
  magnitude exceeds 10^30 (or a Decimal NaN or infinity) also counts as blank, so no calculation
  can blow up in size or time.
- `True` is the only true condition: blank, false and non-yes/no values all count as false.
- Comparisons are false when either side is blank or the two sides are of different kinds
  (`==` and `!=` alike): `x != 3` is false when x is blank. Ordering (`<` …) applies to numbers,
  dates, date-times and times; text, codes and yes/no only support `==` and `!=`. A date and a
  date-time are different kinds.
- Arithmetic needs two numbers and gives blank otherwise; division by zero gives blank.
  int op int stays int except for `/`, which gives a Decimal (34 significant digits).
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Iterable
from decimal import ROUND_HALF_UP, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from typing import Any, Literal, TypeGuard

from forms_dsl.expr.limits import MAX_MAGNITUDE, MAX_MAGNITUDE_DECIMAL, MAX_ROUND_DIGITS
from forms_dsl.types import Value

Kind = Literal["blank", "bool", "number", "text", "datetime", "date", "time", "codes", "other"]
Number = int | Decimal

_CONTEXT = Context(prec=34, Emax=999_999, Emin=-999_999, traps=[InvalidOperation, DivisionByZero])
_CONTEXT.traps[Overflow] = True
_ROUNDING = Context(prec=100, Emax=999_999, Emin=-999_999, rounding=ROUND_HALF_UP)
_ROUNDING.traps[InvalidOperation] = True
_ORDERED_KINDS = frozenset({"number", "date", "datetime", "time"})
#: The order comparisons, for two values already known to be of one kind in _ORDERED_KINDS
#: (their static types are a union, which no single comparison accepts).
ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: bool(operator.lt(a, b)),
    "<=": lambda a, b: bool(operator.le(a, b)),
    ">": lambda a, b: bool(operator.gt(a, b)),
    ">=": lambda a, b: bool(operator.ge(a, b)),
}


def number(value: object) -> Number | None:
    """`value` as a number within the limits, else None (bools are not numbers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE else None
    if isinstance(value, Decimal):
        if not value.is_finite() or value.copy_abs() > MAX_MAGNITUDE_DECIMAL:
            return None
        return value
    return None


def kind(value: object) -> Kind:
    exact = _EXACT_KINDS.get(type(value))  # the common types first, without a chain of checks
    if exact is not None:
        return exact(value)
    if value is None:
        return "blank"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | Decimal):
        return "number" if number(value) is not None else "blank"
    if isinstance(value, str):
        return "text" if value else "blank"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dt.time):
        return "time"
    if isinstance(value, frozenset):
        return "codes" if value else "blank"
    return "other"


_EXACT_KINDS: dict[type, Callable[[object], Kind]] = {
    type(None): lambda _value: "blank",
    str: lambda value: "text" if value else "blank",
    bool: lambda _value: "bool",
    int: lambda value: "number" if number(value) is not None else "blank",
    Decimal: lambda value: "number" if number(value) is not None else "blank",
    dt.date: lambda _value: "date",
    dt.datetime: lambda _value: "datetime",
    dt.time: lambda _value: "time",
    frozenset: lambda value: "codes" if value else "blank",
}


def normal(value: object) -> Value:
    """`value` with every form of blank turned into None (and unknown types too)."""
    return value if _is_value(value) else None


def _is_value(value: object) -> TypeGuard[Value]:
    """Whether `value` is a non-blank value of one of the kinds above."""
    return kind(value) not in ("blank", "other")


def is_blank(value: object) -> bool:
    return kind(value) == "blank"


def truth(value: object) -> bool:
    """Conditions: only `True` is true."""
    return value is True


def compare(op: str, left: object, right: object) -> bool:
    """`left op right` with the blank and kind rules above; never raises."""
    k = kind(left)
    if k in ("blank", "other", "codes") or kind(right) != k:
        return False
    if op in ("==", "!="):
        try:
            equal = bool(left == right)
        except (TypeError, ValueError, ArithmeticError):
            return False
        return equal if op == "==" else not equal
    if k not in _ORDERED_KINDS or op not in ORDER:
        return False
    try:
        return ORDER[op](left, right)
    except (TypeError, ValueError, ArithmeticError):  # e.g. naive vs aware date-times
        return False


def member(left: object, items: Iterable[object]) -> bool:
    """`left in [items]`: false for a blank left side."""
    return any(compare("==", left, item) for item in items)


def arithmetic(op: str, left: object, right: object) -> Number | None:
    a, b = number(left), number(right)
    if a is None or b is None:
        return None
    try:
        if isinstance(a, int) and isinstance(b, int) and op != "/":
            result: Number = a + b if op == "+" else a - b if op == "-" else a * b
        else:
            x, y = Decimal(a), Decimal(b)
            if op == "/" and not y:
                return None
            operation = _DECIMAL_OPERATIONS[op]
            result = operation(x, y)
    except ArithmeticError:
        return None
    return number(result)


_DECIMAL_OPERATIONS: dict[str, Callable[[Decimal, Decimal], Decimal]] = {
    "+": _CONTEXT.add,
    "-": _CONTEXT.subtract,
    "*": _CONTEXT.multiply,
    "/": _CONTEXT.divide,
}


def negate(value: object) -> Number | None:
    n = number(value)
    return None if n is None else -n


def round_half_up(value: object, digits: object) -> Number | None:
    """Half away from zero (2.5 → 3, -2.5 → -3); whole numbers when `digits` is 0."""
    n = number(value)
    places = number(digits)
    if isinstance(places, Decimal) and places == places.to_integral_value():
        places = int(places)
    if n is None or not isinstance(places, int) or not 0 <= places <= MAX_ROUND_DIGITS:
        return None
    try:
        rounded = _ROUNDING.quantize(Decimal(n), Decimal(1).scaleb(-places))
    except ArithmeticError:
        return None
    return number(int(rounded) if places == 0 else rounded)


def as_date(value: object) -> dt.date | None:
    """Dates and date-times as calendar dates (the time of day is dropped)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return None


def extreme(values: Iterable[object], largest: bool) -> Value:
    """min/max of the non-blank values; blank if none, or if they are not all of one kind."""
    present = [v for v in values if not is_blank(v)]
    if not present:
        return None
    kinds = {kind(v) for v in present}
    if len(kinds) != 1 or not kinds <= _ORDERED_KINDS:
        return None
    better = ORDER[">" if largest else "<"]
    best = present[0]
    try:
        for value in present[1:]:
            if better(value, best):
                best = value
    except (TypeError, ValueError, ArithmeticError):  # e.g. naive vs aware date-times
        return None
    return normal(best)


def total(values: Iterable[object]) -> Number | None:
    """The sum of the numbers, skipping blanks; 0 for no numbers; blank if it overflows."""
    result: Number | None = 0
    for value in values:
        n = number(value)
        if n is not None:
            result = arithmetic("+", result, n)
            if result is None:
                return None
    return result
