"""Rows of repeating sections: which rows a request holds, and the id a new row gets.

A row's id is its identity for life: the items of row 7 are `group-7-field` from its first save
to its removal, whatever rows come or go around it, and ids are never reused (each record keeps
the next free one), so an item's history, its audit events and its conflicts are always one real
row's. The page posts one `row:<group>` marker per row, so that a row whose answers post nothing
(unticked radio buttons) still exists.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import TypeVar

import forms_dsl
from edc.errors import Invalid, NotFound
from edc.item_address import ANY_ROW_KEY, in_row
from edc.models.crf import FormRecord
from forms_dsl.engine import MAX_ROW_ID
from forms_dsl.model import Section

MARKER = "row:"
V = TypeVar("V")


class TooManyRows(Invalid):
    """A request holds more rows of a section than the form allows, or a row number no row can
    have: refused before any work (422, the generic page: nothing to correct on a form)."""

    def __init__(self, section: str) -> None:
        super().__init__()
        self.section = section


def posted_rows(
    form: forms_dsl.Form, answers: Iterable[str], markers: Mapping[str, Collection[str]]
) -> dict[str, list[int]]:
    """The row ids of each repeating section in a request: its markers and its answers' keys.

    Raises TooManyRows when a section holds more rows than its `repeat: max`.
    """
    sections = {s.id: s for s in form.sections if s.repeat is not None}
    found: dict[str, set[int]] = {group: set() for group in sections}
    for group, values in markers.items():
        if group in found:
            _add(found[group], sections[group], values)
    for key in answers:
        # Any row number's length: one too long for a row id is refused, never read as an
        # unknown answer and never converted at any length.
        match = ANY_ROW_KEY.fullmatch(key)
        if match and match["group"] in found:
            _add(found[match["group"]], sections[match["group"]], (match["row"],))
    return {group: sorted(ids) for group, ids in found.items()}


def _add(ids: set[int], section: Section, values: Iterable[str]) -> None:
    """Add posted row ids; a value that is no row id (too long, not digits) refuses the request."""
    assert section.repeat is not None
    for value in values:
        if not (value.isascii() and value.isdigit() and len(value) <= len(str(MAX_ROW_ID))):
            raise TooManyRows(section.id)
        ids.add(int(value))
        if len(ids) > section.repeat.max:
            raise TooManyRows(section.id)


def next_row_id(record: FormRecord | None, rows: Mapping[str, Collection[int]]) -> int:
    """The id a new row gets: past every id the record ever gave and every id on the page."""
    on_page = max((max(ids) for ids in rows.values() if ids), default=-1)
    return max(record.next_row if record is not None else 0, on_page + 1)


def first_rows(
    form: forms_dsl.Form, record: FormRecord | None, rows: Mapping[str, Collection[int]]
) -> dict[str, list[int]]:
    """The rows a form opens with: its stored rows, and for a section without any, as many
    empty rows as it needs (at least one), with fresh ids."""
    opened = {group: list(ids) for group, ids in rows.items()}
    start = next_row_id(record, rows)
    for section in form.sections:
        if section.repeat is None or opened.get(section.id):
            continue
        count = max(section.repeat.min, 1)
        opened[section.id] = list(range(start, start + count))
        start += count
    return opened


def without_row(
    posted: Mapping[str, V], rows: Mapping[str, list[int]], group: str, row_id: int
) -> tuple[dict[str, V], dict[str, list[int]]]:
    """The answers and rows with one row taken out; no other row changes."""
    answers = {k: v for k, v in posted.items() if not in_row(k, group, row_id)}
    remaining = {g: [i for i in ids if g != group or i != row_id] for g, ids in rows.items()}
    return answers, remaining


def changed_rows(
    form: forms_dsl.Form,
    record: FormRecord | None,
    posted: Mapping[str, V],
    rows: Mapping[str, list[int]],
    action: str,
) -> tuple[dict[str, V], dict[str, list[int]]]:
    """The answers and rows after `add_row:<group>` or `remove_row:<group>:<row id>`: a new row
    gets a fresh id (within the section's maximum); removing one takes out that row alone.
    Nothing is stored until the nurse saves. NotFound for a section the form does not repeat."""
    parts = action.split(":")
    section = next((s for s in form.sections if s.id == parts[1] and s.repeat), None)
    if section is None or section.repeat is None:
        raise NotFound()
    ids = rows.get(section.id, [])
    if parts[0] == "add_row":
        if len(ids) < section.repeat.max:
            return dict(posted), {**rows, section.id: [*ids, next_row_id(record, rows)]}
    elif len(parts) == 3 and parts[2].isdigit() and int(parts[2]) in ids:
        return without_row(posted, rows, section.id, int(parts[2]))
    return dict(posted), dict(rows)
