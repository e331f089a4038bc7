"""Typed values from what authors write (YAML defaults, literal limits) and what browsers post.

Browsers post strings: dates and date-times as typed in the reader's language (`31/12/2026`,
`31.12.2026 14:30`; ISO always accepted, see `forms_dsl.dates`), `14:30` for time, `yes`/`no`
for yes/no radios, codes for choices, several values for checkboxes.
Decimals accept a comma or a point (French, German, Italian and Spanish staff type commas).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import NoReturn

from forms_dsl import dates
from forms_dsl.model import ChoiceList, Field, FieldType
from forms_dsl.types import Value

_INT = re.compile(r"[+-]?[0-9]{1,18}")
_DEC = re.compile(r"[+-]?(?:[0-9]{1,18}(?:[.,][0-9]{0,12})?|[.,][0-9]{1,12})")
_TIME = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?")
_YES = {"yes", "true", "1", "y"}
_NO = {"no", "false", "0", "n"}


class BadValue(Exception):
    """A value of the wrong shape: `kind` keys the message, `params` fill it."""

    def __init__(self, kind: str, problem: str, fix: str, **params: object) -> None:
        super().__init__(problem)
        self.kind = kind
        self.problem = problem
        self.fix = fix
        self.params = params


def parse_text(
    raw: str, ftype: FieldType, choices: ChoiceList | None, lang: str | None = None
) -> Value:
    """One posted or written string → the field type's value (blank when empty). Dates and
    date-times are read as `lang` writes them, or ISO; without `lang` (authors' YAML), ISO only."""
    text = raw.strip()
    if text == "":
        return None
    if lang is not None and ftype in (FieldType.DATE, FieldType.DATETIME):
        return _written_date(text, ftype, lang)
    if ftype in (FieldType.TEXT, FieldType.TEXTAREA):
        return raw.strip("\r\n") if ftype is FieldType.TEXTAREA else text
    if ftype is FieldType.INTEGER:
        if not _INT.fullmatch(text):
            raise BadValue("integer", "not a whole number", "write digits only, e.g. 12")
        return int(text)
    if ftype is FieldType.DECIMAL:
        if not _DEC.fullmatch(text):
            raise BadValue("decimal", "not a number", "write e.g. 3.5")
        return Decimal(text.replace(",", "."))
    if ftype is FieldType.DATE:
        try:
            return dt.date.fromisoformat(text) if len(text) == 10 else _fail("date")
        except ValueError:
            _fail("date")
    if ftype is FieldType.DATETIME:
        try:
            if len(text) < 16:  # a date alone is not a date and time
                _fail("datetime")
            value = dt.datetime.fromisoformat(text.replace(" ", "T"))
        except ValueError:
            _fail("datetime")
        if value.tzinfo is not None:
            _fail("datetime")
        return value.replace(second=value.second, microsecond=0)
    if ftype is FieldType.TIME:
        match = _TIME.fullmatch(text)
        if not match:
            _fail("time")
        return dt.time(int(match[1]), int(match[2]), int(match[3] or 0))
    if ftype is FieldType.YESNO:
        folded = text.lower()
        if folded in _YES:
            return True
        if folded in _NO:
            return False
        raise BadValue("yesno", "not yes or no", "write `yes` or `no`")
    if ftype is FieldType.CHOICE:
        if choices is None or text not in choices.codes:
            raise BadValue("choice", f"{text!r} is not one of the codes", "use one of the codes")
        return text
    if ftype is FieldType.MULTICHOICE:
        return parse_many([text], choices)
    return None


def parse_many(raws: Sequence[str], choices: ChoiceList | None) -> Value:
    codes = frozenset(r.strip() for r in raws if r.strip())
    if not codes:
        return None
    if choices is None or not codes <= choices.codes:
        raise BadValue("choice", "not one of the codes", "use only listed codes")
    return codes


def _written_date(text: str, ftype: FieldType, lang: str) -> Value:
    """A date or date-time typed by a person in `lang`; BadValue says how it is written there."""
    try:
        if ftype is FieldType.DATE:
            return dates.parse_date(text, lang)
        return dates.parse_datetime(text, lang)
    except dates.DateError as bad:
        kind = bad.kind if bad.kind == "no_such_date" else ftype.value
        sample = dt.datetime(2026, 12, 31, 14, 30)
        example = (
            dates.format_date(sample.date(), lang)
            if ftype is FieldType.DATE
            else dates.format_datetime(sample, lang)
        )
        hint = (
            dates.placeholder(lang) if ftype is FieldType.DATE else dates.datetime_placeholder(lang)
        )
        raise BadValue(
            kind, f"not a {kind}", f"write e.g. {example}", format=hint, example=example,
            date=bad.text,
        ) from None  # fmt: skip


def _fail(kind: str) -> NoReturn:
    examples = {"date": "2026-03-01", "datetime": "2026-03-01 14:30", "time": "14:30"}
    formats = {"date": "yyyy-mm-dd", "datetime": "yyyy-mm-dd hh:mm", "time": "hh:mm"}
    raise BadValue(
        kind, f"not a {kind}", f"write e.g. {examples[kind]}", format=formats[kind],
        example=examples[kind],
    )  # fmt: skip


def parse_input(raw: str | Sequence[str] | None, field: Field, lang: str | None = None) -> Value:
    """What a browser posted for one field (dates as `lang` writes them) → its value; raises
    BadValue."""
    if raw is None:
        return None
    if field.type is FieldType.MULTICHOICE:
        return parse_many([raw] if isinstance(raw, str) else list(raw), field.choices)
    text = raw if isinstance(raw, str) else (raw[-1] if raw else "")
    value = parse_text(text, field.type, field.choices, lang)
    if isinstance(value, Decimal) and field.decimals is not None:
        exponent = value.as_tuple().exponent  # an int for every finite number
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        if places > field.decimals:
            raise BadValue("decimals", "too many decimal places", "round it", places=field.decimals)
    return value


def parse_literal(value: object, ftype: FieldType, choices: ChoiceList | None) -> Value:
    """A YAML scalar (default, literal min/max) → the field type's value; raises BadValue."""
    if value is None:
        return None
    if ftype is FieldType.YESNO and isinstance(value, bool):
        return value
    if isinstance(value, bool):
        raise BadValue("yesno", "true/false given to a non yes/no field", "write a value")
    if ftype is FieldType.MULTICHOICE:
        return parse_many(str(value).split(","), choices)
    return parse_text(str(value), ftype, choices)
