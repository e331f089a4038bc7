"""CRF values between their three forms: typed (forms_dsl), stored (JSON) and posted (strings).

Stored JSON keeps exact meaning: decimals as text (no binary floats), dates as ISO text,
multichoice answers as sorted lists of codes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from forms_dsl import Evaluation, Form
from forms_dsl.model import Field, FieldType
from forms_dsl.types import Value, VType

Stored = None | bool | int | str | list[str]


def to_stored(value: Value) -> Stored:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, dt.datetime):
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
    return str(stored)


def flatten(evaluation: Evaluation) -> dict[str, Stored]:
    """Every stored item of an evaluation, keyed by its path (`field` or `group-row-field`)."""
    items: dict[str, Stored] = {k: to_stored(v) for k, v in evaluation.values.items()}
    for group, rows in evaluation.rows.items():
        for index, row in enumerate(rows):
            for field_id, value in row.items():
                items[f"{group}-{index}-{field_id}"] = to_stored(value)
    return items


def posted_from_stored(form: Form, stored: Mapping[str, Stored]) -> dict[str, str | list[str]]:
    """The posted-form view of stored items, for the first rendering of a saved record."""
    fields = form.fields
    posted: dict[str, str | list[str]] = {}
    for path, value in stored.items():
        field_id = path.rsplit("-", 1)[-1] if "-" in path else path
        field = fields.get(field_id)
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
        return dt.datetime.fromisoformat(stored)
    if field.type is FieldType.TIME and isinstance(stored, str):
        return dt.time.fromisoformat(stored)
    return stored  # type: ignore[return-value]


def typed_values(form: Form, stored: Mapping[str, Stored]) -> dict[str, Value]:
    """Top-level stored items of a record, typed (repeat rows are not decision inputs)."""
    fields = form.fields
    return {
        path: to_typed(fields[path], value)
        for path, value in stored.items()
        if path in fields and fields[path].repeat is None
    }
