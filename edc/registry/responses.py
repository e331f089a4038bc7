"""A record's stored answers as QuestionnaireResponse items: one group per section, a repeating
section's rows as repeated groups (row ids in order), only the allow-listed items, and each
answer in the type its Questionnaire item has (`edc.registry.questionnaire`, one mapping)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import forms_dsl
from edc.item_address import ItemAddress
from edc.registry import questionnaire
from forms_dsl.model import Section

Item = dict[str, Any]


def items(
    form: forms_dsl.Form, values: Mapping[str, object], allowed: Collection[str]
) -> list[Item]:
    """The response's items; a section with no allowed answer is left out."""
    rows: dict[str, dict[int, dict[str, object]]] = {}
    top: dict[str, object] = {}
    for key, value in values.items():
        address = ItemAddress.of(key)
        if address is None or value is None or value == "" or value == []:
            continue
        if address.row_key is None:
            top[address.field] = value
        else:
            group, row = address.row_key
            rows.setdefault(group, {}).setdefault(row, {})[address.field] = value
    found: list[Item] = []
    for section in form.sections:
        if section.repeat is None:
            group = _group(section, top, allowed)
            found.extend([group] if group else [])
            continue
        for _row, row_values in sorted(rows.get(section.id, {}).items()):
            group = _group(section, row_values, allowed)
            found.extend([group] if group else [])
    return found


def _group(section: Section, values: Mapping[str, object], allowed: Collection[str]) -> Item | None:
    answered = [
        {"linkId": field.id, "answer": answer}
        for field in section.fields
        if field.id in allowed and field.id in values
        if (answer := questionnaire.answer(field, values[field.id]))
    ]
    return {"linkId": section.id, "item": answered} if answered else None
