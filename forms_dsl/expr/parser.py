"""Tokens → syntax tree by precedence climbing, one function per precedence level.

From low to high: `or`; `and`; `not`; comparisons and `in` / `not in` (non-associative);
`+ -`; `* /`; unary `-`; calls and parentheses. Nesting is counted before each recursive step, so
a hostile `((((…` is refused at level MAX_DEPTH instead of exhausting Python's stack; the finished
tree's depth is bounded too, so every later stage can recurse safely.
"""

from __future__ import annotations

from decimal import Decimal

from forms_dsl.errors import ErrorCode
from forms_dsl.expr.lexer import Token, tokenize
from forms_dsl.expr.limits import MAX_ARGS, MAX_DEPTH, MAX_ITEMS, MAX_TREE_DEPTH
from forms_dsl.expr.nodes import (
    Binary,
    BinaryOp,
    Blank,
    Bool,
    Call,
    Expr,
    InList,
    Name,
    Number,
    String,
    Unary,
    depth,
)
from forms_dsl.expr.problems import fail

UNEXPECTED_TOKEN = ErrorCode(
    "E420",
    "unexpected {found}; expected {expected}",
    "check for a missing or extra operator, comma, quote or parenthesis just before it",
)
UNEXPECTED_END = ErrorCode(
    "E421",
    "the expression ends too early; expected {expected}",
    "complete the expression (e.g. `weight > 10`)",
)
UNCLOSED = ErrorCode(
    "E422",
    "`{open}` is never closed",
    "add the matching `{close}`",
)
UNMATCHED = ErrorCode(
    "E423",
    "`{found}` has no matching `{open}`",
    "remove it, or add the missing `{open}` before it",
)
CHAINED_COMPARISON = ErrorCode(
    "E424",
    "comparisons cannot be chained (`{first}` followed by `{second}`)",
    "compare twice and join with `and`: write `a < b and b < c`",
)
LIST_OUTSIDE_IN = ErrorCode(
    "E425",
    "a list `[...]` can only follow `in` or `not in`",
    "write e.g. `stage in ['L1', 'L2']`",
)
NO_INDEXING = ErrorCode(
    "E426",
    "indexing with `[...]` after {found} is not part of the language",
    "refer to a field by its id; across the rows of a repeating group use "
    "count/sum/min/max/any/all",
)
NOT_CALLABLE = ErrorCode(
    "E427",
    "`(` after {found}: only functions can be called",
    "put an operator between the value and the parenthesis, e.g. `a * (b + c)`",
)
TOO_DEEP = ErrorCode(
    "E428",
    "the expression is nested more than {limit} levels deep",
    "simplify it, or compute parts in calculated fields",
)
TOO_MANY_ITEMS = ErrorCode(
    "E429",
    "the list has more than {limit} items",
    "shorten the list, or test a choice field's codes with fewer, broader conditions",
)
TOO_MANY_ARGS = ErrorCode(
    "E430",
    "`{function}` is given more than {limit} arguments",
    "split the call into smaller ones, e.g. max(max(a, b), max(c, d))",
)
EMPTY_LIST = ErrorCode(
    "E431",
    "the list is empty, so `in` would never be true",
    "put the allowed values in the list: `x in ['a', 'b']`",
)
EMPTY = ErrorCode(
    "E432",
    "the expression is empty",
    "write a condition or a calculation, e.g. `weight > 10`",
)
PYTHON_IF = ErrorCode(
    "E433",
    "`if` after a value: `a if condition else b` is not part of the language",
    "write if(condition, value_if_true, value_if_false)",
)
IS_OPERATOR = ErrorCode(
    "E434",
    "`is` is not an operator",
    "to test for a blank value write is_blank(x); to compare write `==`",
)
IN_NEEDS_LIST = ErrorCode(
    "E435",
    "`{op}` needs a list in square brackets, found {found}",
    "write e.g. `x in ['a', 'b']`; for a multichoice answer use selected(field, 'code')",
)
TOO_COMPLEX = ErrorCode(
    "E436",
    "the expression chains more than {limit} operations",
    "split it into calculated fields and refer to them",
)

