"""The casebook copy in words, in the reader's language: labels instead of ids, choice labels
instead of codes, dates as the reader writes them, people by name, times in UTC.

Every time stamp is printed as a signature's manifestation prints it (`signing.utc_stamp`): the
same unambiguous UTC form on every page, whatever the reader's or the site's zone. Masked items
arrive without their values (the service drops them); they are printed as the mask.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from edc import dates, forms_bridge, lifecycle
from edc.i18n import _
from edc.item_address import ItemAddress, field_of, row_of
from edc.services import identifiers, queries, subject_status
from edc.services.event_text import action_label, role_labels
from edc.services.signing import Shown, utc_stamp
from forms_dsl.model import Field, FieldType
from forms_dsl.model import Section as FormSection

if TYPE_CHECKING:
    from edc.services.casebook_pdf import CasebookCopy, Change, FormCopy, Thread, Verified, Who

NONE = "–"


@dataclass(frozen=True)
class Line:
    label: str
    value: str
    masked: bool = False


@dataclass(frozen=True)
class Section:
    """A section of a form: label and value lines, or for a repeating one a table of rows."""

    title: str
    lines: list[Line]
    columns: list[str]
    rows: list[list[Line]]
    repeat: bool


@dataclass(frozen=True)
class HistoryRow:
    item: str
    when: str
    who: str
    old: str
    new: str
    reason: str
    masked: bool = False


@dataclass(frozen=True)
class SdvRow:
    item: str
    text: str
    changed: bool


@dataclass(frozen=True)
class MessageRow:
    step: str
    when: str
    who: str
    text: str
    change: str


@dataclass(frozen=True)
class QueryBlock:
    title: str
    status: str
    messages: list[MessageRow]


@dataclass(frozen=True)
class FormBlock:
    title: str
    visit: str
    visit_date: str
    version: str
    status: str
    status_key: str
    sections: list[Section]
    history: list[HistoryRow]
    sdv: list[SdvRow]
    queries: list[QueryBlock]


@dataclass(frozen=True)
class OverviewRow:
    visit: str
    form: str
    status: str
    status_key: str


@dataclass(frozen=True)
class SignatureRow:
    name: str
    stamp: str
    meaning: str
    covers: str
    valid: bool
    why: str


@dataclass(frozen=True)
class Document:
    title: str
    study: str
    site: str
    subject: str
    subject_status: str
    generated: str
    masked_note: str
    overview: list[OverviewRow]
    forms: list[FormBlock]
    signatures: list[SignatureRow]


def document(copy: CasebookCopy, lang: str) -> Document:
    """The copy's words in `lang` (call with that language in force: labels are translated)."""
    overview = [
        OverviewRow(_visit(row.label, row.number, row.repeating), cell.title,
                    lifecycle.label(cell.status), cell.status)
        for row in copy.grid
        for cell in row.forms
    ]  # fmt: skip
    masked_note = ""
    if copy.masked:
        masked_note = _(
            "Identifying items are masked in this copy: %(mask)s.", mask=identifiers.masked_text()
        )
    return Document(
        title=_("Casebook of %(subject)s", subject=copy.subject_code),
        study=copy.study_title,
        site=f"{copy.site_code} – {copy.site_name}",
        subject=copy.subject_code,
        subject_status=str(subject_status.LABELS.get(copy.subject_status, copy.subject_status)),
        generated=_(
            "Generated on %(when)s by %(who)s",
            when=utc_stamp(copy.generated_at),
            who=_person(copy.generated_by),
        ),
        masked_note=masked_note,
        overview=overview,
        forms=[_form(f, lang) for f in copy.forms],
        signatures=[_signature(s) for s in copy.signatures],
    )


def _visit(label: str, number: int, repeating: bool) -> str:
    return f"{label} #{number}" if repeating else label


def _person(who: Who, role: str = "") -> str:
    """A person as the copy names them: name (e-mail), and the role they acted in."""
    name = f"{who.name} ({who.email})" if who.name and who.email else who.name or who.email
    roles = role_labels(role) if role else ""
    return ", ".join(p for p in (name or _("System"), roles) if p)


def _form(copy: FormCopy, lang: str) -> FormBlock:
    form = copy.form
    stored = list(copy.items)
    return FormBlock(
        title=form.title.get(lang),
        visit=_visit(copy.event_label, copy.number, copy.repeating),
        visit_date=dates.shown(copy.visit_date, lang) if copy.visit_date else "",
        version=str(form.version),
        status=lifecycle.label(copy.status),
        status_key=copy.status,
        sections=[_section(copy, s, lang) for s in form.sections],
        history=[_history(copy, c, stored, lang) for c in _by_item(copy)],
        sdv=[_sdv(copy, v, stored, lang) for v in copy.verified],
        queries=[_query(copy, t, stored, lang) for t in copy.threads],
    )


def _by_item(copy: FormCopy) -> list[Change]:
    """The form's changes item by item in the page's order, each item's oldest first."""
    order = {
        k: n
        for n, k in enumerate(forms_bridge.in_page_order(copy.form, {c.key for c in copy.changes}))
    }
    return sorted(copy.changes, key=lambda c: order[c.key])  # stable: the trail's order kept


