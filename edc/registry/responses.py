"""A record's stored answers as QuestionnaireResponse items: one group per section, a repeating
section's rows as repeated groups (row ids in order), only the allow-listed items that may leave
(`questionnaire.fields_sent`), each answer typed and coded exactly as its Questionnaire item
(`edc.registry.questionnaire`, the one mapping)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import forms_dsl
from edc.item_address import ItemAddress
from edc.registry import questionnaire
from forms_dsl.model import Section

Item = dict[str, Any]


@dataclass(frozen=True)
class _Mapping:
    form: forms_dsl.Form
    sent: frozenset[str]
    study_slug: str
    base: str
    zone: ZoneInfo | None


def items(
    form: forms_dsl.Form,
    values: Mapping[str, object],
    allowed: Collection[str],
    *,
    study_slug: str,
    base: str,
    zone: ZoneInfo | None = None,
) -> list[Item]:
    """The response's items; a section (or row) with no answer to send is left out."""
    rows: dict[str, dict[int, dict[str, object]]] = {}
    top: dict[str, object] = {}
    for key, value in values.items():
        address = ItemAddress.of(key)
        if address is None:
            continue
        if address.row_key is None:
            top[address.field] = value
        else:
            group, row = address.row_key
            rows.setdefault(group, {}).setdefault(row, {})[address.field] = value
    how = _Mapping(form, questionnaire.fields_sent(form, allowed), study_slug, base, zone)
    found: list[Item] = []
    for section in form.sections:
        if section.repeat is None:
            found.extend(_group(how, section, top))
            continue
        for _row, row_values in sorted(rows.get(section.id, {}).items()):
            found.extend(_group(how, section, row_values))
    return found


def _group(how: _Mapping, section: Section, values: Mapping[str, object]) -> list[Item]:
    answered = []
    for field in section.fields:
        if field.id not in how.sent or field.id not in values:
            continue
        system = questionnaire.code_system(
            how.form, field, study_slug=how.study_slug, base=how.base
        )
        answers = questionnaire.answer(field, values[field.id], system=system, zone=how.zone)
        if answers:
            answered.append({"linkId": field.id, "answer": answers})
    if not answered:
        return []
    return [{"linkId": questionnaire.group_link_id(how.form, section), "item": answered}]
