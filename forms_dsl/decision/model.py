"""The frozen model of a decision table: inputs, conditions, rows, outputs and flags.

Kept apart from the loader (`build`) and the evaluator (`engine`) so that both share the exact
same condition semantics: a condition is tested the same way at load time (overlap and coverage)
and at data entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from forms_dsl.errors import NOWHERE, Location
from forms_dsl.text import EMPTY, Text
from forms_dsl.types import Value, VType

CodeValue = str | bool  # a choice code, or true/false for a yes/no input


@dataclass(frozen=True)
class InputSpec:
    """One input of a table: a choice (finite `codes`), a yes/no, or a number (integer/decimal).

    Yes/no inputs take `true`/`false` in the YAML (`yes`/`no` are accepted as synonyms because the
    YAML reader keeps them as text), and Python booleans at data entry.
    """

    id: str
    vtype: VType
    codes: tuple[str, ...] = ()
    loc: Location = NOWHERE

    @property
    def numeric(self) -> bool:
        return self.vtype is VType.NUMBER

    @property
    def domain(self) -> tuple[CodeValue, ...]:
        """Every possible value of a finite input (numbers are split into intervals instead)."""
        if self.vtype is VType.BOOL:
            return (True, False)
        return self.codes


@dataclass(frozen=True, order=True)
class Interval:
    """The numbers between two bounds; a `None` bound is unbounded (its `closed` flag is unused)."""

    low: Decimal | None
    low_closed: bool
    high: Decimal | None
    high_closed: bool

    def contains(self, x: Decimal) -> bool:
        if self.low is not None and (x < self.low or (x == self.low and not self.low_closed)):
            return False
        return not (
            self.high is not None and (x > self.high or (x == self.high and not self.high_closed))
        )

    @property
    def empty(self) -> bool:
        if self.low is None or self.high is None:
            return False
        return self.low > self.high or (
            self.low == self.high and not (self.low_closed and self.high_closed)
        )

    def intersect(self, other: Interval) -> Interval:
        low, low_closed = self.low, self.low_closed
        if other.low is not None and (
            low is None or other.low > low or (other.low == low and not other.low_closed)
        ):
            low, low_closed = other.low, other.low_closed
        high, high_closed = self.high, self.high_closed
        if other.high is not None and (
            high is None or other.high < high or (other.high == high and not other.high_closed)
        ):
            high, high_closed = other.high, other.high_closed
        return Interval(low, low_closed, high, high_closed)

    def sample(self) -> Decimal:
        """A number inside the (non-empty) interval, for examples in messages."""
        if self.low is not None and self.low_closed:
            return self.low
        if self.high is not None and self.high_closed:
            return self.high
        if self.low is not None and self.high is not None:
            return (self.low + self.high) / 2
        if self.low is not None:
            return self.low + 1
        if self.high is not None:
            return self.high - 1
        return Decimal(0)

    def describe(self, name: str) -> str:
        """`name` constrained by the interval, e.g. `12<=age_months<18` or `age_months=12`."""
        lo, hi = self.low, self.high
        below = "<=" if self.high_closed else "<"
        if lo is not None and hi is not None:
            if lo == hi:
                return f"{name}={_num(lo)}"
            return f"{_num(lo)}{'<=' if self.low_closed else '<'}{name}{below}{_num(hi)}"
        if lo is not None:
            return f"{name}{'>=' if self.low_closed else '>'}{_num(lo)}"
        if hi is not None:
            return f"{name}{below}{_num(hi)}"
        return f"{name}=any"


EVERYTHING = Interval(None, False, None, False)


def _num(d: Decimal) -> str:
    return format(d.normalize(), "f") if d == d.to_integral_value() else str(d)


@dataclass(frozen=True)
class Condition:
    """What one row asks of one input: a set of codes, or a union of numeric intervals.

    `text` is the condition as a reader sees it in explanations (`L1, L2` or `>= 18`); `kind` says
    how it was written, which decides how it is explained ("one of" for a list).
    """

    input: str
    codes: frozenset[CodeValue] = frozenset()
    intervals: tuple[Interval, ...] = ()
    text: str = ""
    kind: str = "equals"  # "equals" (one value), "range" (one range) or "list" (one of several)
    loc: Location = NOWHERE

    def accepts(self, value: CodeValue | Decimal) -> bool:
        """Whether a valid, non-blank value (already normalised by `normalise`) satisfies it."""
        if isinstance(value, Decimal):
            return any(i.contains(value) for i in self.intervals)
        return value in self.codes


@dataclass(frozen=True)
class OutputSpec:
    """An output column; `values` are its allowed codes (with labels) when the table lists them."""

    id: str
    label: Text
    values: tuple[tuple[str, Text], ...] | None = None
    loc: Location = NOWHERE

    def value_label(self, code: str, lang: str) -> str:
        for value, label in self.values or ():
            if value == code and label:
                return label.get(lang)
        return code


@dataclass(frozen=True)
class Flag:
    """A note on a decision: a request for review, or why a case cannot be classified."""

    id: str
    text: Text
    loc: Location = NOWHERE


@dataclass(frozen=True)
class Row:
    """One rule. Exactly one of `then` (output values) and `not_classifiable` (a flag id) is set."""

    id: str
    conditions: tuple[Condition, ...]
    then: tuple[tuple[str, str], ...] = ()
    flags: tuple[str, ...] = ()
    not_classifiable: str | None = None
    loc: Location = NOWHERE

    def condition(self, input_id: str) -> Condition | None:
        for c in self.conditions:
            if c.input == input_id:
                return c
        return None


@dataclass(frozen=True)
class DecisionTable:
    """A checked table: rows never overlap and, once loaded without errors, cover every case."""

    id: str
    title: Text
    inputs: tuple[InputSpec, ...]
    outputs: tuple[OutputSpec, ...]
    flags: tuple[Flag, ...]
    rows: tuple[Row, ...]
    loc: Location = NOWHERE
    description: Text = EMPTY
    source: str = ""  # the citation the rows come from (not translated)

    def input(self, input_id: str) -> InputSpec | None:
        return next((i for i in self.inputs if i.id == input_id), None)

    def output(self, output_id: str) -> OutputSpec | None:
        return next((o for o in self.outputs if o.id == output_id), None)

    def row(self, row_id: str) -> Row | None:
        return next((r for r in self.rows if r.id == row_id), None)

    def flag_text(self, flag_id: str, lang: str = "en") -> str:
        flag = next((f for f in self.flags if f.id == flag_id), None)
        return flag.text.get(lang) if flag is not None and flag.text else flag_id


YES_NO = {"yes": True, "no": False, "true": True, "false": False}


def is_blank(value: Value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def normalise(spec: InputSpec, value: Value) -> CodeValue | Decimal | None:
    """A non-blank value as conditions compare it (numbers as Decimal), or None when the value
    is not valid for the input (wrong kind, unknown code, NaN…). Never raises."""
    if spec.vtype is VType.NUMBER:
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return Decimal(value)
        if isinstance(value, float):
            value = Decimal(repr(value))
        if isinstance(value, Decimal) and value.is_finite():
            return value
        return None
    if spec.vtype is VType.BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in YES_NO:
            return YES_NO[value.strip().lower()]
        return None
    if isinstance(value, str) and value in spec.codes:
        return value
    return None


def show(value: CodeValue | Decimal | Value) -> str:
    """A value as explanations print it: codes as written, yes/no for booleans."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, frozenset):
        return "{" + ", ".join(sorted(value)) + "}"
    return str(value)
