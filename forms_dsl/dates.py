"""Dates as people of each portal language write them, whatever the device's own locale.

One written form per language, taken from the CLDR short date patterns but normalised to two
digits for day and month and four for the year (a two-digit year is ambiguous for a birth date):

    en  dd/mm/yyyy   the English of a European network (UK and international usage), not the
                     US month-first order: an English-speaking nurse in Europe reads 03/04 as
                     the 3rd of April
    fr  jj/mm/aaaa   de  TT.MM.JJJJ   it  gg/mm/aaaa   es  dd/mm/aaaa

Times are 24-hour `hh:mm`. Reading is forgiving where it cannot mislead: the ISO form
(`2026-03-01`, year first, so never confused with a day) is always accepted, day and month
may have one digit, any of `/ . -` separates them, and the digits alone (`01032026`) are read
in the language's order (a tablet's numeric keypad has no separators). Impossible dates
(31/02) are refused as such. Storage stays ISO: these forms are only what people read and type.

This module is the one place that knows the formats; the web side (`edc.dates`) uses it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class DateStyle:
    """How a language writes a date: the order of day, month and year, the separator, and the
    letters that stand for them in a blank field (the placeholder)."""

    order: str  # "dmy", "mdy" or "ymd"
    sep: str
    placeholder: str


STYLES: dict[str, DateStyle] = {
    "en": DateStyle("dmy", "/", "dd/mm/yyyy"),
    "fr": DateStyle("dmy", "/", "jj/mm/aaaa"),
    "de": DateStyle("dmy", ".", "TT.MM.JJJJ"),
    "it": DateStyle("dmy", "/", "gg/mm/aaaa"),
    "es": DateStyle("dmy", "/", "dd/mm/aaaa"),
}
TIME_PLACEHOLDER = "hh:mm"

_ISO = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
_WRITTEN = re.compile(r"([0-9]{1,4})([./-])([0-9]{1,2})\2([0-9]{1,4})")
_COMPACT = re.compile(r"[0-9]{8}")
_TIME = re.compile(r"([0-9]{1,2})[:h.]([0-9]{2})(?::([0-9]{2}))?")
_SPLIT = re.compile(r"\s*(?:T|,?\s+)\s*")


class DateError(ValueError):
    """Text that is not a date: `kind` is "date" (not written as one) or "no_such_date" (a day
    the calendar does not have); `text` is the date part as written."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(f"{kind}: {text!r}")
        self.kind = kind
        self.text = text


def style(lang: str) -> DateStyle:
    """The language's style; unknown languages write dates as English does."""
    return STYLES.get(lang.split("_")[0].split("-")[0].lower(), STYLES["en"])


def placeholder(lang: str) -> str:
    return style(lang).placeholder


def datetime_placeholder(lang: str) -> str:
    return f"{placeholder(lang)} {TIME_PLACEHOLDER}"


def format_date(value: dt.date, lang: str) -> str:
    """`value` as the language writes it: 31/12/2026, 31.12.2026."""
    s = style(lang)
    parts = {"d": f"{value.day:02d}", "m": f"{value.month:02d}", "y": f"{value.year:04d}"}
    return s.sep.join(parts[k] for k in s.order)


def format_datetime(value: dt.datetime, lang: str) -> str:
    """A wall-clock date-time as the language writes it: 31/12/2026 14:30."""
    return f"{format_date(value.date(), lang)} {value.hour:02d}:{value.minute:02d}"


def _day(year: int, month: int, day: int, text: str) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError:
        raise DateError("no_such_date", text) from None


def parse_date(text: str, lang: str) -> dt.date:
    """Typed text → a date: the language's form, its digits alone, or ISO; raises DateError."""
    text = text.strip()
    if m := _ISO.fullmatch(text):
        return _day(int(m[1]), int(m[2]), int(m[3]), text)
    order = style(lang).order
    parts: list[str] = []
    if m := _WRITTEN.fullmatch(text):
        parts = [m[1], m[3], m[4]]
    elif _COMPACT.fullmatch(text):
        widths = {"d": 2, "m": 2, "y": 4}
        at = 0
        for key in order:
            parts.append(text[at : at + widths[key]])
            at += widths[key]
    else:
        raise DateError("date", text)
    found = dict(zip(order, parts, strict=True))
    if len(found["y"]) != 4 or len(found["d"]) > 2:
        raise DateError("date", text)
    return _day(int(found["y"]), int(found["m"]), int(found["d"]), text)


def parse_datetime(text: str, lang: str) -> dt.datetime:
    """Typed text → a naive date-time (date as `parse_date` reads it, then a 24-hour time);
    raises DateError ("datetime" when no time or an impossible one is written)."""
    text = text.strip()
    pieces = _SPLIT.split(text, maxsplit=1)
    if len(pieces) != 2 and _COMPACT.fullmatch(text[:8]) and len(text) == 12:
        pieces = [text[:8], f"{text[8:10]}:{text[10:]}"]  # digits alone, time included
    if len(pieces) != 2:
        raise DateError("datetime", text)
    day = parse_date(pieces[0], lang)
    m = _TIME.fullmatch(pieces[1])
    if not m or int(m[1]) > 23 or int(m[2]) > 59 or int(m[3] or 0) > 59:
        raise DateError("datetime", text)
    return dt.datetime.combine(day, dt.time(int(m[1]), int(m[2]), int(m[3] or 0)))


def as_written(text: str, lang: str, with_time: bool = False) -> str:
    """ISO text (as stored) rewritten as the language writes it; anything else unchanged, so
    what a person typed, right or wrong, is shown back exactly as typed."""
    stripped = text.strip()
    try:
        if with_time and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}", stripped):
            return format_datetime(dt.datetime.fromisoformat(stripped.replace(" ", "T")), lang)
        if not with_time and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", stripped):
            return format_date(dt.date.fromisoformat(stripped), lang)
    except ValueError:
        return text
    return text
