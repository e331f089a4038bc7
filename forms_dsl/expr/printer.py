"""Syntax tree → canonical text, with only the parentheses that precedence requires.

One spelling per tree (single-quoted strings, `blank` for null, spaces around binary operators)
so that printed expressions can be compared, stored and shown to authors, and so that
`parse(to_text(e)) == e` for every tree the parser can produce.
"""

from __future__ import annotations

from decimal import Decimal

from forms_dsl.expr.nodes import (
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

# Binding strength, weakest first; mirrors the parser's levels.
_OR, _AND, _NOT, _COMPARE, _ADD, _MULTIPLY, _NEGATE, _ATOM = range(8)
_BINARY_LEVEL = {
    "or": _OR,
    "and": _AND,
    "==": _COMPARE,
    "!=": _COMPARE,
    "<": _COMPARE,
    "<=": _COMPARE,
    ">": _COMPARE,
    ">=": _COMPARE,
    "+": _ADD,
    "-": _ADD,
    "*": _MULTIPLY,
    "/": _MULTIPLY,
}


def to_text(expr: Expr) -> str:
    """The canonical text of `expr`."""
    return _print(expr)


def number_text(value: int | Decimal) -> str:
    """Plain digits, never an exponent; a Decimal keeps a point so it reads back as a Decimal."""
    if isinstance(value, Decimal):
        text = format(value, "f")
        return text if "." in text else text + ".0"
    return str(value)


def string_text(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _level(expr: Expr) -> int:
    if isinstance(expr, Binary):
        return _BINARY_LEVEL[expr.op]
    if isinstance(expr, InList):
        return _COMPARE
    if isinstance(expr, Unary):
        return _NOT if expr.op == "not" else _NEGATE
    return _ATOM


def _wrapped(expr: Expr, parenthesise: bool) -> str:
    text = _print(expr)
    return f"({text})" if parenthesise else text


def _print(expr: Expr) -> str:
    if isinstance(expr, Number):
        return number_text(expr.value)
    if isinstance(expr, String):
        return string_text(expr.value)
    if isinstance(expr, Bool):
        return "true" if expr.value else "false"
    if isinstance(expr, Blank):
        return "blank"
    if isinstance(expr, Name):
        return expr.name
    if isinstance(expr, Unary):
        level = _level(expr)
        operand = _wrapped(expr.operand, _level(expr.operand) < level)
        return f"not {operand}" if expr.op == "not" else f"-{operand}"
    if isinstance(expr, Binary):
        level = _level(expr)
        left_level = _level(expr.left)
        # Comparisons do not chain, so a comparison inside one is always parenthesised; every
        # other operator is left-associative, so an equal-level right operand needs them too.
        left = _wrapped(
            expr.left, left_level < level or (level == _COMPARE and left_level == _COMPARE)
        )
        right = _wrapped(expr.right, _level(expr.right) <= level)
        return f"{left} {expr.op} {right}"
    if isinstance(expr, InList):
        left = _wrapped(expr.left, _level(expr.left) <= _COMPARE)
        items = ", ".join(_print(item) for item in expr.items)
        op = "not in" if expr.negated else "in"
        return f"{left} {op} [{items}]"
    if isinstance(expr, Call):
        return f"{expr.function}({', '.join(_print(arg) for arg in expr.args)})"
    raise TypeError(f"not an expression node: {type(expr).__name__}")
