"""A subject's casebook as a PDF an inspector reads (checklist 15, 23, 24): every saved form
with its shown status and values in words, each item's history with its reasons for change,
source data verification, queries with their threads, and the manifestation of every signature.

The copy is read in a fixed number of statements whatever the number of forms: the records,
their items, their audit events, verifications, queries and people are each one query. The
identifier items of forms follow the vault's rules as on the CRF page: masked for readers who may
not see them (their values never reach the renderer), and for site staff showing them is an
audited identity read. Every download is audited with the SHA-256 of the bytes handed out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import contains_eager, selectinload

import forms_dsl
from edc import access, audit
from edc.access import Permission
from edc.casebook_pdf import render
from edc.context import Context
from edc.errors import Invalid
from edc.item_address import RecordItem, field_of
from edc.models.audit import AuditEvent
from edc.models.crf import EventOccurrence, FormRecord, ItemValue
from edc.models.definitions import FormVersion
from edc.models.monitoring import DataQuery, ItemVerification, QueryMessage
from edc.models.subjects import Subject
from edc.models.users import User
from edc.services import casebook, identifiers, signing
from edc.services.data_entry import ITEM_ACTIONS
from edc.services.definitions import form_model
from edc.services.derived_events import cause_of, value_of

#: What an item's history in the copy holds: its values, and the warnings confirmed on it.
HISTORY_ACTIONS = (*ITEM_ACTIONS, "check.confirmed")


@dataclass(frozen=True)
class Who:
    """A person as the copy names them (their account's name and e-mail)."""

    name: str
    email: str


@dataclass(frozen=True)
class Change:
    """One line of an item's history. A masked item's values are None (`masked`)."""

    key: str
    at: datetime
    action: str
    who: Who
    role: str
    old: object
    new: object
    reason: str
    masked: bool = False
    #: A recomputation's cause: the audit action that caused it, and when.
    cause: tuple[str, datetime] | None = None
    check: str = ""  # a confirmed warning's message


@dataclass(frozen=True)
class Verified:
    key: str
    who: Who
    at: datetime
    reset_at: datetime | None  # changed after SDV


@dataclass(frozen=True)
class Message:
    kind: str
    at: datetime
    who: Who
    role: str
    text: str
    change: tuple[object, object] | None = None  # an answer that changed the data
    masked: bool = False


@dataclass(frozen=True)
class Thread:
    key: str  # "" for the whole form
    status: str
    raised_at: datetime
    messages: list[Message]


@dataclass
class FormCopy:
    """One saved form of a visit, as the copy prints it."""

    event_label: str
    number: int
    repeating: bool
    visit_date: date | None
    form: forms_dsl.Form
    status: str  # shown: a lock or a valid signature first
    #: The stored items; a masked item's value is None.
    items: dict[str, object]
    masked: frozenset[str] = frozenset()  # identifier field ids masked for the reader
    changes: list[Change] = field(default_factory=list)
    verified: list[Verified] = field(default_factory=list)
    threads: list[Thread] = field(default_factory=list)


@dataclass
class CasebookCopy:
    """Everything the copy prints, read and masked for its reader."""

    study_title: str
    site_code: str
    site_name: str
    subject_code: str
    subject_status: str
    generated_at: datetime
    generated_by: Who
    grid: list[casebook.EventRow]
    forms: list[FormCopy]
    signatures: list[signing.Shown]
    masked: bool  # identifier items are masked for this reader


@dataclass
class _Read:
    """The subject's review data, read once and handed out per record."""

    records: dict[tuple[str, int, str], FormRecord]
    items: dict[int, dict[str, object]]
    events: dict[int, list[AuditEvent]]
    causes: dict[int, AuditEvent]
    verified: dict[int, list[ItemVerification]]
    queries: dict[int, list[DataQuery]]
    people: dict[int, Who]


def casebook_pdf(ctx: Context, subject: Subject) -> bytes:
    """The casebook of a subject the actor may read, as PDF bytes in the reader's language;
    the download is audited (`casebook.exported`, with the bytes' SHA-256)."""
    ctx.require(Permission.SUBJECT_VIEW, subject.site_id)
    copy = casebook_copy(ctx, subject)
    pdf = render.pdf(copy, ctx.language)
    audit.record(
        ctx.session, ctx.actor, "casebook.exported", entity_type="subject",
        entity_id=subject.study_code, site_code=subject.site.code,
        role=access.acting_role(ctx.grants, Permission.SUBJECT_VIEW, subject.site_id),
        new={"subject": subject.study_code, "sha256": hashlib.sha256(pdf).hexdigest(),
             "bytes": len(pdf), "identifiers_masked": copy.masked},
    )  # fmt: skip
    ctx.session.flush()
    return pdf


def casebook_copy(ctx: Context, subject: Subject) -> CasebookCopy:
    """What the copy prints, scoped to the reader; for site staff, the identifier items it
    shows are recorded as identity reads (one per form)."""
    ctx.require(Permission.SUBJECT_VIEW, subject.site_id)
    may_see = identifiers.may_see(ctx, subject)
    grid = casebook.casebook(ctx, subject)
    read = _read(ctx, subject)
    forms = [
        _form_copy(read, row, cell, record, may_see)
        for row in grid
        for cell in row.forms
        if (record := read.records.get((row.event_id, row.number, cell.form_id))) is not None
    ]
    if may_see:
        for copy in forms:
            shown = [*copy.items, *(c.key for c in copy.changes), *(t.key for t in copy.threads)]
            found = identifiers.shown_items(copy.form, shown)
            identifiers.record_read(ctx, subject, "casebook", copy.form.id, found)
    user = ctx.actor.user
    return CasebookCopy(
        study_title=subject.study.title,
        site_code=subject.site.code,
        site_name=subject.site.name,
        subject_code=subject.study_code,
        subject_status=subject.status,
        generated_at=ctx.now(),
        generated_by=Who(user.full_name, user.email) if user is not None else Who("", ""),
        grid=grid,
        forms=forms,
        signatures=signing.shown_for_subject(ctx, subject),
        masked=not may_see,
    )


def _read(ctx: Context, subject: Subject) -> _Read:
    """The subject's records and all that rests on them: a fixed number of queries."""
    session = ctx.session
    rows = session.scalars(
        select(FormRecord)
        .join(EventOccurrence, EventOccurrence.id == FormRecord.occurrence_id)
        .where(FormRecord.subject_id == subject.id, EventOccurrence.removed_at.is_(None))
        .options(
            contains_eager(FormRecord.occurrence),
            selectinload(FormRecord.form_version).selectinload(FormVersion.definition),
        )
    ).all()
    records = {(r.occurrence.event_id, r.occurrence.number, r.form_id): r for r in rows}
    ids = [r.id for r in rows]
    items: dict[int, dict[str, object]] = {i: {} for i in ids}
    for record_id, path, value in session.execute(
        select(ItemValue.record_id, ItemValue.path, ItemValue.value)
        .join(FormRecord, FormRecord.id == ItemValue.record_id)
        .where(FormRecord.subject_id == subject.id)
    ):
        items.setdefault(record_id, {})[path] = value
    events = _events(ctx, ids)
    verified = _verifications(ctx, subject)
    queries = _queries(ctx, subject)
    people = _people(ctx, _user_ids(events.values(), verified.values(), queries.values()))
    return _Read(records, items, events, _causes(ctx, events), verified, queries, people)


def _events(ctx: Context, record_ids: Collection[int]) -> dict[int, list[AuditEvent]]:
    """The item events of the records, oldest first, by record."""
    found: dict[int, list[AuditEvent]] = {}
    if not record_ids:
        return found
    rows = ctx.session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.entity_type == "form_record",
            AuditEvent.entity_id.in_([str(i) for i in record_ids]),
            AuditEvent.action.in_(HISTORY_ACTIONS),
        )
        .order_by(AuditEvent.seq)
    )
    for event in rows:
        found.setdefault(int(event.entity_id), []).append(event)
    return found


