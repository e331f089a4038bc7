"""Saving CRF data: draft or complete, reasons for change, optimistic concurrency, item audit.

A save is judged on what the server computes from the posted strings (forms_dsl evaluates them):
hidden fields are not stored, calculations are never taken from the request. Each changed item is
one audit event with its old value, new value, reason and the form version it was entered with.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from flask import abort
from sqlalchemy import JSON, Select, and_, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

import forms_dsl
from edc import access, audit
from edc.access import Permission
from edc.actor import Actor
from edc.models.audit import AuditEvent
from edc.models.crf import EventOccurrence, FormRecord, ItemValue, RecordStatus
from edc.models.definitions import FormVersion, StudyDefinition
from edc.models.studies import Site
from edc.models.subjects import Subject, SubjectIdentity
from edc.services import subjects
from edc.services.crf_values import (
    Stored,
    flatten,
    posted_from_stored,
    to_typed,
    typed_values,
)
from edc.services.definitions import form_model, study_model, study_of

#: Malformed input cannot be stored even in a draft: it stays on screen to be corrected.
FORMAT_KINDS = frozenset(
    {"integer", "decimal", "decimals", "date", "datetime", "time", "yesno", "choice"}
)
READ_ONLY = {RecordStatus.LOCKED.value, RecordStatus.SIGNED.value}

_item_table = ItemValue.__table__
_record_table = FormRecord.__table__
# The save's statements, built once (building one costs more than running it on SQLite). Core:
# the ORM's bulk machinery adds nothing to rows the save reads and writes by id.
_ITEM_UPDATE = (
    update(_item_table)
    .where(
        _item_table.c.record_id == bindparam("of_record"),
        _item_table.c.path == bindparam("item_path"),
    )
    .values(value=bindparam("value"), updated_at=bindparam("at"), updated_by_id=bindparam("by"))
)


class _JsonObject(FunctionElement[Any]):
    """`{key: value, ...}` of the rows, as one JSON value (an aggregate, named per database).

    The entry query reads a record's items with it, so that a page or a save reads them
    without a round trip of their own.
    """

    type = JSON()
    name = "json_object"
    inherit_cache = True


@compiles(_JsonObject, "sqlite")
def _json_object_sqlite(element: _JsonObject, compiler: SQLCompiler, **kw: Any) -> str:
    key, value = (compiler.process(c, **kw) for c in element.clauses)
    return f"json_group_object({key}, json({value}))"  # values are stored as JSON text


@compiles(_JsonObject, "postgresql")
def _json_object_postgresql(element: _JsonObject, compiler: SQLCompiler, **kw: Any) -> str:
    key, value = (compiler.process(c, **kw) for c in element.clauses)
    return f"json_object_agg({key}, {value})"


_ITEM_INSERT = insert(_item_table).values(updated_by_id=bindparam("by"))
#: The optimistic lock: only the save that read the current version may write.
_BUMP = (
    update(_record_table)
    .where(
        _record_table.c.id == bindparam("record_id"),
        _record_table.c.row_version == bindparam("read"),
    )
    .values(
        row_version=bindparam("row_version"),
        status=bindparam("status"),
        updated_at=bindparam("updated_at"),
        updated_by_id=bindparam("updated_by_id"),
    )
)


class Outcome(enum.StrEnum):
    SAVED = "saved"
    INVALID = "invalid"  # errors (or unconfirmed warnings when completing): nothing stored
    NEEDS_REASONS = "needs_reasons"  # a complete record changed: each change needs a reason
    CONFLICT = "conflict"  # someone saved since this page was opened: nothing stored
    READ_ONLY = "read_only"


@dataclass(frozen=True)
class Change:
    path: str
    old: Stored
    new: Stored


@dataclass
class Entry:
    """Where data are entered: a subject, an event occurrence, a form (at a version)."""

    subject: Subject
    event_id: str
    number: int
    form_version: FormVersion
    occurrence: EventOccurrence | None
    record: FormRecord | None
    #: The record's items as read with it ({path: value}); a save compares against these.
    stored: dict[str, Stored] = field(default_factory=dict)

    @property
    def form(self) -> forms_dsl.Form:
        return form_model(self.form_version)

    @property
    def row_version(self) -> int:
        return self.record.row_version if self.record is not None else 0


@dataclass
class SaveResult:
    outcome: Outcome
    evaluation: forms_dsl.Evaluation | None = None
    changes: list[Change] = field(default_factory=list)
    stored: dict[str, Stored] = field(default_factory=dict)
    unconfirmed: list[forms_dsl.Issue] = field(default_factory=list)
    last_changed_by: str = ""


def warning_key(issue: forms_dsl.Issue) -> str:
    """How a confirmed warning is named in the request (`field:check:row`)."""
    return f"{issue.field}:{issue.kind}:{'' if issue.row is None else issue.row}"


@lru_cache(maxsize=2)
def _entry_query(identity: bool) -> Select[Any]:
    """`find_entry`'s query, built once: its parameters (and the actor's sites) are bound at
    each execution."""
    definitions, versions = aliased(StudyDefinition), aliased(FormVersion)
    latest_definition = (
        select(func.max(definitions.id))
        .where(definitions.study_id == Subject.study_id)
        .correlate(Subject)
        .scalar_subquery()
    )
    current_version = (
        select(versions.id)
        .where(versions.study_id == Subject.study_id, versions.form_id == bindparam("form_id"))
        .order_by(versions.version.desc())
        .limit(1)
        .correlate(Subject)
        .scalar_subquery()
    )
    stored = (
        select(_JsonObject(ItemValue.path, ItemValue.value))
        .where(ItemValue.record_id == FormRecord.id)
        .correlate(FormRecord)
        .scalar_subquery()
    )
    entities = (Subject, Site, StudyDefinition, EventOccurrence, FormRecord, FormVersion)
    query = (
        select(*entities, stored)
        .join(Site, Site.id == Subject.site_id)
        .outerjoin(StudyDefinition, StudyDefinition.id == latest_definition)
        .outerjoin(
            EventOccurrence,
            and_(
                EventOccurrence.subject_id == Subject.id,
                EventOccurrence.event_id == bindparam("event_id"),
                EventOccurrence.number == bindparam("number"),
            ),
        )
        .outerjoin(
            FormRecord,
            and_(
                FormRecord.occurrence_id == EventOccurrence.id,
                FormRecord.form_id == bindparam("form_id"),
            ),
        )
        .outerjoin(
            FormVersion,
            FormVersion.id == func.coalesce(FormRecord.form_version_id, current_version),
        )
        .where(Subject.study_code == bindparam("code"))
    )
    if identity:
        query = query.add_columns(SubjectIdentity).outerjoin(
            SubjectIdentity, SubjectIdentity.subject_id == Subject.id
        )
    return subjects.visible_statement(query)


def find_entry(
    session: Session,
    actor: Actor,
    code: str,
    event_id: str,
    number: int,
    form_id: str,
    *,
    identity: bool = False,
) -> Entry | None:
    """The entry of a subject the actor may see, or None (out of scope, or no such form there).

    One query reads the subject and its site, the study's current definition (which events
    exist and which forms they have), the occurrence, the record and its form version (the
    current version when there is no record yet), and with `identity` the vault row, still
    encrypted (`subjects.read_identity` decrypts and audits it). Every page and save needs them,
    and reading them one by one costs a round trip each.
    """
    if number < 1:
        return None
    found = session.execute(
        _entry_query(identity),
        {
            "code": code,
            "event_id": event_id,
            "number": number,
            "form_id": form_id,
            **subjects.visible_params(session, actor),
        },
    ).first()
    if found is None:
        return None
    subject, site, definition, occurrence, record, version, stored = found[:7]
    if definition is None or version is None:
        return None
    # What the row read, attached where the code looks (the session holds rows only weakly).
    set_committed_value(subject, "site", site)
    if identity:
        set_committed_value(subject, "identity", found[7])
    if version.definition_id == definition.id:
        set_committed_value(version, "definition", definition)
    event = next((e for e in study_of(definition).events if e.id == event_id), None)
    if event is None or form_id not in event.forms or (number > 1 and not event.repeating):
        return None
    return Entry(subject, event_id, number, version, occurrence, record, stored or {})


def open_entry(
    session: Session, actor: Actor, subject: Subject, event_id: str, number: int, form_id: str
) -> Entry | None:
    """The entry of a subject already found (see `find_entry`)."""
    return find_entry(session, actor, subject.study_code, event_id, number, form_id)


def stored_items(session: Session, record: FormRecord | None) -> dict[str, Stored]:
    if record is None:
        return {}
    rows = session.execute(
        select(ItemValue.path, ItemValue.value).where(ItemValue.record_id == record.id)
    )
    return {path: value for path, value in rows}  # type: ignore[misc]


def date_of_birth(session: Session, actor: Actor, subject: Subject) -> dt.date | None:
    """The birth date for calculations (age), read from the vault; the read is audited."""
    identity = subjects.read_identity(session, actor, subject, purpose="calculation")
    return identity.date_of_birth if identity is not None else None


def evaluate(
    entry: Entry,
    posted: Mapping[str, str | Sequence[str]],
    *,
    birth: dt.date | None,
    lang: str,
    now: datetime,
) -> forms_dsl.Evaluation:
    """The form's evaluation; today() and now() are the subject's site's clock at `now` (UTC):
    a date typed just after midnight in Paris is not "in the future" for a server on UTC."""
    return forms_dsl.evaluate(
        entry.form,
        posted,
        context={"date_of_birth": birth},
        lang=lang,
        now=entry.subject.site.local_time(now),
        ignore=("csrf_token", "row_version", "action"),
    )


def as_stored(
    entry: Entry, stored: Mapping[str, Stored], *, lang: str, now: datetime
) -> forms_dsl.Evaluation:
    """The record as it was saved, for readers: calculations show their stored values, since
    recomputing them would need the identity vault (the age), which only site staff open."""
    form = entry.form
    result = evaluate(entry, posted_from_stored(form, stored), birth=None, lang=lang, now=now)
    for f in form:
        if f.type is not forms_dsl.FieldType.CALC:
            continue
        if f.repeat is None:
            if f.id in stored:
                result.values[f.id] = to_typed(f, stored[f.id])
            continue
        for index, row in enumerate(result.rows.get(f.repeat, [])):
            path = f"{f.repeat}-{index}-{f.id}"
            if path in stored:
                row[f.id] = to_typed(f, stored[path])
    return result


def save(
    session: Session,
    actor: Actor,
    entry: Entry,
    posted: Mapping[str, str | Sequence[str]],
    *,
    expected_version: int,
    complete: bool,
    reasons: Mapping[str, str],
    confirmed: Mapping[str, str],
    lang: str,
    now: datetime,
) -> SaveResult:
    """Store what the server computes from `posted`, or say why not (nothing stored then)."""
    assert actor.user is not None
    subject = entry.subject
    grants = access.grants(session, actor.user)  # read once: access, vault and role use them
    if not access.holds(grants, Permission.DATA_ENTER, subject.site_id):
        abort(404)
    # `entry` was read in this transaction; the version bump below is what settles a race.
    record, form_id = entry.record, entry.form_version.form_id
    if record is not None and record.status in READ_ONLY:
        return SaveResult(Outcome.READ_ONLY)
    if entry.row_version != expected_version:
        return _conflict(session, record)
    with audit.batch(session):  # the vault read and every event of the save: one chain append
        result = _save_evaluated(
            session,
            actor,
            entry,
            posted,
            grants,
            complete=complete,
            reasons=reasons,
            confirmed=confirmed,
            lang=lang,
            now=now,
        )
    if result.outcome is Outcome.CONFLICT:  # another save won the race since we read
        current = open_entry(session, actor, subject, entry.event_id, entry.number, form_id)
        return _conflict(session, current.record if current is not None else None)
    return result


def _conflict(session: Session, record: FormRecord | None) -> SaveResult:
    """Nothing stored: what is stored now and who stored it, to compare with the posted data."""
    return SaveResult(
        Outcome.CONFLICT,
        stored=stored_items(session, record),
        last_changed_by=_last_author(session, record),
    )


def _save_evaluated(
    session: Session,
    actor: Actor,
    entry: Entry,
    posted: Mapping[str, str | Sequence[str]],
    grants: list[access.Grant],
    *,
    complete: bool,
    reasons: Mapping[str, str],
    confirmed: Mapping[str, str],
    lang: str,
    now: datetime,
) -> SaveResult:
    """Evaluate, judge and write; a bare CONFLICT when the version bump finds a newer save."""
    subject, record = entry.subject, entry.record
    identity = subjects.read_identity(session, actor, subject, "calculation", grants=grants)
    birth = identity.date_of_birth if identity is not None else None
    result = evaluate(entry, posted, birth=birth, lang=lang, now=now)
    was_complete = record is not None and record.status == RecordStatus.COMPLETE.value
    completing = complete or was_complete
    blocking = [i for i in result.errors if completing or i.kind in FORMAT_KINDS]
    unconfirmed = [w for w in result.warnings if completing and warning_key(w) not in confirmed]
    if blocking or unconfirmed:
        return SaveResult(Outcome.INVALID, result, unconfirmed=unconfirmed)
    old = entry.stored
    new = flatten(result)
    changes = [
        Change(path, old.get(path), new.get(path))
        for path in sorted(old.keys() | new.keys())
        if old.get(path) != new.get(path)
    ]
    if was_complete and any(not reasons.get(c.path, "").strip() for c in changes):
        return SaveResult(Outcome.NEEDS_REASONS, result, changes=changes)
    role = _role(grants, subject)
    confirmations = [(w, confirmed.get(warning_key(w), "")) for w in result.warnings if completing]
    try:
        if entry.record is None:  # creating rows another save may create too: isolate them
            audit.write_batch(session)  # the vault read must not go with a savepoint rollback
            with session.begin_nested():
                record = _write(
                    session, actor, entry, changes, reasons, confirmations, complete, role, now
                )
        else:  # the version bump is the first write: a stale save writes nothing
            record = _write(
                session, actor, entry, changes, reasons, confirmations, complete, role, now
            )
    except (_StaleError, IntegrityError):
        return SaveResult(Outcome.CONFLICT)
    entry.stored = {**old, **{c.path: c.new for c in changes}}  # as the record now holds them
    return SaveResult(Outcome.SAVED, result, changes=changes)


def may_enter(session: Session, actor: Actor, subject: Subject) -> bool:
    """Whether the actor enters data at the subject's site (others read the forms only)."""
    assert actor.user is not None
    return access.holds(access.grants(session, actor.user), Permission.DATA_ENTER, subject.site_id)


