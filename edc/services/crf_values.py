"""CRF values between their three forms: typed (forms_dsl), stored (JSON) and posted (strings).

Stored JSON keeps exact meaning: decimals as text (no binary floats), dates as ISO text,
date-times as ISO text with the site's UTC offset at that moment (`2026-03-29T10:30+02:00`: the
wall clock the nurse typed, and the instant it was), multichoice answers as sorted lists of codes.
Items of repeating sections are keyed `group-<row id>-field`, with the row's id for life.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import cast
from zoneinfo import ZoneInfo

from edc.item_address import ItemAddress, field_of
from forms_dsl import Evaluation, Form
from forms_dsl.model import Field, FieldType
from forms_dsl.types import Value, VType

Stored = None | bool | int | str | list[str]


def as_stored(value: object) -> Stored:
    """A value read from the JSON column, as the type it was written with (see `Stored`)."""
    return cast(Stored, value)


#: A date-time stored before offsets were kept: the site's wall clock alone.
_NAIVE_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}")


def to_stored(value: Value, zone: ZoneInfo | None = None) -> Stored:
    """A typed value as JSON; a date-time (the site's wall clock) gets `zone`'s offset then."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, dt.datetime):
        if zone is not None and value.tzinfo is None:
            value = value.replace(tzinfo=zone)
        return value.isoformat(timespec="minutes")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__}")


def to_posted(field: Field, stored: Stored) -> str | list[str]:
    """What the browser would post for this stored value (to refill a form)."""
    if stored is None:
        return [] if field.type is FieldType.MULTICHOICE else ""
    if isinstance(stored, list):
        return [str(code) for code in stored]
    if isinstance(stored, bool):
        return "yes" if stored else "no"
    if field.type is FieldType.DATETIME and isinstance(stored, str):
        return stored[:16]  # the wall clock, as a datetime-local input shows it
    return str(stored)


def same_stored(old: Stored, new: Stored) -> bool:
    """Whether a stored value and a new one say the same: a date-time kept before offsets were
    stored equals the same wall clock with its offset (no change, no reason asked)."""
    if old == new:
        return True
    return (
        isinstance(old, str)
        and isinstance(new, str)
        and _NAIVE_DATETIME.fullmatch(old) is not None
        and new.startswith(old)
        and len(new) > len(old)
    )


def flatten(evaluation: Evaluation, zone: ZoneInfo | None = None) -> dict[str, Stored]:
    """Every stored item of an evaluation, keyed by its path (`field` or `group-<row id>-field`);
    date-times get `zone`'s offset."""
    items: dict[str, Stored] = {k: to_stored(v, zone) for k, v in evaluation.values.items()}
    for group, rows in evaluation.rows.items():
        ids = evaluation.row_ids.get(group, [])
        for row_id, row in zip(ids, rows, strict=True):
            for field_id, value in row.items():
                items[ItemAddress(field_id, group, row_id).key] = to_stored(value, zone)
    return items


def posted_from_stored(form: Form, stored: Mapping[str, Stored]) -> dict[str, str | list[str]]:
    """The posted-form view of stored items, for the first rendering of a saved record."""
    fields = form.fields
    posted: dict[str, str | list[str]] = {}
    for path, value in stored.items():
        field = fields.get(field_of(path))
        if field is not None and field.type is not FieldType.CALC:
            posted[path] = to_posted(field, value)
    return posted


def to_typed(field: Field, stored: Stored) -> Value:
    """A stored value back to the type forms_dsl computes with (decision tables, expressions)."""
    if stored is None:
        return None
    if field.type is FieldType.MULTICHOICE and isinstance(stored, list):
        return frozenset(stored)
    kind = field.vtype
    if isinstance(stored, str) and kind is VType.NUMBER:
        return Decimal(stored)
    if field.type is FieldType.CALC and isinstance(stored, str) and kind is VType.DATE:
        return dt.date.fromisoformat(stored)
    if field.type is FieldType.DATE and isinstance(stored, str):
        return dt.date.fromisoformat(stored)
    if field.type is FieldType.DATETIME and isinstance(stored, str):
        return dt.datetime.fromisoformat(stored).replace(tzinfo=None)  # the site's wall clock
    if field.type is FieldType.TIME and isinstance(stored, str):
        return dt.time.fromisoformat(stored)
    return cast(Value, stored)  # text, numbers and code lists are values as they are


def typed_values(form: Form, stored: Mapping[str, Stored]) -> dict[str, Value]:
    """Top-level stored items of a record, typed (repeat rows are not decision inputs)."""
    fields = form.fields
    return {
        path: to_typed(fields[path], value)
        for path, value in stored.items()
        if path in fields and fields[path].repeat is None
    }
