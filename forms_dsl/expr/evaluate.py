"""The interpreter: an expression and the values of one form → a value, never an exception.

Evaluation runs while people enter data, so it is total: whatever the values (missing, of the
wrong type, absurdly large), the result is a value or blank, never an error. Expressions that
`check` would refuse (unknown names or functions, columns outside aggregates) evaluate to blank.

Blank semantics, in full (see also `values` and `functions`):

- A name without a value is blank; so are empty text, an empty multichoice answer and numbers
  beyond ±10^30.
- Every comparison involving blank is false, `==` and `!=` included (`x == blank` is false: use
  is_blank(x)); `x in [...]` and `x not in [...]` are both false for a blank x (whereas
  `not (x in [...])` is true).
- Arithmetic with blank gives blank; division by zero gives blank.
- `not blank` is true; in `and` / `or` blank counts as false, and they always give true/false.
- Functions given blank return blank, except is_blank, coalesce, count, sum and min/max (which
  skip blanks), if (a blank condition takes the else branch), any and all.

Repeating groups (see `repeats`): from outside a group, its fields are columns, usable in
count/sum/min/max and in any()/all(), whose condition is evaluated once per row with that row's
values (fields outside the group keep their top-level values). Inside a row (`row_group`), the
group's fields are the row's values.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from forms_dsl.expr import values as v
from forms_dsl.expr.functions import FUNCTIONS, PURE, ROW_CONDITIONS
from forms_dsl.expr.nodes import (
    ARITHMETIC,
    Binary,
    Blank,
    Bool,
    Call,
    Expr,
    InList,
    Name,
    Number,
    String,
    Unary,
)
from forms_dsl.expr.repeats import aggregated_column, row_groups
from forms_dsl.types import Value

Row = Mapping[str, Value]


@dataclass(frozen=True, kw_only=True)
class Scope:
    """Everything an expression can see.

    `values`: top-level field values and context values. `rows`: repeating group id → its rows
    (each row: field id → value). `groups`: field id → repeating group id, for every field that
    lives in a repeating group (a name not in `groups` is looked up in `values`). `row_group` and
    `row`: the group and row being evaluated, for expressions attached to a field of a repeating
    group. `today`: the date today() returns, and `now` the date-time now() returns, both where
    the data are entered (passed in, so evaluation is reproducible); without `now`, now() is the
    last minute of `today`.
    """

    values: Mapping[str, Value] = field(default_factory=dict)
    rows: Mapping[str, Sequence[Row]] = field(default_factory=dict)
    row_group: str | None = None
    row: Row | None = None
    groups: Mapping[str, str] = field(default_factory=dict)
    today: dt.date
    now: dt.datetime | None = None

    @property
    def clock(self) -> dt.datetime:
        return self.now if self.now is not None else dt.datetime.combine(self.today, LAST_MINUTE)


LAST_MINUTE = dt.time(23, 59)


def evaluate(expr: Expr, scope: Scope) -> Value:
    """The value of `expr` in `scope`; blank whenever it cannot be computed."""
    bound: dict[str, Row] = {}
    if scope.row_group is not None:
        bound[scope.row_group] = scope.row if scope.row is not None else {}
    try:
        return v.normal(_Evaluator(scope).value(expr, bound))
    except RecursionError:  # only for trees built by hand: parse() bounds the depth
        return None


class _Evaluator:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def group_of(self, name: str) -> str | None:
        group = self.scope.groups.get(name)
        return group if isinstance(group, str) else None

    def value(self, node: Expr, bound: Mapping[str, Row]) -> Value:
        visit = _VISITS.get(type(node))  # by exact type: nodes are final, and this is hot
        return visit(self, node, bound) if visit is not None else None

    def literal(self, node: Number | String | Bool, _bound: Mapping[str, Row]) -> Value:
        return node.value

    def blank(self, _node: Blank, _bound: Mapping[str, Row]) -> Value:
        return None

    def name(self, node: Name, bound: Mapping[str, Row]) -> Value:
        return self.lookup(node.name, bound)

    def unary(self, node: Unary, bound: Mapping[str, Row]) -> Value:
        operand = self.value(node.operand, bound)
        return not v.truth(operand) if node.op == "not" else v.negate(operand)

    def in_list(self, node: InList, bound: Mapping[str, Row]) -> Value:
        left = self.value(node.left, bound)
        if v.is_blank(left):
            return False
        found = v.member(left, (self.value(item, bound) for item in node.items))
        return not found if node.negated else found

    def lookup(self, name: str, bound: Mapping[str, Row]) -> Value:
        group = self.group_of(name)
        if group is None:
            return v.normal(self.scope.values.get(name))
        if group in bound:
            return v.normal(bound[group].get(name))
        return None  # a column used as a single value

    def binary(self, node: Binary, bound: Mapping[str, Row]) -> Value:
        if node.op == "and":
            return v.truth(self.value(node.left, bound)) and v.truth(self.value(node.right, bound))
        if node.op == "or":
            return v.truth(self.value(node.left, bound)) or v.truth(self.value(node.right, bound))
        left = self.value(node.left, bound)
        right = self.value(node.right, bound)
        if node.op in ARITHMETIC:
            return v.arithmetic(node.op, left, right)
        return v.compare(node.op, left, right)

    def column(self, call: Call, bound: Mapping[str, Row]) -> list[Value] | None:
        """The values of the column `call` aggregates, or None if it aggregates no column."""
        name = aggregated_column(call, self.group_of, bound)
        if name is None:
            return None
        group = self.group_of(name.name)
        rows = self.scope.rows.get(group, ()) if group is not None else ()
        return [v.normal(row.get(name.name)) for row in rows]

    def call(self, node: Call, bound: Mapping[str, Row]) -> Value:
        spec = FUNCTIONS.get(node.function)
        if spec is None or not spec.accepts(len(node.args)):
            return None
        name = node.function
        if name in PURE:
            args = [self.value(arg, bound) for arg in node.args]
            return v.normal(PURE[name](args, self.scope.today))
        if name == "now":
            return self.scope.clock
        if name == "if":
            branch = node.args[1] if v.truth(self.value(node.args[0], bound)) else node.args[2]
            return self.value(branch, bound)
        if name == "coalesce":
            for arg in node.args:
                value = self.value(arg, bound)
                if not v.is_blank(value):
                    return value
            return None
        if name in ROW_CONDITIONS:
            return self.rows_condition(node, bound)
        return self.aggregate(node, bound)

    def aggregate(self, node: Call, bound: Mapping[str, Row]) -> Value:
        column = self.column(node, bound)
        if node.function == "count":
            return self.count(node.args[0], column, bound)
        if column is None:
            column = [self.value(arg, bound) for arg in node.args]
            if node.function == "sum" and len(column) == 1 and v.number(column[0]) is None:
                return None  # sum of a single non-number: the checker refuses it; stay blank
        if node.function == "sum":
            return v.total(column)
        return v.extreme(column, largest=node.function == "max")

    def count(self, arg: Expr, column: list[Value] | None, bound: Mapping[str, Row]) -> int:
        if column is not None:
            return sum(not v.is_blank(value) for value in column)
        if (
            isinstance(arg, Name)
            and self.group_of(arg.name) is None
            and arg.name in self.scope.rows
        ):
            return len(self.scope.rows[arg.name])  # a repeating group: its rows
        value = self.value(arg, bound)
        if isinstance(value, frozenset):
            return len(value)  # a multichoice answer: its codes
        return 0 if v.is_blank(value) else 1

    def rows_condition(self, node: Call, bound: Mapping[str, Row]) -> Value:
        condition = node.args[0]
        groups = row_groups(condition, self.group_of, bound)
        if len(groups) != 1:
            return None
        group = groups[0]
        rows = self.scope.rows.get(group, ())
        if node.function == "count_if":
            return sum(v.truth(self.value(condition, {**bound, group: row})) for row in rows)
        every = node.function == "all"
        for row in rows:
            inner = {**bound, group: row}
            holds = v.truth(self.value(condition, inner))
            if holds != every:
                return holds
        return every


_VISITS: dict[type, Callable[[_Evaluator, Any, Mapping[str, Row]], Value]] = {
    Number: _Evaluator.literal,
    String: _Evaluator.literal,
    Bool: _Evaluator.literal,
    Blank: _Evaluator.blank,
    Name: _Evaluator.name,
    Unary: _Evaluator.unary,
    Binary: _Evaluator.binary,
    InList: _Evaluator.in_list,
    Call: _Evaluator.call,
}
