"""Static check: the type of an expression and every problem in it, before any data exists.

Authors learn about mistakes when the study is built, not when a clinician fills in a form, so
the checker reports all problems at once (unknown names, wrong types, misused repeat columns)
and never stops at the first. A node that already produced an error gets type ANY, which is
compatible with everything, so one mistake is reported once rather than cascading.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from forms_dsl.errors import ErrorCode, closest
from forms_dsl.expr.functions import FUNCTIONS, Function
from forms_dsl.expr.limits import MAX_ROUND_DIGITS, MAX_TREE_DEPTH
from forms_dsl.expr.nodes import (
    ARITHMETIC,
    LOGIC,
    ORDERINGS,
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
from forms_dsl.expr.parser import TOO_COMPLEX
from forms_dsl.expr.printer import to_text
from forms_dsl.expr.problems import ExprProblem
from forms_dsl.expr.repeats import row_groups
from forms_dsl.types import FieldInfo, VType

UNKNOWN_NAME = ErrorCode(
    "E440",
    "unknown name `{name}`{hint}",
    "use the id of a field, a repeating group or a context value (ids are case-sensitive)",
)
UNKNOWN_FUNCTION = ErrorCode(
    "E441",
    "unknown function `{function}`{hint}",
    "the functions are: {functions}",
)
WRONG_ARITY = ErrorCode(
    "E442",
    "`{function}` takes {arity}, found {found}",
    "write {signature}",
)
COMPARE_TYPES = ErrorCode(
    "E443",
    "cannot compare {left} with {right}",
    "compare like with like: numbers with numbers, dates with dates, yes/no with true/false; "
    "choice codes are text, so quote them: '3'",
)
NOT_ORDERED = ErrorCode(
    "E444",
    "`{op}` orders numbers, dates, date-times and times, not {found}",
    "compare text, choice codes and yes/no with `==`, `!=` or `in [...]`",
)
NOT_A_NUMBER = ErrorCode(
    "E445",
    "`{op}` needs numbers, found {found}",
    "calculate with numbers only; a choice code is text even when it looks like a number",
)
DATE_ARITHMETIC = ErrorCode(
    "E446",
    "`{op}` cannot be used with {found}: there is no date arithmetic",
    "use days_between(a, b) for a difference in days, or age_months(date, at) for completed months",
)
UNKNOWN_CODE = ErrorCode(
    "E447",
    "code '{choice}' is not a choice of {field} ({codes})",
    "use one of the codes of {field}: {codes}",
)
MULTICHOICE_COMPARE = ErrorCode(
    "E448",
    "`{field}` is a multichoice answer and cannot be compared with `{op}`",
    "write selected({field}, 'code') to test one choice, or count({field}) for the number of "
    "choices",
)
NOT_A_CONDITION = ErrorCode(
    "E449",
    "`{op}` needs yes/no conditions, found {found}",
    "turn the value into a condition, e.g. `x == 'code'`, `x > 0` or `not is_blank(x)`",
)
ARGUMENT_TYPE = ErrorCode(
    "E450",
    "`{function}` needs {expected} as argument {position}, found {found}",
    "write {signature}",
)
COLUMN_OUTSIDE_AGGREGATE = ErrorCode(
    "E451",
    "`{name}` is a field of repeating group `{group}` (one value per row), used here as a "
    "single value",
    "aggregate it: count({name}), sum({name}), min({name}), max({name}), or any(...)/all(...) "
    "with a condition on the rows",
)
MIXED_GROUPS = ErrorCode(
    "E452",
    "`{function}` mixes fields of repeating groups {groups}",
    "a condition in any()/all() looks at the rows of one group: write one {function}(...) per "
    "group and join them with `and` / `or`",
)
NO_ROW_GROUP = ErrorCode(
    "E453",
    "`{function}` needs a condition on the fields of a repeating group",
    "refer to at least one field of the group, e.g. {function}(dose > 10); for a condition "
    "without rows, drop {function}(...)",
)
GROUP_AS_VALUE = ErrorCode(
    "E454",
    "`{name}` is a repeating group, not a value",
    "count({name}) gives its number of rows; aggregate its fields with count/sum/min/max/any/all",
)
AGGREGATE_ARGUMENT = ErrorCode(
    "E455",
    "`{function}` needs {expected}, found {found}",
    "write {signature}",
)
MIXED_TYPES = ErrorCode(
    "E456",
    "`{function}` mixes {first} and {found}",
    "give every value of {function}(...) the same kind",
)
ROUND_DIGITS = ErrorCode(
    "E457",
    "round() digits must be a whole number from 0 to {limit}, found {found}",
    "write e.g. round(x, 1) for one decimal, round(x) for a whole number",
)
BLANK_COMPARISON = ErrorCode(
    "E458",
    "`{op} blank` is always false: every comparison involving blank is false",
    "test for a missing value with is_blank(x), or not is_blank(x)",
    severity="warning",
)

_DESCRIPTIONS = {
    VType.NUMBER: "a number",
    VType.TEXT: "text",
    VType.CODE: "a choice code",
    VType.CODES: "a multichoice answer",
    VType.DATE: "a date",
    VType.DATETIME: "a date-time",
    VType.TIME: "a time",
    VType.BOOL: "yes/no",
    VType.GROUP: "a repeating group",
    VType.BLANK: "blank",
    VType.ANY: "a value",
}
_LENIENT = frozenset({VType.BLANK, VType.ANY})  # fit anywhere: never reported
_ORDERED = frozenset({VType.NUMBER, VType.DATE, VType.DATETIME, VType.TIME})
_DATELIKE = frozenset({VType.DATE, VType.DATETIME, VType.TIME})
_DATES = frozenset({VType.DATE, VType.DATETIME})
_TEXTS = frozenset({VType.TEXT, VType.CODE})
_CHOICES = frozenset({VType.CODE, VType.CODES})


def describe(vtype: VType) -> str:
    """A type as named in messages ('a date', 'a multichoice answer')."""
    return _DESCRIPTIONS[vtype]


def compatible(a: VType, b: VType) -> bool:
    """Whether values of the two types can be compared with each other."""
    if a in _LENIENT or b in _LENIENT:
        return True
    if VType.CODES in (a, b) or VType.GROUP in (a, b):
        return False
    return a == b or {a, b} == _TEXTS


def check(
    expr: Expr, env: Mapping[str, FieldInfo], *, row_group: str | None = None
) -> tuple[VType, list[ExprProblem]]:
    """The expression's type and every problem found, sorted by offset.

    `env` holds every valid name: fields (with their repeating group), group ids (VType.GROUP)
    and context values. With `row_group`, the expression is evaluated inside one row of that
    group, whose fields are then the row's own values.
    """
    checker = _Checker(env)
    bound = frozenset({row_group}) if row_group else frozenset()
    try:
        vtype = checker.visit(expr, bound)
    except RecursionError:  # only for trees built by hand: parse() bounds the depth
        checker.report(TOO_COMPLEX, expr.offset, limit=MAX_TREE_DEPTH)
        vtype = VType.ANY
    return vtype, sorted(checker.problems, key=lambda p: p.offset)


class _Checker:
    def __init__(self, env: Mapping[str, FieldInfo]) -> None:
        self.env = env
        self.problems: list[ExprProblem] = []
        self.calls: dict[str, Callable[[Call, Function, frozenset[str]], VType]] = {
            "today": self.call_today,
            "now": self.call_now,
            "age_months": self.call_dates,
            "days_between": self.call_dates,
            "is_blank": self.call_is_blank,
            "selected": self.call_selected,
            "count": self.call_count,
            "sum": self.call_sum,
            "min": self.call_extreme,
            "max": self.call_extreme,
            "round": self.call_round,
            "abs": self.call_abs,
            "coalesce": self.call_coalesce,
            "if": self.call_if,
            "any": self.call_rows,
            "all": self.call_rows,
            "count_if": self.call_rows,
            "len": self.call_len,
        }

    def report(self, code: ErrorCode, offset: int, /, **params: Any) -> None:
        self.problems.append(ExprProblem(code, offset, params))

    def group_of(self, name: str) -> str | None:
        info = self.env.get(name)
        if info is None or info.vtype is VType.GROUP:
            return None
        return info.repeat

    # -- nodes -----------------------------------------------------------------------------

    def visit(self, node: Expr, bound: frozenset[str]) -> VType:
        if isinstance(node, Number):
            return VType.NUMBER
        if isinstance(node, String):
            return VType.TEXT
        if isinstance(node, Bool):
            return VType.BOOL
        if isinstance(node, Blank):
            return VType.BLANK
        if isinstance(node, Name):
            return self.name(node, bound)
        if isinstance(node, Unary):
            operand = self.visit(node.operand, bound)
            if node.op == "not":
                self.condition(node.operand, operand, "not")
                return VType.BOOL
            self.arithmetic("-", node.offset, [operand])
            return VType.NUMBER
        if isinstance(node, Binary):
            return self.binary(node, bound)
        if isinstance(node, InList):
            return self.in_list(node, bound)
        if isinstance(node, Call):
            return self.call(node, bound)
        raise TypeError(f"not an expression node: {type(node).__name__}")

    def name(self, node: Name, bound: frozenset[str]) -> VType:
        info = self.env.get(node.name)
        if info is None:
            self.unknown_name(node)
            return VType.ANY
        if info.vtype is VType.GROUP:
            self.report(GROUP_AS_VALUE, node.offset, name=node.name)
            return VType.ANY
        if info.repeat is not None and info.repeat not in bound:
            self.report(COLUMN_OUTSIDE_AGGREGATE, node.offset, name=node.name, group=info.repeat)
            return VType.ANY
        return info.vtype

    def unknown_name(self, node: Name) -> None:
        suggestion: str | None
        if node.name in FUNCTIONS:
            suggestion = FUNCTIONS[node.name].signature
            hint = f" — `{node.name}` is a function: write {suggestion}"
        else:
            suggestion = closest(node.name, self.env)
            hint = f" — did you mean `{suggestion}`?" if suggestion else ""
        self.report(UNKNOWN_NAME, node.offset, name=node.name, hint=hint, suggestion=suggestion)

    def binary(self, node: Binary, bound: frozenset[str]) -> VType:
        left = self.visit(node.left, bound)
        right = self.visit(node.right, bound)
        if node.op in LOGIC:
            self.condition(node.left, left, node.op)
            self.condition(node.right, right, node.op)
            return VType.BOOL
        if node.op in ARITHMETIC:
            self.arithmetic(node.op, node.offset, [left, right])
            return VType.NUMBER
        if isinstance(node.left, Blank) or isinstance(node.right, Blank):
            self.report(BLANK_COMPARISON, node.offset, op=node.op)
        if self.comparable(node.op, node.offset, (node.left, left), (node.right, right)):
            concrete = left if left not in _LENIENT else right
            if node.op in ORDERINGS and concrete not in _ORDERED | _LENIENT:
                self.report(NOT_ORDERED, node.offset, op=node.op, found=describe(concrete))
        self.known_code(node.left, node.right)
        self.known_code(node.right, node.left)
        return VType.BOOL

    def comparable(
        self, op: str, offset: int, left: tuple[Expr, VType], right: tuple[Expr, VType]
    ) -> bool:
        """Report (once) when the two sides cannot be compared; True when they can."""
        for node, vtype in (left, right):
            if vtype is VType.CODES:
                self.report(MULTICHOICE_COMPARE, offset, field=_shown(node), op=op)
                return False
        if not compatible(left[1], right[1]):
            self.report(COMPARE_TYPES, offset, left=describe(left[1]), right=describe(right[1]))
            return False
        return True

    def in_list(self, node: InList, bound: frozenset[str]) -> VType:
        left = self.visit(node.left, bound)
        op = "not in" if node.negated else "in"
        if left is VType.CODES:
            self.report(MULTICHOICE_COMPARE, node.offset, field=_shown(node.left), op=op)
        for item in node.items:
            vtype = self.visit(item, bound)
            if left is not VType.CODES and not compatible(left, vtype):
                self.report(COMPARE_TYPES, item.offset, left=describe(left), right=describe(vtype))
            self.known_code(node.left, item)
        return VType.BOOL

    def known_code(self, field: Expr, literal: Expr) -> None:
        """A quoted code compared with a choice field must be one of the field's codes."""
        if not (isinstance(field, Name) and isinstance(literal, String)):
            return
        info = self.env.get(field.name)
        if info is None or info.codes is None or info.vtype not in _CHOICES:
            return
        if literal.value not in info.codes:
            codes = ", ".join(sorted(info.codes))
            self.report(
                UNKNOWN_CODE, literal.offset, choice=literal.value, field=field.name, codes=codes
            )

    def condition(self, node: Expr, vtype: VType, op: str) -> None:
        if vtype not in _LENIENT and vtype is not VType.BOOL:
            self.report(NOT_A_CONDITION, node.offset, op=op, found=describe(vtype))

    def arithmetic(self, op: str, offset: int, operands: Sequence[VType]) -> None:
        dates = [t for t in operands if t in _DATELIKE]
        if dates:
            self.report(DATE_ARITHMETIC, offset, op=op, found=describe(dates[0]))
            return
        for vtype in operands:
            if vtype not in _LENIENT and vtype is not VType.NUMBER:
                self.report(NOT_A_NUMBER, offset, op=op, found=describe(vtype))

    # -- functions -------------------------------------------------------------------------

    def call(self, node: Call, bound: frozenset[str]) -> VType:
        spec = FUNCTIONS.get(node.function)
        if spec is None:
            suggestion = closest(node.function, FUNCTIONS)
            hint = f" — did you mean `{suggestion}`?" if suggestion else ""
            self.report(
                UNKNOWN_FUNCTION,
                node.offset,
                function=node.function,
                hint=hint,
                suggestion=suggestion,
                functions=", ".join(FUNCTIONS),
            )
            self.loosely(node, bound)
            return VType.ANY
        if not spec.accepts(len(node.args)):
            self.report(
                WRONG_ARITY,
                node.offset,
                function=spec.name,
                arity=spec.arity,
                found=len(node.args),
                signature=spec.signature,
            )
            self.loosely(node, bound)
            return VType.ANY
        return self.calls[spec.name](node, spec, bound)

    def loosely(self, node: Call, bound: frozenset[str]) -> None:
        """Check the arguments of a call that is wrong in itself (unknown function, arity).

        What the arguments were meant to be is unknown, so repeat columns pass as row values:
        only mistakes of their own (unknown names, type errors) are reported.
        """
        every_group = bound | {info.repeat for info in self.env.values() if info.repeat}
        for arg in node.args:
            self.visit(arg, every_group)

    def column_or_value(self, arg: Expr, bound: frozenset[str]) -> tuple[VType, str | None]:
        """An aggregate's argument: (type, group) for a column, (GROUP, None) for a group id."""
        if isinstance(arg, Name):
            info = self.env.get(arg.name)
            if info is not None and info.vtype is VType.GROUP:
                return VType.GROUP, None
            if info is not None and info.repeat is not None and info.repeat not in bound:
                return info.vtype, info.repeat
        return self.visit(arg, bound), None

    def expect(
        self,
        node: Call,
        spec: Function,
        position: int,
        vtype: VType,
        allowed: frozenset[VType],
        expected: str,
    ) -> None:
        if vtype in allowed or vtype in _LENIENT:
            return
        self.report(
            ARGUMENT_TYPE,
            node.args[position].offset,
            function=spec.name,
            expected=expected,
            position=position + 1,
            found=describe(vtype),
            signature=spec.signature,
        )

    def unify(
        self, node: Call, spec: Function, args: Sequence[Expr], types: Sequence[VType]
    ) -> VType:
        """The common type of values that may each be the result (if, coalesce, min, max)."""
        if VType.ANY in types:
            return VType.ANY
        result = VType.BLANK
        for arg, vtype in zip(args, types, strict=True):
            if vtype is VType.BLANK or vtype == result:
                continue
            if result is VType.BLANK:
                result = vtype
            elif {result, vtype} == _TEXTS:
                result = VType.TEXT
            else:
                self.report(
                    MIXED_TYPES,
                    arg.offset,
                    function=spec.name,
                    first=describe(result),
                    found=describe(vtype),
                )
                return VType.ANY
        return result

    def call_today(self, node: Call, spec: Function, bound: frozenset[str]) -> VType:
        return VType.DATE

    def call_now(self, node: Call, spec: Function, bound: frozenset[str]) -> VType:
        return VType.DATETIME

    def call_dates(self, node: Call, spec: Function, bound: frozenset[str]) -> VType:
        for position, arg in enumerate(node.args):
            vtype = self.visit(arg, bound)
            self.expect(node, spec, position, vtype, _DATES, "a date")
        return VType.NUMBER

    def call_is_blank(self, node: Call, spec: Function, bound: frozenset[str]) -> VType:
        self.visit(node.args[0], bound)
        return VType.BOOL

    def call_selected(self, node: Call, spec: Function, bound: frozenset[str]) -> VType:
        field, code = node.args
        answer = self.visit(field, bound)
        self.expect(node, spec, 0, answer, _CHOICES, "a choice or multichoice field")
        text = self.visit(code, bound)
        self.expect(node, spec, 1, text, _TEXTS, "a code in quotes")
        self.known_code(field, code)
        return VType.BOOL

    def call_count(self, node: Call, spec: Function, bound: frozenset[str]) -> VType:
        vtype, group = self.column_or_value(node.args[0], bound)
        if group is None and vtype not in {VType.GROUP, VType.CODES} | _LENIENT:
            self.report(
                AGGREGATE_ARGUMENT,
                node.args[0].offset,
                function="count",
                expected="a repeat column, a repeating group or a multichoice field",
                found=describe(vtype),
                signature=spec.signature,
            )
        return VType.NUMBER

    def call_sum(self, node: Call, spec: Function, bound: frozenset[str]) -> VType:
        vtype, group = self.column_or_value(node.args[0], bound)
        if group is not None:
            self.expect(node, spec, 0, vtype, frozenset({VType.NUMBER}), "a column of numbers")
        elif vtype is not VType.ANY:
            self.report(
                AGGREGATE_ARGUMENT,
                node.args[0].offset,
                function="sum",
                expected="a column of a repeating group (to add single values write a + b)",
                found=describe(vtype),
                signature=spec.signature,
            )
        return VType.NUMBER

    def call_extreme(self, node: Call, spec: Function, bound: frozenset[str]) -> VType:
        if len(node.args) == 1:
            vtype, group = self.column_or_value(node.args[0], bound)
            if group is not None:
                self.expect(node, spec, 0, vtype, _ORDERED, "a column of numbers or dates")
                return vtype if vtype in _ORDERED else VType.ANY
            if vtype is not VType.ANY:
                self.report(
                    AGGREGATE_ARGUMENT,
                    node.args[0].offset,
                    function=spec.name,
                    expected="a repeat column, or two or more values",
                    found=describe(vtype),
                    signature=spec.signature,
                )
            return VType.ANY
        types = [self.visit(arg, bound) for arg in node.args]
        for position, vtype in enumerate(types):
            self.expect(node, spec, position, vtype, _ORDERED, "a number, date, date-time or time")
        usable = [t if t in _ORDERED | _LENIENT else VType.ANY for t in types]
        return self.unify(node, spec, node.args, usable)

    def call_round(self, node: Call, spec: Function, bound: frozenset[str]) -> VType:
        for position, arg in enumerate(node.args):
            vtype = self.visit(arg, bound)
            self.expect(node, spec, position, vtype, frozenset({VType.NUMBER}), "a number")
        if len(node.args) == 2:
            digits = node.args[1]
            negative = (
                isinstance(digits, Unary)
                and digits.op == "-"
                and isinstance(digits.operand, Number)
            )
            too_many = isinstance(digits, Number) and (
                not isinstance(digits.value, int) or digits.value > MAX_ROUND_DIGITS
            )
            if negative or too_many:
                found = to_text(digits)
                self.report(ROUND_DIGITS, digits.offset, limit=MAX_ROUND_DIGITS, found=found)
        return VType.NUMBER

    def call_coalesce(self, node: Call, spec: Function, bound: frozenset[str]) -> VType:
        types = [self.visit(arg, bound) for arg in node.args]
        return self.unify(node, spec, node.args, types)

    def call_if(self, node: Call, spec: Function, bound: frozenset[str]) -> VType:
        condition = self.visit(node.args[0], bound)
        self.condition(node.args[0], condition, "if")
        branches = node.args[1:]
        return self.unify(node, spec, branches, [self.visit(arg, bound) for arg in branches])

    def call_rows(self, node: Call, spec: Function, bound: frozenset[str]) -> VType:
        condition = node.args[0]
        groups = row_groups(condition, self.group_of, bound)
        if not groups:
            self.report(NO_ROW_GROUP, node.offset, function=spec.name)
        elif len(groups) > 1:
            shown = ", ".join(f"`{g}`" for g in groups)
            self.report(MIXED_GROUPS, node.offset, function=spec.name, groups=shown)
        vtype = self.visit(condition, bound | frozenset(groups))
        self.condition(condition, vtype, spec.name)
        return VType.NUMBER if spec.name == "count_if" else VType.BOOL

    def call_abs(self, node: Call, spec: Function, bound: frozenset[str]) -> VType:
        vtype = self.visit(node.args[0], bound)
        self.expect(node, spec, 0, vtype, frozenset({VType.NUMBER}), "a number")
        return VType.NUMBER

    def call_len(self, node: Call, spec: Function, bound: frozenset[str]) -> VType:
        vtype = self.visit(node.args[0], bound)
        self.expect(node, spec, 0, vtype, _TEXTS, "text")
        return VType.NUMBER


def _shown(node: Expr) -> str:
    text = to_text(node)
    return text if len(text) <= 40 else text[:39] + "…"
