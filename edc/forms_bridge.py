"""forms_dsl model + posted strings + evaluation → the CRF page's WTForms form and field views.

The only module that knows both the form language and the web layer. `form_class()` builds a
WTForms class from a form's model (one field per input, in the reader's language; rows of a
repeating section are a row class bound with a `section-row` prefix), so inputs render through
WTForms widgets and the CSRF token comes with the form. It holds no rules: WTForms validates
nothing here but the token; whether a field shows, what a calculation gives and which answer is
wrong all come from forms_dsl's evaluation, which this module only shapes for the Jinja macros.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
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
from edc import dates
from edc import widgets as fast
from edc.decision_text import DecisionText, amount, decision_text
from edc.forms import AppForm
from edc.i18n import _, _l
from edc.item_address import ItemAddress, field_of, row_of, row_prefix
from forms_dsl.dependencies import affected
from forms_dsl.model import Field, FieldType, Section

#: The widget of each typed input. Dates are text in the reader's language (edc.dates): the
#: browser's date pickers would show the device's format, not the portal's.
INPUT_WIDGETS = {
    FieldType.TEXT: fast.TextInput(),
    FieldType.INTEGER: fast.NumberInput(),
    FieldType.DECIMAL: fast.TextInput(),  # comma decimals are fine: no type="number"
    FieldType.DATE: fast.TextInput(),
    FieldType.DATETIME: fast.TextInput(),
    FieldType.TIME: fast.TextInput(),  # 24-hour whatever the device (edc.dates)
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
    answer: str = ""  # the answer as text, for a form read but not edited


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
    decisions: list[DecisionText] = field(default_factory=list)  # of the tables it feeds
    decision_sections: frozenset[str] = frozenset()  # a redraw of these redraws the decisions

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
    if f.type in (FieldType.DATE, FieldType.DATETIME, FieldType.TIME):
        kw = dates.input_attributes(lang, f.type)
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
        return _datetime_text(value, lang)
    if f is not None and f.type is FieldType.DATE and isinstance(value, str):
        return dates.as_written(value, lang)
    if isinstance(value, dt.date | dt.datetime):
        return dates.shown(value, lang)
    labels = {c.code: c.label.get(lang) for c in f.choices.choices} if f and f.choices else {}
    if f is not None and f.type is FieldType.YESNO:
        labels = {"yes": _("Yes"), "no": _("No")}  # as posted, before it is a yes/no value
    if isinstance(value, frozenset | list | tuple):
        return ", ".join(sorted(labels.get(str(v), str(v)) for v in value))
    return labels.get(str(value), str(value))


def _datetime_text(stored: str, lang: str) -> str:
    """A stored date-time as read: its wall clock and, when kept, its UTC offset."""
    wall = dates.as_written(stored[:16], lang, with_time=True)
    offset = stored[16:]
    return f"{wall} (UTC{offset})" if offset else wall


def answer_text(value: object, f: Field, lang: str) -> str:
    """An answer as a reader of a read-only form sees it: `display_text`, with a stored date
    written the way the reader's language writes dates (the format the inputs take)."""
    if f.type is FieldType.DATE and isinstance(value, str) and value:
        try:
            return dates.shown(dt.date.fromisoformat(value), lang)
        except ValueError:
            return value  # already as written (a page's posted values)
    return display_text(value, f, lang)


def with_unit(text: str, unit: str) -> str:
    """An answer with its unit: durations in the reader's language ("31 months", "31 mois")."""
    try:
        n = Decimal(text)
    except ArithmeticError:  # not a number: a masked or typed text
        return f"{text} {unit}"
    return amount(n, unit) if n == int(n) else f"{text} {unit}"


def item_text(form: forms_dsl.Form, path: str, value: object, lang: str) -> str:
    """A stored item (`field` or `group-row-field`) as the reader sees it."""
    return display_text(value, form.fields.get(field_of(path)), lang)


def item_answer(form: forms_dsl.Form, path: str, value: object, lang: str) -> str:
    """A stored or typed item as a reader compares answers: `answer_text` of its field."""
    f = form.fields.get(field_of(path))
    return display_text(value, None, lang) if f is None else answer_text(value, f, lang)


def in_page_order(form: forms_dsl.Form, paths: Collection[str]) -> list[str]:
    """Item paths in the order the page shows them: by section, row, then field."""
    where = {
        f.id: (s, n)
        for s, section in enumerate(form.sections)
        for n, f in enumerate(section.fields)
    }

    def key(path: str) -> tuple[int, int, int, str]:
        section, n = where.get(field_of(path), (len(where), 0))
        row = row_of(path)
        return section, row[1] if row else 0, n, path

    return sorted(paths, key=key)


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
    f = form.fields.get(field_of(path))
    label = f.label.get(lang) if f is not None else path
    row = row_of(path)
    if row is None:
        return label
    ids = sorted({r[1] for p in paths if (r := row_of(p)) is not None and r[0] == row[0]})
    return f"{label} ({_('Row %(n)d', n=ids.index(row[1]) + 1)})"


