"""Value types shared by the model, the expression checker and the engine.

Runtime values: `None` is blank; numbers are `int` or `Decimal`; text and choice codes are `str`;
dates, datetimes and times are `datetime.date`, `datetime.datetime` (naive, local to the site) and
`datetime.time`; yes/no is `bool`; a multichoice answer is a `frozenset[str]` of codes.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from decimal import Decimal

Value = None | bool | int | Decimal | str | dt.date | dt.datetime | dt.time | frozenset[str]


class VType(enum.Enum):
    """What an expression (or a field, seen from an expression) evaluates to."""

    NUMBER = "number"
    TEXT = "text"
    CODE = "code"  # one choice code: compares with text literals and `in [...]`
    CODES = "codes"  # a multichoice answer: use selected(field, 'code') or count(field)
    DATE = "date"
    DATETIME = "datetime"
    TIME = "time"
    BOOL = "yes/no"
    GROUP = "repeating group"  # a repeat's id: only count(group)
    BLANK = "blank"  # the literal `blank`/`null`, compatible with anything
    ANY = "any"  # unknown after an earlier error: never reported again


@dataclass(frozen=True)
class FieldInfo:
    """What the expression checker needs to know about a name it can reference.

    `repeat` is the id of the repeating group the field lives in (None at top level); `codes` is
    the set of valid codes of a choice/multichoice field; `context` marks values supplied by the
    application (e.g. the subject's date of birth) rather than entered on the form.
    """

    vtype: VType
    repeat: str | None = None
    codes: frozenset[str] | None = None
    context: bool = False