def _causes(ctx: Context, events: dict[int, list[AuditEvent]]) -> dict[int, AuditEvent]:
    """The events that caused recomputations (a birth-date correction), by seq."""
    seqs = {s for found in events.values() for e in found if (s := cause_of(e)) is not None}
    if not seqs:
        return {}
    return {
        e.seq: e for e in ctx.session.scalars(select(AuditEvent).where(AuditEvent.seq.in_(seqs)))
    }


def _verifications(ctx: Context, subject: Subject) -> dict[int, list[ItemVerification]]:
    found: dict[int, list[ItemVerification]] = {}
    rows = ctx.session.scalars(
        select(ItemVerification)
        .join(FormRecord, FormRecord.id == ItemVerification.record_id)
        .where(FormRecord.subject_id == subject.id)
        .order_by(ItemVerification.item_key)
    )
    for row in rows:
        found.setdefault(row.record_id, []).append(row)
    return found


def _queries(ctx: Context, subject: Subject) -> dict[int, list[DataQuery]]:
    """The subject's queries with their threads, oldest first, by record (two queries)."""
    found: dict[int, list[DataQuery]] = {}
    rows = ctx.session.scalars(
        select(DataQuery)
        .where(DataQuery.subject_id == subject.id)
        .options(selectinload(DataQuery.messages))
        .order_by(DataQuery.id)
    )
    for query in rows:
        found.setdefault(query.record_id, []).append(query)
    return found


