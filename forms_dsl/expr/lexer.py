"""Expression text → tokens, refusing at once what is not part of the language.

The lexer is where most "this looks like another language" mistakes are caught (`&&`, `=`, `**`,
`%`, `.`), because the characters alone tell what the author meant, so the fix can be precise.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from forms_dsl.errors import ErrorCode
from forms_dsl.expr.limits import MAX_DIGITS, MAX_STRING, MAX_TEXT
from forms_dsl.expr.problems import ExprError, fail

TOO_LONG = ErrorCode(
    "E401",
    "the expression is {length} characters long; the limit is {limit}",
    "split the logic: compute parts in calculated fields and refer to them",
)
UNEXPECTED_CHARACTER = ErrorCode(
    "E402",
    "unexpected character `{char}`",
    "expressions are made of field ids, numbers, 'quoted text', ( ) [ ] , and the operators "
    "+ - * / == != < <= > >=; typographic quotes (‘ ’ “ ”) must be plain ' or \"",
)
UNTERMINATED_STRING = ErrorCode(
    "E403",
    "the text starting here has no closing quote",
    "strings need a closing quote: end the text with {quote}",
)
BAD_ESCAPE = ErrorCode(
    "E404",
    "unknown escape `\\{char}` in text",
    "only \\' \\\" and \\\\ are escapes; write other characters as they are",
)
STRING_TOO_LONG = ErrorCode(
    "E405",
    "a text literal is longer than {limit} characters",
    "shorten the text; long messages belong in the form's labels, not in expressions",
)
NUMBER_TOO_LONG = ErrorCode(
    "E406",
    "the number has {digits} digits; the limit is {limit}",
    "write a number with at most {limit} digits",
)
BAD_NUMBER = ErrorCode(
    "E407",
    "`{found}` is not a number",
    "write numbers as 12 or 3.5: digits on both sides of the point, no exponent, no unit",
)
WRONG_OPERATOR = ErrorCode(
    "E408",
    "`{found}` is not an operator of the language",
    "write `{instead}` instead of `{found}`",
)
NO_POWER = ErrorCode(
    "E409",
    "there is no power operator `**`",
    "multiply the value by itself (x * x), or compute the power in a calculated field",
)
NO_REMAINDER = ErrorCode(
    "E410",
    "there is no remainder operator `%`",
    "the language has + - * / only; compare ranges instead (x >= 10 and x < 20)",
)
NO_BITWISE = ErrorCode(
    "E411",
    "`{found}` is a bitwise operator, which is not part of the language",
    "combine conditions with `and`, `or` and `not`",
)
ATTRIBUTE_ACCESS = ErrorCode(
    "E412",
    "`{found}`: attribute access with `.` is not part of the language",
    "refer to a field by its id alone (e.g. `weight`); for a multichoice answer use "
    "selected(field, 'code')",
)
DUNDER_NAME = ErrorCode(
    "E413",
    "`{name}`: names starting with `__` are not allowed",
    "refer to fields, groups and context values by their ids",
)
KEYWORD_CASE = ErrorCode(
    "E414",
    "`{found}` is not a keyword of the language",
    "keywords are lower case: write `{instead}`",
)

KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "blank", "null"})
# Other spellings people bring from Python, SQL or spreadsheets, and what to write instead.
_KEYWORD_LOOKALIKES = {"none": "blank"} | {k: k for k in KEYWORDS}

TokenKind = Literal["number", "string", "name", "keyword", "op", "end"]


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str  # the source characters (for keywords and operators: the canonical spelling)
    offset: int
    value: int | Decimal | str | None = None  # numbers and strings: the literal's value

    def describe(self) -> str:
        """How the token is named in messages."""
        if self.kind == "end":
            return "the end of the expression"
        if self.kind == "number":
            return f"number {self.text}"
        if self.kind == "string":
            return f"text {self.text}"
        if self.kind == "name":
            return f"name `{self.text}`"
        return f"`{self.text}`"


_OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "(", ")", "[", "]", ",")
# Longest first, so that e.g. `===` is recognised before `==`.
_MISTAKES: tuple[tuple[str, ErrorCode, str], ...] = (
    ("===", WRONG_OPERATOR, "=="),
    ("!==", WRONG_OPERATOR, "!="),
    ("**", NO_POWER, ""),
    ("&&", WRONG_OPERATOR, "and"),
    ("||", WRONG_OPERATOR, "or"),
    ("<>", WRONG_OPERATOR, "!="),
    ("=>", WRONG_OPERATOR, ">="),
    ("=<", WRONG_OPERATOR, "<="),
    ("<<", NO_BITWISE, ""),
    (">>", NO_BITWISE, ""),
)
_SINGLE_MISTAKES: dict[str, tuple[ErrorCode, str]] = {
    "=": (WRONG_OPERATOR, "=="),
    "!": (WRONG_OPERATOR, "not"),
    "%": (NO_REMAINDER, ""),
    "&": (NO_BITWISE, ""),
    "|": (NO_BITWISE, ""),
    "^": (NO_BITWISE, ""),
    "~": (NO_BITWISE, ""),
}
_WHITESPACE = frozenset(" \t\r\n")
_DIGITS = frozenset("0123456789")
_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME_CHARS = _NAME_START | _DIGITS
_ESCAPES = frozenset("'\"\\")


def check_length(text: str) -> None:
    if len(text) > MAX_TEXT:
        raise fail(TOO_LONG, MAX_TEXT, length=len(text), limit=MAX_TEXT)


def tokenize(text: str) -> list[Token]:
    """All tokens of `text`, ending with an `end` token; raises ExprError on the first problem."""
    check_length(text)
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in _WHITESPACE:
            i += 1
        elif c in _DIGITS:
            token = _number(text, i)
            tokens.append(token)
            i += len(token.text)
        elif c in _NAME_START:
            token = _name(text, i)
            tokens.append(token)
            i += len(token.text)
        elif c in "'\"":
            token = _string(text, i)
            tokens.append(token)
            i += len(token.text)
        elif c == ".":
            raise _dot(text, i, tokens)
        else:
            tokens.append(_operator(text, i))
            i += len(tokens[-1].text)
    tokens.append(Token("end", "", n))
    return tokens


def _number(text: str, start: int) -> Token:
    i = start
    while i < len(text) and text[i] in _DIGITS:
        i += 1
    if i < len(text) and text[i] == ".":
        if i + 1 < len(text) and text[i + 1] in _DIGITS:
            i += 1
            while i < len(text) and text[i] in _DIGITS:
                i += 1
        else:
            raise fail(BAD_NUMBER, start, found=text[start : i + 1])
    if i < len(text) and (text[i] in _NAME_CHARS or text[i] == "."):
        end = i
        while end < len(text) and (text[end] in _NAME_CHARS or text[end] == "."):
            end += 1
        raise fail(BAD_NUMBER, start, found=_clip(text[start:end]))
    literal = text[start:i]
    digits = sum(ch in _DIGITS for ch in literal)
    if digits > MAX_DIGITS:
        raise fail(NUMBER_TOO_LONG, start, digits=digits, limit=MAX_DIGITS)
    value: int | Decimal = Decimal(literal) if "." in literal else int(literal)
    return Token("number", literal, start, value)


def _name(text: str, start: int) -> Token:
    i = start
    while i < len(text) and text[i] in _NAME_CHARS:
        i += 1
    word = text[start:i]
    if word.startswith("__"):
        raise fail(DUNDER_NAME, start, name=_clip(word))
    if word in KEYWORDS:
        return Token("keyword", word, start)
    lower = word.lower()
    if lower in _KEYWORD_LOOKALIKES:
        raise fail(KEYWORD_CASE, start, found=word, instead=_KEYWORD_LOOKALIKES[lower])
    return Token("name", word, start)


def _string(text: str, start: int) -> Token:
    quote = text[start]
    chars: list[str] = []
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == quote:
            return Token("string", text[start : i + 1], start, "".join(chars))
        if c == "\\":
            if i + 1 >= len(text):
                break
            escaped = text[i + 1]
            if escaped not in _ESCAPES:
                raise fail(BAD_ESCAPE, i, char=escaped)
            chars.append(escaped)
            i += 2
        else:
            chars.append(c)
            i += 1
        if len(chars) > MAX_STRING:
            raise fail(STRING_TOO_LONG, start, limit=MAX_STRING)
    raise fail(UNTERMINATED_STRING, start, quote=quote)


def _dot(text: str, i: int, tokens: list[Token]) -> ExprError:
    """A `.` is either a number written `.5` or an attempt at attribute access."""
    if i + 1 < len(text) and text[i + 1] in _DIGITS:
        end = i + 1
        while end < len(text) and text[end] in _DIGITS:
            end += 1
        before_is_value = bool(tokens) and (
            tokens[-1].kind in ("name", "string") or tokens[-1].text in (")", "]")
        )
        if not before_is_value:
            return fail(BAD_NUMBER, i, found=text[i:end])
    start = tokens[-1].offset if tokens else i
    end = i + 1
    while end < len(text) and text[end] in _NAME_CHARS:
        end += 1
    return fail(ATTRIBUTE_ACCESS, i, found=_clip(text[start:end]))


def _operator(text: str, i: int) -> Token:
    for spelling, code, instead in _MISTAKES:
        if text.startswith(spelling, i):
            raise fail(code, i, found=spelling, instead=instead)
    for spelling in _OPERATORS:
        if text.startswith(spelling, i):
            return Token("op", spelling, i)
    c = text[i]
    if c in _SINGLE_MISTAKES:
        code, instead = _SINGLE_MISTAKES[c]
        raise fail(code, i, found=c, instead=instead)
    shown = c if c.isprintable() and not c.isspace() else f"U+{ord(c):04X}"  # e.g. a pasted NBSP
    raise fail(UNEXPECTED_CHARACTER, i, char=shown)


def _clip(s: str, limit: int = 40) -> str:
    """Echo at most `limit` characters of the author's text back in a message."""
    return s if len(s) <= limit else s[: limit - 1] + "…"