def sections_touched(form: forms_dsl.Form, changed: str) -> frozenset[str] | None:
    """The sections that answers to the inputs named in `changed` (space-separated `field` or
    `group-row-field`) can change: their own, those of every field reading them and, when one
    feeds a decision table, those of the table's calculated inputs; None when
    no input is named or one is not an input of the form (then the whole form is redrawn)."""
    fields = form.fields
    touched: set[str] = set()
    for name in changed.split():
        field_id = field_of(name)
        if field_id not in fields or fields[field_id].type in NOT_INPUTS:
            return None
        touched |= affected(form, field_id)
    for table in form.decision_tables.values():  # the decision shown needs its calculations
        if any(i.id in touched for i in table.inputs):
            touched |= _calculated_inputs(form, table)
    if not touched:
        return None
    return frozenset(s.id for s in form.sections if any(f.id in touched for f in s.fields))


def _calculated_inputs(form: forms_dsl.Form, table: forms_dsl.DecisionTable) -> set[str]:
    fields = form.fields
    return {i.id for i in table.inputs if i.id in fields and fields[i.id].type is FieldType.CALC}


def decision_sections(form: forms_dsl.Form) -> frozenset[str]:
    """The sections holding calculated inputs of the form's decision tables (an age reads the
    birth date): a live redraw of them (see `sections_touched`) has what the decisions need;
    the answers typed always travel with the form. Any other redraw keeps them as shown."""
    inputs = {i for table in form.decision_tables.values() for i in _calculated_inputs(form, table)}
    return frozenset(s.id for s in form.sections if any(f.id in inputs for f in s.fields))


@dataclass
class _Builder:
    """What every field view of one page is drawn from: the evaluation, its issues by field and
    row, the pending changes and the reasons typed so far."""

    form: forms_dsl.Form
    posted: Posted
    result: forms_dsl.Evaluation
    lang: str
    warning_key: Callable[[forms_dsl.Issue], str]
    changes: Mapping[str, tuple[str, str]]
    reasons: Mapping[str, tuple[str, str]]
    history_paths: frozenset[str]
    masked: frozenset[str]
    mask: str
    issues: dict[tuple[str, int | None], list[forms_dsl.Issue]] = field(default_factory=dict)
    drawn: set[str] = field(default_factory=set)  # the changed items shown beside their field

    def missing(self, path: str) -> bool:
        """Whether a change has no reason of its own and none for all."""
        return not any(self.reasons.get(path, ("", ""))) and not any(self.reasons.get("*", ""))

    def view(
        self, f: Field, name: str, inputs: Form, row: int | None, shown: bool, calc: object
    ) -> FieldView:
        found = self.issues.get((f.id, row), [])
        if shown and name in self.changes:
            self.drawn.add(name)
        hidden = f.id in self.masked
        change = self.changes.get(name) if shown else None
        lang, mask = self.lang, self.mask
        calc_value = mask if hidden else display_text(calc, f, lang)
        answer = (
            calc_value if f.type is FieldType.CALC else answer_text(self.posted.get(name), f, lang)
        )
        if answer and f.unit and not hidden:
            answer = with_unit(answer, f.unit)
        return FieldView(
            id=f.id,
            name=name,
            type=f.type.value,
            label=f.label.get(lang),
            hint=f.hint.get(lang) if f.hint else "",
            unit=unit_text(f.unit),
            widget=f.widget or DEFAULT_WIDGETS.get(f.type, ""),
            input=inputs[f.id] if f.type not in NOT_INPUTS else None,
            required=(f.id, row) in self.result.required or f.required,
            readonly=f.readonly,
            shown=shown,
            calc_value=calc_value,
            errors=[i.message for i in found if i.severity.value == "error"],
            warnings=[
                (self.warning_key(i), i.message) for i in found if i.severity.value == "warning"
            ],
            change=(mask, mask) if hidden and change else change,
            reason=self.reasons.get(name, ("", "")),
            reason_missing=shown and name in self.changes and self.missing(name),
            has_history=name in self.history_paths,
            masked=hidden,
            answer=mask if hidden else answer,
        )

    def top_section(self, section: Section, bound: Form) -> SectionView:
        result = self.result
        shown = any(f.id in result.shown for f in section.fields) or not section.fields
        cells = [
            self.view(f, f.id, bound, None, f.id in result.shown, result.values.get(f.id))
            for f in section.fields
        ]
        return SectionView(section.id, section.title.get(self.lang), shown, False, [cells])

    def repeat_section(self, section: Section, data: MultiDict, ids: Sequence[int]) -> SectionView:
        result, max_rows = self.result, section.repeat.max if section.repeat else 0
        evaluated = result.row_ids.get(section.id, [])
        computed = dict(zip(evaluated, result.rows.get(section.id, []), strict=False))
        visible_of = dict(zip(evaluated, result.shown_in_rows.get(section.id, []), strict=False))
        row_form = row_class(self.form, section.id, self.lang)
        plain = {f.id for f in section.fields if f.show_if is None}
        grid = []
        for row_id in ids:
            visible = visible_of.get(row_id, plain)
            stored = computed.get(row_id, {})
            inputs = row_form(formdata=data, prefix=row_prefix(section.id, row_id))
            grid.append(
                [
                    self.view(
                        f, ItemAddress(f.id, section.id, row_id).key, inputs, row_id,
                        f.id in visible, stored.get(f.id),
                    )
                    for f in section.fields
                ]
            )  # fmt: skip
        group_errors = [
            i.message for i in result.errors if i.row is None and i.kind.endswith("_rows")
            and any(f.id == i.field for f in section.fields)
        ]  # fmt: skip
        return SectionView(
            section.id, section.title.get(self.lang), section.id in result.shown, True, grid,
            max_rows, group_errors, list(ids),
        )  # fmt: skip

    def gone(self, removed: Mapping[str, str]) -> list[RemovedItem]:
        """Items no longer on the form: of removed rows, or hidden by an answer (their value
        goes). Called after every field was drawn."""
        fields = self.form.fields
        elsewhere = {
            **{path: (old, _("removed row")) for path, old in removed.items()},
            **{
                p: (old, _("no longer shown"))
                for p, (old, _new) in self.changes.items()
                if p not in self.drawn
            },
        }
        return [
            RemovedItem(
                path,
                f"{fields[field_of(path)].label.get(self.lang)} ({why})",
                self.mask if field_of(path) in self.masked else old,
                self.reasons.get(path, ("", "")),
                self.missing(path),
            )
            for path, (old, why) in elsewhere.items()
            if field_of(path) in fields
        ]


