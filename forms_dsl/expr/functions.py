"""The fixed set of functions: what each takes (for `check` and the documentation) and, for the
ones that only need their arguments' values, how they compute.

The aggregates (`count`, `sum`, `min`, `max`, `any`, `all`) see the rows of repeating groups,
`if`/`coalesce` evaluate lazily and `now` reads the scope's clock, so their evaluation lives in
`evaluate`; the rest are here.
Every function given a blank argument returns blank, except is_blank, coalesce, count, sum,
min/max (which skip blanks), if (a blank condition takes the else branch), any, all and count_if.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from forms_dsl.expr import values as v
from forms_dsl.expr.limits import MAX_ARGS
from forms_dsl.types import Value


@dataclass(frozen=True)
class Function:
    """One function of the language; `max_args` None means "any number" (up to MAX_ARGS)."""

    name: str
    min_args: int
    max_args: int | None
    signature: str  # how to write it, shown in fixes and documentation
    doc: str

    @property
    def arity(self) -> str:
        """The number of arguments in words, for messages: 'exactly 2 arguments'."""
        low, high = self.min_args, self.max_args
        if high == 0:
            return "no arguments"
        if high is None:
            return f"at least {low} argument{'s' if low != 1 else ''}"
        if low == high:
            return f"exactly {low} argument{'s' if low != 1 else ''}"
        return f"{low} or {high} arguments" if high == low + 1 else f"{low} to {high} arguments"

    def accepts(self, count: int) -> bool:
        return self.min_args <= count <= (self.max_args if self.max_args is not None else MAX_ARGS)


AGGREGATES = frozenset({"count", "sum", "min", "max"})  # take a repeat column as sole argument
ROW_CONDITIONS = frozenset({"any", "all", "count_if"})  # their condition runs once per row

FUNCTIONS: Mapping[str, Function] = MappingProxyType(
    {
        f.name: f
        for f in (
            Function("today", 0, 0, "today()", "The current date (the site's local date)."),
            Function(
                "now",
                0,
                0,
                "now()",
                "The current date and time, to the minute (the site's local time).",
            ),
            Function(
                "age_months",
                2,
                2,
                "age_months(date_of_birth, at)",
                "Completed calendar months from the first date to the second. A month is "
                "completed on the same day of a later month, or on the 1st of the month after "
                "when that month is shorter: born 31 Jan, at 29 Feb → 0, at 1 Mar → 1. Blank "
                "when `at` is earlier (there is no age before birth: a check on the dates says "
                "what is wrong). Date-times count by their date.",
            ),
            Function(
                "days_between",
                2,
                2,
                "days_between(a, b)",
                "b − a in calendar days (negative when b is earlier); date-times count by their "
                "date.",
            ),
            Function(
                "is_blank",
                1,
                1,
                "is_blank(x)",
                "True when x has no value (empty text and an empty multichoice count as blank).",
            ),
            Function(
                "selected",
                2,
                2,
                "selected(field, 'code')",
                "Whether a multichoice answer contains the code (for a single-choice field: "
                "whether it is that code). Blank when the field is blank.",
            ),
            Function(
                "count",
                1,
                1,
                "count(column), count(group) or count(multichoice_field)",
                "The number of non-blank values of a repeat column (for a multichoice column: of "
                "non-empty answers), of rows of a repeating group, or of codes chosen in a "
                "multichoice answer. Never blank.",
            ),
            Function(
                "sum",
                1,
                1,
                "sum(column)",
                "The total of a repeat column's numbers, skipping blanks; 0 when there are none.",
            ),
            Function(
                "min",
                1,
                None,
                "min(column) or min(a, b, …)",
                "The smallest of a repeat column's values or of the arguments (numbers, dates, "
                "date-times or times), skipping blanks; blank when all are blank.",
            ),
            Function(
                "max",
                1,
                None,
                "max(column) or max(a, b, …)",
                "The largest of a repeat column's values or of the arguments, skipping blanks; "
                "blank when all are blank.",
            ),
            Function(
                "round",
                1,
                2,
                "round(number, digits)",
                "The number rounded half away from zero (2.5 → 3, -2.5 → -3) to `digits` "
                "decimals (0 to 30, default 0: a whole number).",
            ),
            Function(
                "abs",
                1,
                1,
                "abs(number)",
                "The number without its sign, e.g. the size of a change whichever its direction.",
            ),
            Function(
                "coalesce",
                1,
                None,
                "coalesce(a, b, …)",
                "The first argument that is not blank (blank if all are).",
            ),
            Function(
                "if",
                3,
                3,
                "if(condition, value_if_true, value_if_false)",
                "value_if_true when the condition is true; otherwise (false or blank) "
                "value_if_false. Only the chosen branch is evaluated.",
            ),
            Function(
                "any",
                1,
                1,
                "any(condition)",
                "Whether the condition, on the fields of one repeating group, is true for at "
                "least one row (false when there are no rows).",
            ),
            Function(
                "all",
                1,
                1,
                "all(condition)",
                "Whether the condition, on the fields of one repeating group, is true for every "
                "row (true when there are no rows).",
            ),
            Function(
                "count_if",
                1,
                1,
                "count_if(condition)",
                "The number of rows of one repeating group for which the condition, on its "
                "fields, is true (0 when there are no rows).",
            ),
            Function("len", 1, 1, "len(text)", "The number of characters of a text."),
        )
    }
)


def age_months(born: object, at: object) -> int | None:
    start, end = v.as_date(born), v.as_date(at)
    if start is None or end is None:
        return None
    if end < start:
        return None  # no age before birth: never a negative age that a table would classify
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - 1 if end.day < start.day else months


def days_between(a: object, b: object) -> int | None:
    start, end = v.as_date(a), v.as_date(b)
    if start is None or end is None:
        return None
    return (end - start).days


def selected(answer: object, code: object) -> bool | None:
    if not isinstance(code, str) or v.is_blank(answer):
        return None
    if isinstance(answer, frozenset):
        return code in answer
    if isinstance(answer, str):
        return answer == code
    return None


def length(text: object) -> int | None:
    return len(text) if isinstance(text, str) and text else None


def _abs(args: Sequence[Value], today: dt.date) -> Value:
    number = v.number(args[0])
    if isinstance(number, int):  # one type at a time: abs() of int | Decimal loses the type
        return abs(number)
    return abs(number) if number is not None else None


def _round(args: Sequence[Value], today: dt.date) -> Value:
    return v.round_half_up(args[0], args[1] if len(args) > 1 else 0)


# Functions computed from their arguments' values alone (plus today's date).
PURE: Mapping[str, Callable[[Sequence[Value], dt.date], Value]] = MappingProxyType(
    {
        "today": lambda args, today: today,
        "age_months": lambda args, today: age_months(args[0], args[1]),
        "days_between": lambda args, today: days_between(args[0], args[1]),
        "is_blank": lambda args, today: v.is_blank(args[0]),
        "selected": lambda args, today: selected(args[0], args[1]),
        "round": _round,
        "abs": _abs,
        "len": lambda args, today: length(args[0]),
    }
)
