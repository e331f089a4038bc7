"""forms_dsl model + posted strings + evaluation → the CRF page's WTForms form and field views.

The only module that knows both the form language and the web layer. `form_class()` builds a
WTForms class from a form's model (one field per input, in the reader's language; rows of a
repeating section are a row class bound with a `section-row` prefix), so inputs render through
WTForms widgets and the CSRF token comes with the form. It holds no rules: WTForms validates
nothing here but the token; whether a field shows, what a calculation gives and which answer is
wrong all come from forms_dsl's evaluation, which this module only shapes for the Jinja macros.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from werkzeug.datastructures import MultiDict
from wtforms import (
    Form,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.fields.choices import SelectChoice
from wtforms.fields.core import Field as Input
from wtforms.fields.core import UnboundField

import forms_dsl
from edc import widgets as fast
from edc.forms import AppForm
from edc.i18n import _, _l
from edc.services.crf_values import row_of
from edc.services.identifiers import masked_text
from forms_dsl.dependencies import affected
from forms_dsl.model import Field, FieldType

#: The widget of each typed input; the browser's own pickers for dates and times.
INPUT_WIDGETS = {
    FieldType.TEXT: fast.TextInput(),
    FieldType.INTEGER: fast.NumberInput(),
    FieldType.DECIMAL: fast.TextInput(),  # comma decimals are fine: no type="number"
    FieldType.DATE: fast.DateInput(),
    FieldType.DATETIME: fast.DateTimeLocalInput(),
    FieldType.TIME: fast.TimeInput(),
}
NOT_INPUTS = {FieldType.CALC, FieldType.NOTE}
DEFAULT_WIDGETS = {
    FieldType.CHOICE: "radio",
    FieldType.YESNO: "radio",
    FieldType.MULTICHOICE: "checkbox",
}
#: Errors worth showing while typing; "required" waits until the nurse saves.
LIVE_KINDS = {"required", "too_few_rows"}

Posted = Mapping[str, "str | Sequence[str]"]


class CrfForm(AppForm):
    """Base of every CRF form class: the CSRF token, and no other validation."""


class CrfRowForm(Form):
    """Base of the row classes of repeating sections (the token travels with the CRF form)."""


@dataclass
class FieldView:
    id: str
    name: str  # the posted key: `field` or `group-row-field`
    type: str
    label: str
    hint: str
    unit: str
    widget: str
    input: Input | None  # the bound WTForms field; None for calculations and notes
    required: bool
    readonly: bool
    shown: bool
    calc_value: str = ""
    errors: list[str] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (confirm key, message)
    change: tuple[str, str] | None = None  # (old, new) when a reason for change is asked
    reason: tuple[str, str] = ("", "")  # (standard reason code, text) typed so far
    reason_missing: bool = False  # a change without a reason of its own or one for all
    has_history: bool = False
    masked: bool = False  # an identifier item the reader may not see: no input, no value


@dataclass
class SectionView:
    id: str
    title: str
    shown: bool
    repeat: bool
    rows: list[list[FieldView]]
    max_rows: int = 0
    errors: list[str] = field(default_factory=list)
    row_ids: list[int] = field(default_factory=list)  # each row's id for life (see repeat_rows)


@dataclass
class RemovedItem:
    """An item of a removed row: no longer on the form, its reason is asked beside the list."""

    name: str
    label: str
    old: str
    reason: tuple[str, str]
    reason_missing: bool


@dataclass
class ReasonsView:
    """A complete record's pending changes: how many need a reason, the reason for all, the
    study's standard reasons and the removed items."""

    count: int = 0
    for_all: tuple[str, str] = ("", "")
    standard: list[tuple[str, str]] = field(default_factory=list)
    removed: list[RemovedItem] = field(default_factory=list)


@dataclass(frozen=True)
class Problem:
    """One answer to look at again, for the summary at the top of a refused save."""

    anchor: str  # the id of the field's (or section's) element on the page
    label: str
    message: str
    warning: bool = False