def _issues_by_field(
    result: forms_dsl.Evaluation, live: bool
) -> dict[tuple[str, int | None], list[forms_dsl.Issue]]:
    """Errors and warnings by (field, row); while typing, "required" waits for the save."""
    issues: dict[tuple[str, int | None], list[forms_dsl.Issue]] = {}
    for issue in (*result.errors, *result.warnings):
        if live and issue.kind in LIVE_KINDS:
            continue
        issues.setdefault((issue.field, issue.row), []).append(issue)
    return issues


def _no_key(issue: forms_dsl.Issue) -> str:
    return f"{issue.field}:{issue.kind}:{'' if issue.row is None else issue.row}"


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
    mask: str = "",
    warning_key: Callable[[forms_dsl.Issue], str] = _no_key,
) -> PageView:
    """The WTForms form bound to `posted`, and sections with each field's input, visibility,
    calculation and messages. `rows` are the row ids of each repeating section, in order;
    `changes` ({path: (old, new)}) the items that need a reason for change, `removed`
    ({path: old}) those of removed rows, and `reasons` the reasons typed so far by path (`*`:
    for every change without its own). The fields of `masked` (identifier items the reader
    may not see) show `mask`: their answers are neither bound to an input nor shown.
    `warning_key` names a warning's confirmation as the save expects it."""
    reasons = reasons or {}
    visible = {k: v for k, v in posted.items() if field_of(k) not in masked}
    build = _Builder(
        form, visible, result, lang, warning_key, changes or {}, reasons, history_paths,
        masked, mask, _issues_by_field(result, live),
    )  # fmt: skip
    data = formdata(visible)
    bound = form_class(form, lang)(formdata=data)
    sections = [
        build.top_section(section, bound)
        if section.repeat is None
        else build.repeat_section(
            section, data, (rows or {}).get(section.id) or result.row_ids.get(section.id, [])
        )
        for section in form.sections
    ]
    gone = build.gone(removed or {})
    for_all = reasons.get("*", ("", ""))
    pending = ReasonsView(len(build.drawn) + len(gone), for_all, list(standard_reasons), gone)
    decisions = [
        decision_text(form, table, result.values, lang, hidden=masked)
        for table in form.decision_tables.values()
    ]
    return PageView(bound, sections, pending, decisions, decision_sections(form))
