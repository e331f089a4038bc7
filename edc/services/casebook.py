"""The subject page: events × forms with each record's status, another occurrence of a
repeating event, and decision support computed from the stored data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

import forms_dsl
from edc import access, audit
from edc.access import Permission
from edc.actor import Actor
from edc.models.crf import EventOccurrence, FormRecord, RecordStatus
from edc.models.subjects import Subject
from edc.services.crf_values import typed_values
from edc.services.data_entry import entry_role
from edc.services.definitions import form_model, study_model


def status_counts(session: Session, subject: Subject) -> dict[tuple[str, int, str], str]:
    """Status of every record of a subject by (event, occurrence number, form), in one query."""
    rows = session.execute(
        select(
            EventOccurrence.event_id, EventOccurrence.number, FormRecord.form_id, FormRecord.status
        )
        .join(FormRecord, FormRecord.occurrence_id == EventOccurrence.id)
        .where(EventOccurrence.subject_id == subject.id)
    )
    return {(e, n, f): s for e, n, f, s in rows}


def record_counts(session: Session, subject_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """How many saved records each subject has per status (a list page's summary, one query)."""
    counts: dict[int, dict[str, int]] = {}
    if not subject_ids:
        return counts
    rows = session.execute(
        select(FormRecord.subject_id, FormRecord.status, func.count())
        .where(FormRecord.subject_id.in_(subject_ids))
        .group_by(FormRecord.subject_id, FormRecord.status)
    )
    for subject_id, status, n in rows:
        counts.setdefault(subject_id, {})[status] = n
    return counts


def occurrence_numbers(session: Session, subject: Subject) -> dict[str, int]:
    """The highest occurrence number of each event for a subject."""
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
    status: str


@dataclass(frozen=True)
class EventRow:
    event_id: str
    label: str
    number: int
    repeating: bool
    forms: tuple[FormCell, ...]
    last: bool  # the event's latest occurrence: where "add another" goes


def casebook(session: Session, subject: Subject, lang: str) -> list[EventRow]:
    """Events × forms with each record's status: the subject page's grid (two queries)."""
    study = study_model(session, subject.study_id)
    if study is None:
        return []
    statuses = status_counts(session, subject)
    highest = occurrence_numbers(session, subject)
    rows = []
    for event in study.events:
        count = max(highest.get(event.id, 1), 1) if event.repeating else 1
        for number in range(1, count + 1):
            cells = tuple(
                FormCell(
                    form_id,
                    study.forms[form_id].title.get(lang),
                    statuses.get((event.id, number, form_id), RecordStatus.NOT_STARTED.value),
                )
                for form_id in event.forms
                if form_id in study.forms
            )
            rows.append(
                EventRow(
                    event.id, event.label.get(lang), number, event.repeating, cells, number == count
                )
            )
    return rows


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


def decision_support(session: Session, subject: Subject, lang: str) -> list[DecisionView]:
    """Every decision table of the subject's saved records, computed from the stored data now,
    each naming the record it was computed from, that record's status and its last save."""
    records = session.execute(
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
        for table in form.decision_tables.values():
            decision = forms_dsl.decide(table, values, lang, words)
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
                )
            )
    return views


def add_occurrence(
    session: Session, actor: Actor, subject: Subject, event_id: str, now: datetime
) -> int:
    """Open the next occurrence of a repeating event (the 3rd response assessment, …)."""
    assert actor.user is not None
    access.require(session, actor.user, Permission.DATA_ENTER, subject.site_id)
    study = study_model(session, subject.study_id)
    event = next((e for e in study.events if e.id == event_id), None) if study else None
    if event is None or not event.repeating:
        raise LookupError(event_id)
    # Occurrence 1 always shows (it is created by its first save), so "another" starts at 2.
    number = max(occurrence_numbers(session, subject).get(event_id, 0), 1) + 1
    role = entry_role(access.grants(session, actor.user), subject)
    occurrence = EventOccurrence(
        subject_id=subject.id, event_id=event_id, number=number, created_at=now,
        created_by_id=actor.user_id,
    )  # fmt: skip
    session.add(occurrence)
    audit.record(
        session, actor, "event.opened", target=occurrence, role=role,
        site_code=subject.site.code,
        new={"subject": subject.study_code, "event": event_id, "number": number},
    )  # fmt: skip
    session.flush()
    return number