@dataclass
class PageView:
    form: CrfForm  # renders the CSRF token
    sections: list[SectionView]
    reasons: ReasonsView = field(default_factory=ReasonsView)

    @property
    def problems(self) -> list[Problem]:
        """Every error, then every warning, in page order: a long form's summary of what to fix."""
        found: list[Problem] = []
        for section in self.sections:
            if not section.shown:
                continue
            found += [Problem(f"section-{section.id}", section.title, m) for m in section.errors]
            for n, row in enumerate(section.rows, start=1):
                for f in row:
                    if not f.shown:
                        continue
                    label = f"{f.label} ({_('Row %(n)d', n=n)})" if section.repeat else f.label
                    found += [Problem(f"field-{f.name}", label, m) for m in f.errors]
                    if f.reason_missing:
                        found.append(
                            Problem(f"field-{f.name}", label, _("Give a reason for this change."))
                        )
                    found += [Problem(f"field-{f.name}", label, m, True) for _k, m in f.warnings]
        found += [
            Problem(f"field-{r.name}", r.label, _("Give a reason for removing this answer."))
            for r in self.reasons.removed
            if r.reason_missing
        ]
        return sorted(found, key=lambda p: p.warning)  # stable: errors first, page order kept


def choices_of(f: Field, lang: str) -> list[SelectChoice]:
    if f.type is FieldType.YESNO:
        return [SelectChoice("yes", _("Yes")), SelectChoice("no", _("No"))]
    return [SelectChoice(c.code, c.label.get(lang)) for c in f.choices.choices] if f.choices else []


def input_field(f: Field, lang: str) -> UnboundField | None:
    """The WTForms field of one forms_dsl field: it keeps the raw string, forms_dsl judges it."""
    label = f.label.get(lang)
    if f.type in NOT_INPUTS:
        return None
    if f.type is FieldType.TEXTAREA:
        return TextAreaField(label)
    if f.type is FieldType.MULTICHOICE:
        return SelectMultipleField(
            label, choices=choices_of(f, lang), validate_choice=False,
            widget=widgets.ListWidget(prefix_label=False), option_widget=fast.CheckboxInput(),
        )  # fmt: skip
    if f.type in (FieldType.CHOICE, FieldType.YESNO):
        if f.widget == "dropdown":
            return SelectField(
                label, choices=[SelectChoice("", "–"), *choices_of(f, lang)], validate_choice=False
            )
        return RadioField(
            label, choices=choices_of(f, lang), validate_choice=False,
            option_widget=fast.RadioInput(),
        )  # fmt: skip
    kw = {"inputmode": "decimal"} if f.type is FieldType.DECIMAL else None
    return StringField(label, widget=INPUT_WIDGETS.get(f.type, fast.TextInput()), render_kw=kw)


class _Same:
    """A form model as a cache key by identity (models are frozen and shared, not hashable)."""

    def __init__(self, form: forms_dsl.Form) -> None:
        self.form = form

    def __hash__(self) -> int:
        return id(self.form)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.form is self.form


@lru_cache(maxsize=512)
def _classes(key: _Same, lang: str) -> tuple[type[CrfForm], dict[str, type[CrfRowForm]]]:
    form = key.form
    top: dict[str, UnboundField] = {}
    rows: dict[str, type[CrfRowForm]] = {}
    for section in form.sections:
        inputs = {f.id: u for f in section.fields if (u := input_field(f, lang)) is not None}
        if section.repeat is None:
            top.update(inputs)
        else:
            rows[section.id] = type(f"{form.id}_{section.id}_row", (CrfRowForm,), inputs)
    return type(f"{form.id}_form", (CrfForm,), top), rows


def form_class(form: forms_dsl.Form, lang: str) -> type[CrfForm]:
    """The WTForms class of a form in a language (built once per form model and language)."""
    return _classes(_Same(form), lang)[0]


def row_class(form: forms_dsl.Form, section_id: str, lang: str) -> type[CrfRowForm]:
    return _classes(_Same(form), lang)[1][section_id]


def formdata(posted: Posted) -> MultiDict:
    """Posted answers as WTForms reads them: checkbox groups keep all their values."""
    data: MultiDict = MultiDict()
    for key, value in posted.items():
        for one in [value] if isinstance(value, str) else value:
            data.add(key, one)
    return data