_BRACKETS = {"(": ")", "[": "]"}
_COMPARISON_OPS = ("==", "!=", "<", "<=", ">", ">=")
_BINARY_OPS: dict[str, BinaryOp] = {
    "==": "==",
    "!=": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
    "+": "+",
    "-": "-",
    "*": "*",
    "/": "/",
}


def parse(text: str) -> Expr:
    """Parse one expression; raises ExprError (syntax or limits) at the first problem."""
    tokens = tokenize(text)
    if tokens[0].kind == "end":
        raise fail(EMPTY, 0)
    parser = _Parser(tokens)
    expr = parser.expression()
    parser.finish()
    tree_depth, deepest = depth(expr)
    if tree_depth > MAX_TREE_DEPTH:
        raise fail(TOO_COMPLEX, deepest.offset, limit=MAX_TREE_DEPTH)
    return expr


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.nesting = 0

    # -- token helpers ---------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def at(self, kind: str, text: str | None = None) -> bool:
        return self.tok.kind == kind and (text is None or self.tok.text == text)

    def at_op(self, *texts: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in texts

    def at_keyword(self, word: str) -> bool:
        return self.tok.kind == "keyword" and self.tok.text == word

    def advance(self) -> Token:
        token = self.tok
        self.pos += 1
        return token

    def enter(self, token: Token) -> None:
        """One level deeper, opened by `token`; refused before Python's stack is at risk."""
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise fail(TOO_DEEP, token.offset, limit=MAX_DEPTH)

    def leave(self) -> None:
        self.nesting -= 1

    def unexpected(self, expected: str) -> Exception:
        token = self.tok
        if token.kind == "end":
            return fail(UNEXPECTED_END, token.offset, expected=expected)
        if token.kind == "op" and token.text in (")", "]"):
            opening = "(" if token.text == ")" else "["
            return fail(UNMATCHED, token.offset, found=token.text, open=opening)
        return fail(UNEXPECTED_TOKEN, token.offset, found=token.describe(), expected=expected)

    def close(self, opening: Token, expected: str) -> None:
        """Consume the bracket matching `opening`, or explain what is wrong."""
        closing = _BRACKETS[opening.text]
        if self.at_op(closing):
            self.advance()
            return
        if self.at("end"):
            raise fail(UNCLOSED, opening.offset, open=opening.text, close=closing)
        raise self.after_value(expected)

    def after_value(self, expected: str) -> Exception:
        """A value is complete but the next token cannot follow it: say why, precisely."""
        token = self.tok
        if token.kind == "name" and token.text == "if":
            return fail(PYTHON_IF, token.offset)
        if token.kind == "name" and token.text == "is":
            return fail(IS_OPERATOR, token.offset)
        return self.unexpected(expected)

    def finish(self) -> None:
        if not self.at("end"):
            raise self.after_value("an operator or the end of the expression")

    # -- precedence levels, lowest first ---------------------------------------------------

    def expression(self) -> Expr:
        return self.or_()

    def or_(self) -> Expr:
        left = self.and_()
        while self.at_keyword("or"):
            op = self.advance()
            left = Binary("or", left, self.and_(), offset=op.offset)
        return left

    def and_(self) -> Expr:
        left = self.not_()
        while self.at_keyword("and"):
            op = self.advance()
            left = Binary("and", left, self.not_(), offset=op.offset)
        return left

    def not_(self) -> Expr:
        if not self.at_keyword("not"):
            return self.comparison()
        op = self.advance()
        self.enter(op)
        operand = self.not_()
        self.leave()
        return Unary("not", operand, offset=op.offset)

    def comparison(self) -> Expr:
        left = self.additive()
        first = self.comparison_operator()
        if first is None:
            return left
        op_token = self.tok
        if first == "in":
            self.advance()
            result: Expr = self.in_list(left, op_token, negated=False)
        elif first == "not in":
            self.advance()
            self.advance()
            result = self.in_list(left, op_token, negated=True)
        else:
            self.advance()
            result = Binary(_binary_op(first), left, self.additive(), offset=op_token.offset)
        second = self.comparison_operator()
        if second is not None:
            raise fail(CHAINED_COMPARISON, self.tok.offset, first=first, second=second)
        return result

    def comparison_operator(self) -> str | None:
        if self.at_op(*_COMPARISON_OPS):
            return self.tok.text
        if self.at_keyword("in"):
            return "in"
        if self.at_keyword("not") and self.peek().kind == "keyword" and self.peek().text == "in":
            return "not in"
        return None

    def in_list(self, left: Expr, op: Token, *, negated: bool) -> Expr:
        if not self.at_op("["):
            if self.at("end"):
                raise self.unexpected("a list in square brackets")
            raise fail(
                IN_NEEDS_LIST,
                self.tok.offset,
                op="not in" if negated else "in",
                found=self.tok.describe(),
            )
        opening = self.advance()
        self.enter(opening)
        items: list[Expr] = []
        while not self.at_op("]"):
            if len(items) >= MAX_ITEMS:
                raise fail(TOO_MANY_ITEMS, self.tok.offset, limit=MAX_ITEMS)
            items.append(self.expression())
            if self.at_op(","):
                self.advance()
            elif not self.at_op("]"):
                if self.at("end"):
                    raise fail(UNCLOSED, opening.offset, open="[", close="]")
                raise self.after_value("`,` or `]`")
        if not items:
            raise fail(EMPTY_LIST, opening.offset)
        self.advance()
        self.leave()
        return InList(left, tuple(items), negated, offset=op.offset)

    def additive(self) -> Expr:
        left = self.multiplicative()
        while self.at_op("+", "-"):
            op = self.advance()
            right = self.multiplicative()
            left = Binary(_binary_op(op.text), left, right, offset=op.offset)
        return left

    def multiplicative(self) -> Expr:
        left = self.unary()
        while self.at_op("*", "/"):
            op = self.advance()
            right = self.unary()
            left = Binary(_binary_op(op.text), left, right, offset=op.offset)
        return left

    def unary(self) -> Expr:
        if not self.at_op("-"):
            return self.postfix()
        op = self.advance()
        self.enter(op)
        operand = self.unary()
        self.leave()
        return Unary("-", operand, offset=op.offset)

    def postfix(self) -> Expr:
        start = self.tok
        value = self.atom()
        if self.at_op("("):
            raise fail(NOT_CALLABLE, self.tok.offset, found=_written(start, value))
        if self.at_op("["):
            raise fail(NO_INDEXING, self.tok.offset, found=_written(start, value))
        return value

    def atom(self) -> Expr:
        token = self.tok
        if token.kind == "number":
            self.advance()
            assert isinstance(token.value, int | Decimal)
            return Number(token.value, offset=token.offset)
        if token.kind == "string":
            self.advance()
            assert isinstance(token.value, str)
            return String(token.value, offset=token.offset)
        if token.kind == "keyword" and token.text in ("true", "false"):
            self.advance()
            return Bool(token.text == "true", offset=token.offset)
        if token.kind == "keyword" and token.text in ("blank", "null"):
            self.advance()
            return Blank(offset=token.offset)
        if token.kind == "name":
            self.advance()
            if self.at_op("("):
                return self.call(token)
            return Name(token.text, offset=token.offset)
        if self.at_op("("):
            opening = self.advance()
            self.enter(opening)
            inner = self.expression()
            self.close(opening, "`)` or an operator")
            self.leave()
            return inner
        if self.at_op("["):
            raise fail(LIST_OUTSIDE_IN, token.offset)
        raise self.unexpected("a value: a name, a number, 'text', true, false, blank or `(`")

    def call(self, name: Token) -> Expr:
        opening = self.advance()
        self.enter(opening)
        args: list[Expr] = []
        while not self.at_op(")"):
            if len(args) >= MAX_ARGS:
                raise fail(TOO_MANY_ARGS, self.tok.offset, function=name.text, limit=MAX_ARGS)
            args.append(self.expression())
            if self.at_op(","):
                self.advance()
            elif not self.at_op(")"):
                if self.at("end"):
                    raise fail(UNCLOSED, opening.offset, open="(", close=")")
                raise self.after_value("`,` or `)`")
        self.advance()
        self.leave()
        return Call(name.text, tuple(args), offset=name.offset)


def _binary_op(text: str) -> BinaryOp:
    return _BINARY_OPS[text]


def _written(start: Token, value: Expr) -> str:
    """How to name a value in a message: its first token, which is what the author sees."""
    if isinstance(value, Name):
        return f"`{value.name}`"
    if start.kind == "op" and start.text == "(":
        return "a parenthesised value"
    return start.describe()