def _role(grants: Sequence[access.Grant], subject: Subject) -> str:
    """The role the actor enters data with at the subject's site (for the audit trail)."""
    roles = sorted(
        g.role.value
        for g in grants
        if subject.site_id in g.site_ids
        and Permission.DATA_ENTER in access.ROLE_PERMISSIONS[g.role]
    )
    return roles[0] if roles else ""


def _item_path(entry: Entry, path: str) -> str:
    """Event, occurrence, form at its version, item: `diagnosis/1/diagnosis@2/mycn`."""
    fv = entry.form_version
    return f"{entry.event_id}/{entry.number}/{fv.form_id}@{fv.version}/{path}"


def _write(
    session: Session,
    actor: Actor,
    entry: Entry,
    changes: list[Change],
    reasons: Mapping[str, str],
    confirmations: Sequence[tuple[forms_dsl.Issue, str]],
    complete: bool,
    role: str,
    now: datetime,
) -> FormRecord:
    subject = entry.subject
    site = subject.site.code
    if entry.occurrence is None:
        entry.occurrence = EventOccurrence(
            subject_id=subject.id,
            event_id=entry.event_id,
            number=entry.number,
            created_at=now,
            created_by_id=actor.user_id,
        )
        session.add(entry.occurrence)
        audit.record(
            session, actor, "event.opened", target=entry.occurrence, role=role, site_code=site,
            new={"subject": subject.study_code, "event": entry.event_id, "number": entry.number},
        )  # fmt: skip
        session.flush()
    record = entry.record
    status = RecordStatus.COMPLETE.value if complete else None
    if record is None:
        old_status = RecordStatus.IN_PROGRESS.value
        record = FormRecord(
            subject_id=subject.id,
            occurrence_id=entry.occurrence.id,
            form_id=entry.form_version.form_id,
            form_version_id=entry.form_version.id,
            status=status or old_status,
            row_version=1,
            created_at=now,
            created_by_id=actor.user_id,
            updated_at=now,
            updated_by_id=actor.user_id,
        )
        session.add(record)
        audit.record(
            session, actor, "record.created", target=record, role=role, site_code=site,
            new={"form": str(entry.form_version), "subject": subject.study_code},
        )  # fmt: skip
        session.flush()
        entry.record = record
    else:
        old_status = record.status
        # Optimistic lock, atomically: only the save that read the current version may write.
        written = {
            "row_version": record.row_version + 1,
            "status": status or old_status,
            "updated_at": now,
            "updated_by_id": actor.user_id,
        }
        bumped = (
            session.connection()
            .execute(_BUMP, {**written, "record_id": record.id, "read": record.row_version})
            .rowcount
        )
        if bumped != 1:
            raise _StaleError
        for key, value in written.items():  # the row as stored, without reading it back
            set_committed_value(record, key, value)
    events = []
    for change in changes:
        events.append(
            {
                "action": "item.changed" if change.path in entry.stored else "item.created",
                "entity_type": "form_record",
                "entity_id": record.id,
                "item_path": _item_path(entry, change.path),
                "old": change.old,
                "new": change.new,
                "reason": reasons.get(change.path, "").strip(),
                "role": role,
                "site_code": site,
            }
        )
    events.append(
        {
            "action": "record.completed" if record.status != old_status else "record.saved",
            "target": record,
            "role": role,
            "site_code": site,
            "old": {"status": old_status},
            "new": {
                "status": record.status,
                "row_version": record.row_version,
                "changes": len(changes),
            },
        }
    )
    for issue, reason in confirmations:  # warnings confirmed on completion (with a reason)
        events.append(
            {
                "action": "check.confirmed",
                "target": record,
                "item_path": _item_path(entry, issue.field),
                "new": {"check": issue.kind, "row": issue.row, "message": issue.message},
                "reason": reason,
                "role": role,
                "site_code": site,
            }
        )
    audit.record_many(session, actor, events)  # one chain lock for the whole save
    # The version bump said this save may write: the items go with their audit events.
    _insert_items(session, actor, record, changes, entry.stored, now)
    audit.write_batch(  # the audit events of every change describe these rows
        session, along=lambda: _update_items(session, actor, record, changes, entry.stored, now)
    )
    session.flush()
    return record


