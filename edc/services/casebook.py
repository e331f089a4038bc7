"""The subject page: events × forms with each record's status, adding and removing occurrences
of a repeating event, and decision support computed from the stored data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, selectinload

import forms_dsl
from edc import access, audit
from edc.access import Permission
from edc.context import Context
from edc.errors import NotFound
from edc.i18n import _
from edc.models.crf import EventOccurrence, FormRecord
from edc.models.subjects import Subject
from edc.services import identifiers, review_state
from edc.services.crf_values import typed_values
from edc.services.data_entry import entry_role
from edc.services.definitions import form_model, study_model


@dataclass
class _Live:
    """What the casebook needs of one occurrence that was not removed."""

    visit_date: date | None
    statuses: dict[str, str]  # form id → status of its saved record
    occurrence_id: int = 0
    records: dict[str, int] = field(default_factory=dict)  # form id → its record's id


def _live_occurrences(session: Session, subject: Subject) -> dict[tuple[str, int], _Live]:
    """A subject's occurrences that were not removed, by (event, number), with the status of
    each saved record: one query."""
    rows = session.execute(
        select(
            EventOccurrence.event_id,
            EventOccurrence.number,
            EventOccurrence.visit_date,
            FormRecord.form_id,
            FormRecord.status,
            EventOccurrence.id,
            FormRecord.id,
        )
        .outerjoin(FormRecord, FormRecord.occurrence_id == EventOccurrence.id)
        .where(EventOccurrence.subject_id == subject.id, EventOccurrence.removed_at.is_(None))
    )
    found: dict[tuple[str, int], _Live] = {}
    for event_id, number, visit_date, form_id, status, occurrence_id, record_id in rows:
        live = found.setdefault((event_id, number), _Live(visit_date, {}, occurrence_id))
        if form_id is not None:
            live.statuses[form_id] = status
            live.records[form_id] = record_id
    return found


def record_counts(ctx: Context, subject_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """How many saved records each subject has per status (a list page's summary, one query),
    for the subjects among `subject_ids` the actor may see."""
    counts: dict[int, dict[str, int]] = {}
    sites = access.site_ids_for(ctx.grants, Permission.SUBJECT_VIEW)
    if not subject_ids or not sites:
        return counts
    rows = ctx.session.execute(
        select(FormRecord.subject_id, FormRecord.status, func.count())
        .join(Subject, Subject.id == FormRecord.subject_id)
        .where(FormRecord.subject_id.in_(subject_ids), Subject.site_id.in_(sites))
        .group_by(FormRecord.subject_id, FormRecord.status)
    )
    for subject_id, status, n in rows:
        counts.setdefault(subject_id, {})[status] = n
    return counts


def _occurrence_numbers(session: Session, subject: Subject) -> dict[str, int]:
    """The highest occurrence number of each event for a subject, removed occurrences included:
    a number is a visit's identity and is never given again."""
    rows = session.execute(
        select(EventOccurrence.event_id, func.max(EventOccurrence.number))
        .where(EventOccurrence.subject_id == subject.id)
        .group_by(EventOccurrence.event_id)
    )
    return {e: n for e, n in rows}


@dataclass(frozen=True)
class FormCell:
    form_id: str
    title: str
    status: str  # as shown: a lock or a valid signature first (`lifecycle.shown`)
    open_queries: int = 0


@dataclass(frozen=True)
class EventRow:
    event_id: str
    label: str
    number: int
    repeating: bool
    forms: tuple[FormCell, ...]
    last: bool  # the event's latest occurrence: where "add another" goes
    visit_date: date | None = None
    removable: bool = False  # added by mistake and still empty: may be removed
    dated: bool = False  # the study asks for this event's visit date


def casebook(ctx: Context, subject: Subject) -> list[EventRow]:
    """Events × forms with each record's status: the subject page's grid (one query).

    A repeating event lists its occurrences as they are, gaps left by removed ones included;
    its first occurrence always shows, since it opens with its first save.
    """
    ctx.require(Permission.SUBJECT_VIEW, subject.site_id)
    lang = ctx.language
    study = study_model(ctx.session, subject.study_id)
    if study is None:
        return []
    live = _live_occurrences(ctx.session, subject)
    review = review_state.load(ctx, subject.study_id, [subject.site_id], [subject.id])
    rows = []
    for event in study.events:
        numbers = [1]
        if event.repeating:
            numbers = sorted({1} | {n for e, n in live if e == event.id})
        for number in numbers:
            found = live.get((event.id, number))
            cells = tuple(
                _cell(review, subject, found, form_id, study.forms[form_id].title.get(lang))
                for form_id in event.forms
                if form_id in study.forms
            )
            rows.append(
                EventRow(
                    event.id, event.label.get(lang), number, event.repeating, cells,
                    last=number == numbers[-1],
                    visit_date=found.visit_date if found is not None else None,
                    removable=event.repeating and number > 1 and found is not None
                    and not found.statuses,
                    dated=event.visit_date,
                )
            )  # fmt: skip
    return rows


def _cell(
    review: review_state.ReviewState,
    subject: Subject,
    found: _Live | None,
    form_id: str,
    title: str,
) -> FormCell:
    """A form of a visit as the grid shows it: its status (a lock or a signature first) and
    how many queries wait on it."""
    occurrence_id = found.occurrence_id if found is not None else None
    record_id = found.records.get(form_id) if found is not None else None
    status = found.statuses.get(form_id) if found is not None else None
    where = review_state.Cell(subject.site_id, subject.id, occurrence_id, form_id)
    shown = review.shown(where, status, record_id)
    waiting = review.open_by_record.get(record_id, 0) if record_id is not None else 0
    return FormCell(form_id, title, shown.value, waiting)


@dataclass(frozen=True)
class DecisionView:
    form_title: str
    table: forms_dsl.DecisionTable
    decision: forms_dsl.Decision
    missing: tuple[str, ...] = ()  # the inputs still needed, by their labels
    # The saved form it was computed from: a reader judges a decision by what it rests on.
    event_id: str = ""
    number: int = 1
    form_id: str = ""
    status: str = ""
    saved_at: datetime | None = None
    #: The identifier items (see `identifiers`) it rests on that hold an answer: its result and
    #: explanation tell them, so they are shown as those items are.
    identifier_items: tuple[str, ...] = ()
    masked: bool = False  # it rests on identifier items the reader may not see: not shown
    #: The form and its typed answers it was decided on: for telling it in the form's words.
    form: forms_dsl.Form | None = None
    values: Mapping[str, object] = field(default_factory=dict)


def decision_support(ctx: Context, subject: Subject, *, masked: bool) -> list[DecisionView]:
    """Every decision table of the subject's saved records, computed from the stored data now,
    each naming the record it was computed from, that record's status and its last save.
    With `masked` (a reader who may not see identifier items), a decision resting on them
    says so instead of showing its result."""
    ctx.require(Permission.SUBJECT_VIEW, subject.site_id)
    lang = ctx.language
    records = ctx.session.execute(
        select(FormRecord, EventOccurrence.event_id, EventOccurrence.number)
        .join(EventOccurrence, EventOccurrence.id == FormRecord.occurrence_id)
        .where(FormRecord.subject_id == subject.id)
        .options(selectinload(FormRecord.form_version), selectinload(FormRecord.items))
        .order_by(FormRecord.id)
    ).all()
    views = []
    for record, event_id, number in records:
        form = form_model(record.form_version)
        if not form.decision_tables:
            continue
        values = typed_values(form, {item.path: item.value for item in record.items})
        words = forms_dsl.wording(form, lang)  # labels, not ids and codes, for clinicians
        hidden = identifiers.field_ids(form)
        for table in form.decision_tables.values():
            decision = forms_dsl.decide(table, values, lang, words)
            rests_on = tuple(
                sorted(
                    i.id for i in table.inputs if i.id in hidden and values.get(i.id) is not None
                )
            )
            missing = tuple(words.name(name) for name in decision.missing)
            views.append(
                DecisionView(
                    form.title.get(lang),
                    table,
                    decision,
                    missing,
                    event_id,
                    number,
                    record.form_id,
                    record.status,
                    record.updated_at,
                    rests_on,
                    masked and bool(rests_on),
                    form,
                    values,
                )
            )
    return views


class OccurrenceError(Exception):
    """A refused add or removal of an occurrence, with a message for the person asking."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class OccurrenceConflict(OccurrenceError):
    """The visits changed since the person looked: the number they confirmed was given
    meanwhile (a second tap, a colleague), or a form of the visit to remove was saved."""


@dataclass(frozen=True)
class NextOccurrence:
    """What adding another occurrence of an event would create, for its confirmation page."""

    event: forms_dsl.Event
    number: int
    today: date  # the site's own date: the latest visit date allowed


def repeating_event(ctx: Context, subject: Subject, event_id: str) -> forms_dsl.Event:
    """The study's repeating event `event_id` (NotFound for another or an unknown one)."""
    study = study_model(ctx.session, subject.study_id)
    event = next((e for e in study.events if e.id == event_id), None) if study else None
    if event is None or not event.repeating:
        raise NotFound()
    return event


def _next_number(session: Session, subject: Subject, event_id: str) -> int:
    # Occurrence 1 always shows (it is created by its first save), so "another" starts at 2.
    return max(_occurrence_numbers(session, subject).get(event_id, 0), 1) + 1


def next_occurrence(ctx: Context, subject: Subject, event_id: str, now: datetime) -> NextOccurrence:
    """The occurrence that adding another of a repeating event would open (NotFound if the
    event does not repeat)."""
    ctx.require(Permission.DATA_ENTER, subject.site_id)
    event = repeating_event(ctx, subject, event_id)
    number = _next_number(ctx.session, subject, event_id)
    return NextOccurrence(event, number, subject.site.local_time(now).date())


def add_occurrence(
    ctx: Context,
    subject: Subject,
    event_id: str,
    now: datetime,
    *,
    number: int | None = None,
    visit_date: date | None = None,
) -> int:
    """Open the next occurrence of a repeating event (the 3rd response assessment, …).

    `number` is the one the person confirmed: if it was given meanwhile (a double tap, a
    colleague), nothing is added (OccurrenceConflict). The visit date is required where the study
    asks for it, and cannot be after the site's own today.
    """
    ctx.require(Permission.DATA_ENTER, subject.site_id)
    session, actor = ctx.session, ctx.actor
    event = repeating_event(ctx, subject, event_id)
    if not event.visit_date:
        visit_date = None
    elif visit_date is None:
        raise OccurrenceError(_("Enter the visit date."))
    elif visit_date > subject.site.local_time(now).date():
        raise OccurrenceError(_("The visit date cannot be in the future."))
    # Adds for one subject take turns (PostgreSQL), so two never compute the same number.
    session.execute(
        select(Subject.id).where(Subject.id == subject.id).with_for_update(key_share=True)
    )
    next_number = _next_number(session, subject, event_id)
    if number is not None and number != next_number:
        raise OccurrenceConflict(
            _(
                "#%(n)d was added meanwhile, perhaps by a colleague: check that another is needed.",
                n=number,
            )
        )
    role = entry_role(ctx.grants, subject)
    occurrence = EventOccurrence(
        subject_id=subject.id, event_id=event_id, number=next_number, created_at=now,
        created_by_id=actor.user_id, visit_date=visit_date,
    )  # fmt: skip
    session.add(occurrence)
    new = {"subject": subject.study_code, "event": event_id, "number": next_number}
    if visit_date is not None:
        new["visit_date"] = visit_date.isoformat()
    audit.record(
        session, actor, "event.opened", target=occurrence, role=role,
        site_code=subject.site.code, new=new,
    )  # fmt: skip
    session.flush()
    return next_number


@dataclass(frozen=True)
class FoundOccurrence:
    event: forms_dsl.Event
    occurrence: EventOccurrence
    has_data: bool  # a form of it was saved (even as a draft): it stays


def find_occurrence(
    ctx: Context,
    subject: Subject,
    event_id: str,
    number: int,
    *,
    lock: bool = False,
) -> FoundOccurrence:
    """An occurrence (after the first) of a repeating event that was not removed, for the
    person who may remove it; NotFound otherwise."""
    ctx.require(Permission.DATA_ENTER, subject.site_id)
    session = ctx.session
    event = repeating_event(ctx, subject, event_id)
    if number <= 1:
        raise NotFound()
    query = select(EventOccurrence).where(
        EventOccurrence.subject_id == subject.id,
        EventOccurrence.event_id == event_id,
        EventOccurrence.number == number,
        EventOccurrence.removed_at.is_(None),
    )
    occurrence = session.scalar(query.with_for_update() if lock else query)
    if occurrence is None:
        raise NotFound()
    has_data = bool(
        session.scalar(select(exists().where(FormRecord.occurrence_id == occurrence.id)))
    )
    return FoundOccurrence(event, occurrence, has_data)


def remove_occurrence(
    ctx: Context,
    subject: Subject,
    event_id: str,
    number: int,
    reason: str,
    now: datetime,
) -> None:
    """Remove an occurrence added by mistake, while none of its forms was saved.

    The row stays, marked removed with who, when and why, so that its number is never given
    to another visit; it leaves the subject page and its forms answer 404.
    """
    found = find_occurrence(ctx, subject, event_id, number, lock=True)
    reason = reason.strip()
    if found.has_data:
        raise OccurrenceConflict(
            _("Forms of this visit have been saved: it cannot be removed. Correct its forms.")
        )
    if not reason:
        raise OccurrenceError(_("Give a reason for removing it."))
    actor = ctx.actor
    occurrence = found.occurrence
    occurrence.removed_at = now
    occurrence.removed_by_id = actor.user_id
    occurrence.removal_reason = reason
    audit.record(
        ctx.session, actor, "event.removed", target=occurrence,
        role=entry_role(ctx.grants, subject),
        site_code=subject.site.code, reason=reason,
        old={"subject": subject.study_code, "event": event_id, "number": number,
             "visit_date": occurrence.visit_date},
    )  # fmt: skip
    ctx.session.flush()