def _user_ids(
    events: Iterable[list[AuditEvent]],
    verified: Iterable[list[ItemVerification]],
    queries: Iterable[list[DataQuery]],
) -> set[int]:
    ids = {e.actor_id for found in events for e in found}
    ids |= {v.verified_by_id for found in verified for v in found}
    ids |= {m.author_id for found in queries for q in found for m in q.messages}
    return {i for i in ids if i is not None}


def _people(ctx: Context, ids: Collection[int]) -> dict[int, Who]:
    if not ids:
        return {}
    rows = ctx.session.execute(
        select(User.id, User.full_name, User.email).where(User.id.in_(sorted(ids)))
    )
    return {i: Who(name, email) for i, name, email in rows}


def _form_copy(
    read: _Read,
    row: casebook.EventRow,
    cell: casebook.FormCell,
    record: FormRecord,
    may_see: bool,
) -> FormCopy:
    """One record as the copy prints it, its identifier items masked unless `may_see`."""
    form = form_model(record.form_version)
    masked = frozenset() if may_see else identifiers.field_ids(form)
    items = {k: (None if field_of(k) in masked else v) for k, v in read.items[record.id].items()}
    people = read.people
    return FormCopy(
        event_label=row.label,
        number=row.number,
        repeating=row.repeating,
        visit_date=row.visit_date,
        form=form,
        status=cell.status,
        items=items,
        masked=masked,
        changes=[_change(e, read, masked) for e in read.events.get(record.id, [])],
        verified=[
            Verified(v.item_key, _who(people, v.verified_by_id, ""), v.verified_at, v.reset_at)
            for v in read.verified.get(record.id, [])
        ],
        threads=[_thread(q, people, masked) for q in read.queries.get(record.id, [])],
    )


def _who(people: dict[int, Who], user_id: int | None, email: str) -> Who:
    return people.get(user_id, Who("", email)) if user_id is not None else Who("", email)


def _key(event: AuditEvent) -> str:
    """The item an event names within its record (`weight`, `doses-3-dose_mg`)."""
    try:
        return RecordItem.parse(event.item_path).item.key
    except Invalid:
        return event.item_path.rsplit("/", 1)[-1]


def _change(event: AuditEvent, read: _Read, masked: frozenset[str]) -> Change:
    key = _key(event)
    hidden = field_of(key) in masked
    who = _who(read.people, event.actor_id, event.actor_email)
    cause_seq = cause_of(event)
    cause = read.causes.get(cause_seq) if cause_seq is not None else None
    check = ""
    old, new = event.old_value, value_of(event)
    if event.action == "check.confirmed":
        check = str(new.get("message", "")) if isinstance(new, dict) else ""
        old = new = None
    return Change(
        key, event.at, event.action, who, event.role,
        None if hidden else old, None if hidden else new, event.reason or "", hidden,
        (cause.action, cause.at) if cause is not None else None, check,
    )  # fmt: skip


def _thread(query: DataQuery, people: dict[int, Who], masked: frozenset[str]) -> Thread:
    hidden = bool(query.item_key) and field_of(query.item_key) in masked
    return Thread(
        query.item_key,
        query.status,
        query.raised_at,
        [_message(m, people, hidden) for m in query.messages],
    )


def _message(m: QueryMessage, people: dict[int, Who], hidden: bool) -> Message:
    """A message of a thread; an answer that changed the data carries the change (masked for
    a reader who may not see the item)."""
    change: tuple[object, object] | None = None
    if m.change_seq is not None or m.old is not None or m.new is not None:
        change = (None, None) if hidden else (m.old, m.new)
    return Message(m.kind, m.at, _who(people, m.author_id, ""), m.role, m.text, change, hidden)
