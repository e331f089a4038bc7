"""The syntax tree: small frozen dataclasses, compared by structure.

`offset` (where the node was written, for messages) is excluded from equality and hashing, so a
tree parsed from `a+b` equals one parsed from `a + b`, and `parse(to_text(e)) == e` holds.
Parentheses leave no trace: the printer puts back exactly the ones precedence requires.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

UnaryOp = Literal["-", "not"]
BinaryOp = Literal["or", "and", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/"]

COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
ORDERINGS = frozenset({"<", "<=", ">", ">="})
ARITHMETIC = frozenset({"+", "-", "*", "/"})
LOGIC = frozenset({"and", "or"})


@dataclass(frozen=True)
class Expr:
    """Base of all nodes. `offset`: 0-based character offset of the node's key token."""

    offset: int = field(default=0, compare=False, repr=False, kw_only=True)

    def children(self) -> tuple[Expr, ...]:
        return ()


@dataclass(frozen=True)
class Number(Expr):
    """A number literal, never negative (`-2` is `Unary('-', Number(2))`), never a float."""

    value: int | Decimal


@dataclass(frozen=True)
class String(Expr):
    value: str


@dataclass(frozen=True)
class Bool(Expr):
    value: bool


@dataclass(frozen=True)
class Blank(Expr):
    """The literal `blank` (also written `null`)."""


@dataclass(frozen=True)
class Name(Expr):
    """A field, repeating group or context value, by id."""

    name: str


@dataclass(frozen=True)
class Unary(Expr):
    op: UnaryOp
    operand: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)


@dataclass(frozen=True)
class Binary(Expr):
    """Arithmetic, comparison, `and` and `or`; the offset is the operator's."""

    op: BinaryOp
    left: Expr
    right: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)


@dataclass(frozen=True)
class InList(Expr):
    """`left in [items]` or `left not in [items]`; lists exist only here."""

    left: Expr
    items: tuple[Expr, ...]
    negated: bool = False

    def children(self) -> tuple[Expr, ...]:
        return (self.left, *self.items)


@dataclass(frozen=True)
class Call(Expr):
    """A function call; the name is checked against FUNCTIONS by `check`, not by `parse`."""

    function: str
    args: tuple[Expr, ...] = ()

    def children(self) -> tuple[Expr, ...]:
        return self.args


def walk(expr: Expr) -> Iterator[Expr]:
    """Every node, parents before children (iterative: safe on any depth)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children()))


def depth(expr: Expr) -> tuple[int, Expr]:
    """The tree's depth and its deepest node (iterative: used to refuse over-deep trees)."""
    best, deepest = 0, expr
    stack = [(expr, 1)]
    while stack:
        node, d = stack.pop()
        if d > best:
            best, deepest = d, node
        stack.extend((child, d + 1) for child in node.children())
    return best, deepest


def references(expr: Expr) -> frozenset[str]:
    """Every name the expression uses: fields, repeating groups and context values.

    Function names are not references. The caller uses this for dependency order and to know
    which values an expression needs.
    """
    return frozenset(node.name for node in walk(expr) if isinstance(node, Name))
