"""forms_dsl model + posted strings + evaluation → what the CRF page renders, field by field.

The only module that knows both the form language and the web layer. It holds no rules: whether
a field shows, what a calculation gives and which answer is wrong all come from forms_dsl's
evaluation; this module only shapes them for the Jinja macros (input names, types, choices and
texts in the reader's language).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import forms_dsl
from edc.i18n import _
from forms_dsl.model import Field, FieldType, Section

INPUT_TYPES = {
    FieldType.TEXT: "text",
    FieldType.INTEGER: "number",
    FieldType.DECIMAL: "text",
    FieldType.DATE: "date",
    FieldType.DATETIME: "datetime-local",
    FieldType.TIME: "time",
}
#: Errors worth showing while typing; "required" waits until the nurse saves.
LIVE_KINDS = {"required", "too_few_rows"}

Posted = Mapping[str, "str | Sequence[str]"]


@dataclass
class FieldView:
    id: str
    name: str  # the posted key: `field` or `group-row-field`
    type: str
    label: str
    hint: str
    unit: str
    widget: str
    input_type: str
    value: str
    values: list[str]
    choices: list[tuple[str, str]]
    required: bool
    readonly: bool
    shown: bool
    calc_value: str = ""
    errors: list[str] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (confirm key, message)
    change: tuple[str, str] | None = None  # (old, new) when a reason for change is asked
    has_history: bool = False


@dataclass
class SectionView:
    id: str
    title: str
    shown: bool
    repeat: bool
    rows: list[list[FieldView]]
    max_rows: int = 0
    errors: list[str] = field(default_factory=list)


def display_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, frozenset | list | tuple):
        return ", ".join(sorted(str(v) for v in value))
    return str(value)


def row_count(section: Section, posted: Posted) -> int:
    prefix = f"{section.id}-"
    indices = {
        int(key.split("-")[1])
        for key in posted
        if key.startswith(prefix) and key.count("-") == 2 and key.split("-")[1].isdigit()
    }
    return max(indices) + 1 if indices else max(section.repeat.min if section.repeat else 0, 1)


def page(
    form: forms_dsl.Form,
    posted: Posted,
    result: forms_dsl.Evaluation,
    lang: str,
    *,
    live: bool = False,
    changes: Mapping[str, tuple[str, str]] | None = None,
    history_paths: frozenset[str] = frozenset(),
    rows: Mapping[str, int] | None = None,
) -> list[SectionView]:
    """Sections with their fields' values, visibility, calculations and messages."""
    from edc.services.data_entry import warning_key  # the key the save expects

    changes = changes or {}
    issues: dict[tuple[str, int | None], list[forms_dsl.Issue]] = {}
    for issue in (*result.errors, *result.warnings):
        if live and issue.kind in LIVE_KINDS:
            continue
        issues.setdefault((issue.field, issue.row), []).append(issue)

    def view(f: Field, name: str, row: int | None, shown: bool, calc: object) -> FieldView:
        raw = posted.get(name, "")
        values = list(raw) if isinstance(raw, list | tuple) else ([raw] if raw else [])
        choices = (
            [(c.code, c.label.get(lang)) for c in f.choices.choices]
            if f.choices is not None
            else []
        )
        if f.type is FieldType.YESNO:
            choices = [("yes", _("Yes")), ("no", _("No"))]
        found = issues.get((f.id, row), [])
        return FieldView(
            id=f.id,
            name=name,
            type=f.type.value,
            label=f.label.get(lang),
            hint=f.hint.get(lang) if f.hint else "",
            unit=f.unit,
            widget=f.widget or ("radio" if f.type in (FieldType.CHOICE, FieldType.YESNO) else ""),
            input_type=INPUT_TYPES.get(f.type, "text"),
            value=raw if isinstance(raw, str) else "",
            values=values,
            choices=choices,
            required=f.required,
            readonly=f.readonly,
            shown=shown,
            calc_value=display_text(calc),
            errors=[i.message for i in found if i.severity.value == "error"],
            warnings=[(warning_key(i), i.message) for i in found if i.severity.value == "warning"],
            change=changes.get(name),
            has_history=name in history_paths,
        )

    sections = []
    for section in form.sections:
        shown = (
            section.id in result.shown
            if section.repeat
            else any(f.id in result.shown for f in section.fields) or not section.fields
        )
        if section.repeat is None:
            cells = [
                view(f, f.id, None, f.id in result.shown, result.values.get(f.id))
                for f in section.fields
            ]
            sections.append(SectionView(section.id, section.title.get(lang), shown, False, [cells]))
            continue
        count = (rows or {}).get(section.id, row_count(section, posted))
        visible_rows = result.shown_in_rows.get(section.id, [])
        stored_rows = result.rows.get(section.id, [])
        grid = []
        for index in range(count):
            visible = (
                visible_rows[index]
                if index < len(visible_rows)
                else {f.id for f in section.fields if f.show_if is None}
            )
            stored = stored_rows[index] if index < len(stored_rows) else {}
            grid.append(
                [
                    view(
                        f, f"{section.id}-{index}-{f.id}", index, f.id in visible, stored.get(f.id)
                    )
                    for f in section.fields
                ]
            )
        group_errors = [
            i.message for i in result.errors if i.row is None and i.kind.endswith("_rows")
            and any(f.id == i.field for f in section.fields)
        ]  # fmt: skip
        sections.append(
            SectionView(
                section.id, section.title.get(lang), shown, True, grid,
                section.repeat.max, group_errors,
            )
        )  # fmt: skip
    return sections