def display_text(value: object, f: Field | None = None, lang: str = "en") -> str:
    """A value as the reader sees it: choice codes as their labels, yes/no in their language."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if f is not None and f.type is FieldType.DATETIME and isinstance(value, str):
        return _datetime_text(value)
    labels = {c.code: c.label.get(lang) for c in f.choices.choices} if f and f.choices else {}
    if f is not None and f.type is FieldType.YESNO:
        labels = {"yes": _("Yes"), "no": _("No")}  # as posted, before it is a yes/no value
    if isinstance(value, frozenset | list | tuple):
        return ", ".join(sorted(labels.get(str(v), str(v)) for v in value))
    return labels.get(str(value), str(value))


def _datetime_text(stored: str) -> str:
    """A stored date-time as read: its wall clock and, when kept, its UTC offset."""
    wall = stored[:16].replace("T", " ")
    offset = stored[16:]
    return f"{wall} (UTC{offset})" if offset else wall


def item_text(form: forms_dsl.Form, path: str, value: object, lang: str) -> str:
    """A stored item (`field` or `group-row-field`) as the reader sees it."""
    return display_text(value, form.fields.get(path.rsplit("-", 1)[-1]), lang)


#: The studies' unit words that are language (the symbols, mg or mL, read the same everywhere).
UNIT_WORDS = {
    "months": _l("months"),
    "weeks": _l("weeks"),
    "days": _l("days"),
    "years": _l("years"),
    "copies/cell": _l("copies/cell"),
}


def unit_text(unit: str) -> str:
    """A field's unit as the reader says it."""
    return str(UNIT_WORDS[unit]) if unit in UNIT_WORDS else unit


def item_label(form: forms_dsl.Form, path: str, paths: Collection[str], lang: str) -> str:
    """An item as the page names it: its field's label, with its row's number among the rows
    of `paths` (row ids are identities, not numbers anyone reads)."""
    f = form.fields.get(path.rsplit("-", 1)[-1])
    label = f.label.get(lang) if f is not None else path
    row = row_of(path)
    if row is None:
        return label
    ids = sorted({r[1] for p in paths if (r := row_of(p)) is not None and r[0] == row[0]})
    return f"{label} ({_('Row %(n)d', n=ids.index(row[1]) + 1)})"


def sections_touched(form: forms_dsl.Form, changed: str) -> frozenset[str] | None:
    """The sections that answers to the inputs named in `changed` (space-separated `field` or
    `group-row-field`) can change: their own, and those of every field reading them; None when
    no input is named or one is not an input of the form (then the whole form is redrawn)."""
    fields = form.fields
    touched: set[str] = set()
    for name in changed.split():
        field_id = name.rsplit("-", 1)[-1]
        if field_id not in fields or fields[field_id].type in NOT_INPUTS:
            return None
        touched |= affected(form, field_id)
    if not touched:
        return None
    return frozenset(s.id for s in form.sections if any(f.id in touched for f in s.fields))