def _answer(copy: FormCopy, key: str, lang: str) -> Line:
    """An item's stored answer in words (with its unit), or the mask."""
    form = copy.form
    f = form.fields.get(field_of(key))
    label = f.label.get(lang) if f is not None else key
    if field_of(key) in copy.masked:
        return Line(label, identifiers.masked_text(), True)
    value = copy.items.get(key)
    text = forms_bridge.item_answer(form, key, value, lang) if value is not None else ""
    if text and f is not None and f.unit:
        text = forms_bridge.with_unit(text, forms_bridge.unit_text(f.unit))
    return Line(label, text or NONE)


def _shown_fields(section: FormSection) -> list[Field]:
    return [f for f in section.fields if f.type is not FieldType.NOTE]


def _section(copy: FormCopy, section: FormSection, lang: str) -> Section:
    fields = _shown_fields(section)
    title = section.title.get(lang)
    if section.repeat is None:
        return Section(title, [_answer(copy, f.id, lang) for f in fields], [], [], False)
    row_ids = sorted(
        {r[1] for key in copy.items if (r := row_of(key)) is not None and r[0] == section.id}
    )
    rows = [
        [_answer(copy, ItemAddress(f.id, section.id, row).key, lang) for f in fields]
        for row in row_ids
    ]
    return Section(title, [], [f.label.get(lang) for f in fields], rows, True)


def _item(copy: FormCopy, key: str, stored: Collection[str], lang: str) -> str:
    """An item as the copy names it: its label, with its row's number among the stored rows
    (a row since removed is named so)."""
    row = row_of(key)
    if row is not None and not any(row_of(k) == row for k in stored):
        f = copy.form.fields.get(field_of(key))
        label = f.label.get(lang) if f is not None else key
        return _("%(item)s (removed row)", item=label)
    return forms_bridge.item_label(copy.form, key, {*stored, key}, lang)


def _value(copy: FormCopy, key: str, value: object, lang: str) -> str:
    if value is None:
        return NONE
    return forms_bridge.item_answer(copy.form, key, value, lang) or NONE


def _history(copy: FormCopy, change: Change, stored: Collection[str], lang: str) -> HistoryRow:
    item = _item(copy, change.key, stored, lang)
    when, who = utc_stamp(change.at), _person(change.who, change.role)
    if change.action == "check.confirmed":
        new = f"{action_label(change.action)}: {change.check}"
        return HistoryRow(item, when, who, NONE, new, change.reason or NONE)
    if change.masked:
        mask = identifiers.masked_text()
        return HistoryRow(item, when, who, mask, mask, change.reason or NONE, True)
    old = _value(copy, change.key, change.old, lang)
    new = _value(copy, change.key, change.new, lang)
    if change.action == "item.deleted":
        new = _("(row removed)")
    reason = change.reason or NONE
    if change.cause is not None:
        cause, at = change.cause
        reason = _(
            "Recalculated by the system after: %(cause)s, %(when)s (no reason needed)",
            cause=action_label(cause),
            when=utc_stamp(at),
        )
    return HistoryRow(item, when, who, old, new, reason)


def _sdv(copy: FormCopy, verified: Verified, stored: Collection[str], lang: str) -> SdvRow:
    item = _item(copy, verified.key, stored, lang)
    text = _(
        "Verified by %(who)s, %(when)s", who=_person(verified.who), when=utc_stamp(verified.at)
    )
    if verified.reset_at is None:
        return SdvRow(item, text, False)
    changed = _("Changed after SDV")
    return SdvRow(item, f"{changed} ({utc_stamp(verified.reset_at)}) · {text}", True)


def _query(copy: FormCopy, thread: Thread, stored: Collection[str], lang: str) -> QueryBlock:
    item = _item(copy, thread.key, stored, lang) if thread.key else _("Whole form")
    status = queries.STATUS_LABELS.get(queries.Status(thread.status), thread.status)
    messages = []
    for m in thread.messages:
        change = ""
        if m.change is not None:
            if m.masked:
                old = new = identifiers.masked_text()
            else:
                old = _value(copy, thread.key, m.change[0], lang)
                new = _value(copy, thread.key, m.change[1], lang)
            change = _("changed from %(old)s to %(new)s", old=old, new=new)
        step = str(queries.KIND_LABELS.get(m.kind, m.kind))
        messages.append(MessageRow(step, utc_stamp(m.at), _person(m.who, m.role), m.text, change))
    return QueryBlock(item, str(status), messages)


def _signature(s: Shown) -> SignatureRow:
    why = ""
    if not s.valid:
        if s.invalidated_at is not None:
            why = _("Invalidated on %(when)s: %(reason)s", when=s.invalidated_stamp,
                    reason=s.invalidated_reason)  # fmt: skip
        else:
            why = _("Invalid: the data changed after this signature.")
        why = f"{why} {_('To be signed again.')}"
    return SignatureRow(s.printed_name, s.stamp, s.meaning, s.covers, s.valid, why)