def _insert_items(
    session: Session,
    actor: Actor,
    record: FormRecord,
    changes: list[Change],
    stored: Mapping[str, Stored],
    now: datetime,
) -> None:
    """Items answered for the first time, in one executemany (no ORM objects to track)."""
    created = [
        {
            "record_id": record.id,
            "path": c.path,
            "value": c.new,
            "updated_at": now,
            "by": actor.user_id,
        }
        for c in changes
        if c.path not in stored
    ]
    if created:
        session.connection().execute(_ITEM_INSERT, created)


def _update_items(
    session: Session,
    actor: Actor,
    record: FormRecord,
    changes: list[Change],
    stored: Mapping[str, Stored],
    now: datetime,
) -> None:
    """Items whose value changed, in one executemany that waits for no reply (it is sent with
    the audit events, see `audit.write_batch`)."""
    changed = [
        {
            "of_record": record.id,
            "item_path": c.path,
            "value": c.new,
            "at": now,
            "by": actor.user_id,
        }
        for c in changes
        if c.path in stored
    ]
    if changed:
        session.connection().execute(_ITEM_UPDATE, changed)


class _StaleError(Exception):
    """The record changed between reading and writing."""


def _last_author(session: Session, record: FormRecord | None) -> str:
    if record is None:
        return ""
    return (
        session.scalar(
            select(AuditEvent.actor_email)
            .where(
                AuditEvent.entity_type == "form_record",
                AuditEvent.entity_id == str(record.id),
                AuditEvent.action.in_(("record.saved", "record.completed")),
            )
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
        or ""
    )


def item_history(session: Session, record: FormRecord, path: str) -> list[AuditEvent]:
    """Every change of one item, oldest first: old and new value, reason, author, time, version."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.entity_type == "form_record",
                AuditEvent.entity_id == str(record.id),
                AuditEvent.item_path.endswith(f"/{path}"),
                AuditEvent.action.in_(("item.created", "item.changed")),
            )
            .order_by(AuditEvent.seq)
        )
    )


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


def decision_support(session: Session, subject: Subject, lang: str) -> list[DecisionView]:
    """Every decision table of the subject's saved records, computed from the stored data now."""
    records = session.scalars(
        select(FormRecord)
        .where(FormRecord.subject_id == subject.id)
        .options(selectinload(FormRecord.form_version), selectinload(FormRecord.items))
        .order_by(FormRecord.id)
    ).all()
    views = []
    for record in records:
        form = form_model(record.form_version)
        if not form.decision_tables:
            continue
        values = typed_values(form, {item.path: item.value for item in record.items})
        words = forms_dsl.wording(form, lang)  # labels, not ids and codes, for clinicians
        for table in form.decision_tables.values():
            decision = forms_dsl.decide(table, values, lang, words)
            missing = tuple(words.name(name) for name in decision.missing)
            views.append(DecisionView(form.title.get(lang), table, decision, missing))
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
    role = _role(access.grants(session, actor.user), subject)
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