def page(
    form: forms_dsl.Form,
    posted: Posted,
    result: forms_dsl.Evaluation,
    lang: str,
    *,
    live: bool = False,
    changes: Mapping[str, tuple[str, str]] | None = None,
    removed: Mapping[str, str] | None = None,
    reasons: Mapping[str, tuple[str, str]] | None = None,
    standard_reasons: Sequence[tuple[str, str]] = (),
    history_paths: frozenset[str] = frozenset(),
    rows: Mapping[str, list[int]] | None = None,
    masked: frozenset[str] = frozenset(),
) -> PageView:
    """The WTForms form bound to `posted`, and sections with each field's input, visibility,
    calculation and messages. `rows` are the row ids of each repeating section, in order;
    `changes` ({path: (old, new)}) the items that need a reason for change, `removed`
    ({path: old}) those of removed rows, and `reasons` the reasons typed so far by path (`*`:
    for every change without its own). The fields of `masked` (identifier items the reader
    may not see) show a mask: their answers are neither bound to an input nor shown."""
    from edc.services.data_entry import warning_key  # the key the save expects

    changes, removed, reasons = changes or {}, removed or {}, reasons or {}
    for_all = reasons.get("*", ("", ""))
    mask = masked_text() if masked else ""

    def missing(path: str) -> bool:
        return not any(reasons.get(path, ("", ""))) and not any(for_all)

    drawn: set[str] = set()  # the changed items that show beside their field

    issues: dict[tuple[str, int | None], list[forms_dsl.Issue]] = {}
    for issue in (*result.errors, *result.warnings):
        if live and issue.kind in LIVE_KINDS:
            continue
        issues.setdefault((issue.field, issue.row), []).append(issue)
    data = formdata({k: v for k, v in posted.items() if k.rsplit("-", 1)[-1] not in masked})
    bound: Form = form_class(form, lang)(formdata=data)

    def view(
        f: Field, name: str, inputs: Form, row: int | None, shown: bool, calc: object
    ) -> FieldView:
        found = issues.get((f.id, row), [])
        if shown and name in changes:
            drawn.add(name)
        hidden = f.id in masked
        change = changes.get(name) if shown else None
        return FieldView(
            id=f.id,
            name=name,
            type=f.type.value,
            label=f.label.get(lang),
            hint=f.hint.get(lang) if f.hint else "",
            unit=unit_text(f.unit),
            widget=f.widget or DEFAULT_WIDGETS.get(f.type, ""),
            input=inputs[f.id] if f.type not in NOT_INPUTS else None,
            required=(f.id, row) in result.required or f.required,
            readonly=f.readonly,
            shown=shown,
            calc_value=mask if hidden else display_text(calc, f, lang),
            errors=[i.message for i in found if i.severity.value == "error"],
            warnings=[(warning_key(i), i.message) for i in found if i.severity.value == "warning"],
            change=(mask, mask) if hidden and change else change,
            reason=reasons.get(name, ("", "")),
            reason_missing=shown and name in changes and missing(name),
            has_history=name in history_paths,
            masked=hidden,
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
                view(f, f.id, bound, None, f.id in result.shown, result.values.get(f.id))
                for f in section.fields
            ]
            sections.append(SectionView(section.id, section.title.get(lang), shown, False, [cells]))
            continue
        ids = (rows or {}).get(section.id) or result.row_ids.get(section.id, [])
        evaluated = result.row_ids.get(section.id, [])
        computed = dict(zip(evaluated, result.rows.get(section.id, []), strict=False))
        visible_of = dict(zip(evaluated, result.shown_in_rows.get(section.id, []), strict=False))
        row_form = row_class(form, section.id, lang)
        plain = {f.id for f in section.fields if f.show_if is None}
        grid = []
        for row_id in ids:
            visible = visible_of.get(row_id, plain)
            stored = computed.get(row_id, {})
            inputs = row_form(formdata=data, prefix=f"{section.id}-{row_id}")
            grid.append(
                [
                    view(f, f"{section.id}-{row_id}-{f.id}", inputs, row_id, f.id in visible, value)
                    for f in section.fields
                    for value in [stored.get(f.id)]
                ]
            )
        group_errors = [
            i.message for i in result.errors if i.row is None and i.kind.endswith("_rows")
            and any(f.id == i.field for f in section.fields)
        ]  # fmt: skip
        sections.append(
            SectionView(
                section.id, section.title.get(lang), shown, True, grid,
                section.repeat.max, group_errors, list(ids),
            )
        )  # fmt: skip
    fields = form.fields
    # Items no longer on the form: of removed rows, or hidden by an answer (their value goes).
    elsewhere = {
        **{path: (old, _("removed row")) for path, old in removed.items()},
        **{p: (old, _("no longer shown")) for p, (old, _new) in changes.items() if p not in drawn},
    }
    gone = [
        RemovedItem(
            path,
            f"{fields[path.rsplit('-', 1)[-1]].label.get(lang)} ({why})",
            mask if path.rsplit("-", 1)[-1] in masked else old,
            reasons.get(path, ("", "")),
            missing(path),
        )
        for path, (old, why) in elsewhere.items()
        if path.rsplit("-", 1)[-1] in fields
    ]
    pending = ReasonsView(len(drawn) + len(gone), for_all, list(standard_reasons), gone)
    return PageView(bound, sections, pending)  # type: ignore[arg-type]
