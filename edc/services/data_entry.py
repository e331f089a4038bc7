"""Saving CRF data: draft or complete, reasons for change, optimistic concurrency, item audit.

A save is judged on what the server computes from the posted strings (forms_dsl evaluates them):
hidden fields are not stored, calculations are never taken from the request. Each changed item is
one audit event with its old value, new value, reason and the form version it was entered with.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

import forms_dsl
from edc import access, audit, lifecycle
from edc.access import Permission
from edc.actor import Actor
from edc.context import Context
from edc.errors import Conflict, Denied, NotFound
from edc.item_address import ItemAddress, field_of, record_suffix, row_of
from edc.models.audit import AuditEvent
from edc.models.crf import EventOccurrence, FormRecord, ItemValue
from edc.models.subjects import Subject
from edc.services import (
    consent_scope,
    identifiers,
    notices,
    refused_saves,
    repeat_rows,
    review_effects,
    save_gate,
    subjects,
)
from edc.services.crf_values import (
    Stored,
    flatten,
    posted_from_stored,
    same_stored,
    to_typed,
)
from edc.services.derived_events import cause_of
from edc.services.entries import Entry, open_entry, stored_items
from forms_dsl.dependencies import context_read, needed_to_show

#: Malformed input cannot be stored even in a draft: it stays on screen to be corrected.
FORMAT_KINDS = frozenset(
    {"integer", "decimal", "decimals", "date", "no_such_date", "datetime", "time", "yesno",
     "choice"}
)  # fmt: skip

_item_table = cast(Table, ItemValue.__table__)
_record_table = cast(Table, FormRecord.__table__)
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
_ITEM_DELETE = delete(_item_table).where(
    _item_table.c.record_id == bindparam("of_record"),
    _item_table.c.path == bindparam("item_path"),
)
_ITEM_INSERT = insert(_item_table).values(
    record_id=bindparam("of_record"),
    path=bindparam("item_path"),
    value=bindparam("value"),
    updated_at=bindparam("at"),
    updated_by_id=bindparam("by"),
)
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
        next_row=bindparam("next_row"),
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
    """One item that a save changes; an item of a removed row is deleted."""

    path: str
    old: Stored
    new: Stored
    removed: bool = False
    calculated: bool = False  # the form computes it: nobody is asked why it changed

    @property
    def needs_reason(self) -> bool:
        """On a complete record, what a person changed needs a reason; what the form derives
        from it never does (nor deleting an item that held nothing)."""
        return not self.calculated and (self.old is not None or self.new is not None)


def changes_of(
    entry: Entry, new: Mapping[str, Stored], rows: Mapping[str, Collection[int]]
) -> list[Change]:
    """What storing `new` changes in the record: the items of rows no longer in the request
    (`rows`: the row ids posted per repeating section) are removed, and only those."""
    old, fields = entry.stored, entry.form.fields
    found = []
    for path in sorted(old.keys() | new.keys()):
        before, after = old.get(path), new.get(path)
        row = row_of(path)
        removed = path in old and row is not None and row[1] not in rows.get(row[0], ())
        if not removed and same_stored(before, after):
            continue
        f = fields.get(field_of(path))
        calculated = f is not None and f.type is forms_dsl.FieldType.CALC
        found.append(Change(path, before, None if removed else after, removed, calculated))
    return found


def reason_for(change: Change, reasons: Mapping[str, str]) -> str:
    """The reason given for a change: its own, else the one given for every change (`*`)."""
    if not change.needs_reason:
        return ""
    return (reasons.get(change.path, "").strip() or reasons.get("*", "").strip())[:500]


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


#: The one vault value forms may read (study.yaml `context:`), e.g. for the age at diagnosis.
BIRTH = "date_of_birth"


def date_of_birth(
    ctx: Context, entry: Entry, sections: Collection[str] | None = None
) -> dt.date | None:
    """The birth date for the form's calculations and checks, read from the vault (audited).

    Identities are opened only when needed: not for a form whose expressions never read the
    date, nor for a live redraw of `sections` that nothing reading it can change.
    """
    form = entry.form
    if BIRTH not in context_read(form):
        return None
    if sections is not None and not needed_to_show(form, BIRTH, sections):
        return None
    identity = subjects.read_identity(ctx, entry.subject, "calculation")
    return identity.date_of_birth if identity is not None else None


def evaluate(
    entry: Entry,
    posted: Mapping[str, str | Sequence[str]],
    *,
    birth: dt.date | None,
    lang: str,
    now: datetime,
    rows: Mapping[str, Collection[int]] | None = None,
) -> forms_dsl.Evaluation:
    """The form's evaluation; today() and now() are the subject's site's clock at `now` (UTC):
    a date typed just after midnight in Paris is not "in the future" for a server on UTC.
    `rows` are the row ids of each repeating section the request holds."""
    return forms_dsl.evaluate(
        entry.form,
        posted,
        context={BIRTH: birth},
        lang=lang,
        now=entry.subject.site.local_time(now),
        ignore=("csrf_token", "row_version", "action"),
        rows=rows,
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
        ids = result.row_ids.get(f.repeat, [])
        for row_id, row in zip(ids, result.rows.get(f.repeat, []), strict=True):
            path = ItemAddress(f.id, f.repeat, row_id).key
            if path in stored:
                row[f.id] = to_typed(f, stored[path])
    return result


@dataclass(frozen=True)
class SaveRequest:
    """What a save was asked: the answers, the version they were entered on, whether to
    complete, reasons for change (by item key, `*` for every change without its own) and the
    confirmed warnings. `rows`: the row ids of each repeating section the request holds (by
    default, those of the posted answers)."""

    posted: Mapping[str, str | Sequence[str]]
    expected_version: int
    complete: bool = False
    reasons: Mapping[str, str] = field(default_factory=dict)
    confirmed: Mapping[str, str] = field(default_factory=dict)
    rows: Mapping[str, Collection[int]] | None = None


def save(ctx: Context, entry: Entry, asked: SaveRequest) -> SaveResult:
    """Store what the server computes from the posted answers, or say why not (nothing stored
    then). A refusal carries the evaluation it was judged on, for the page to show.

    Stored rows missing from `asked.rows` were removed (their items are deleted), and no other
    row is touched.
    """
    session, subject = ctx.session, entry.subject
    rows = asked.rows
    if rows is None:
        rows = repeat_rows.posted_rows(entry.form, asked.posted, {})
    grants = ctx.grants  # read once: access, vault and role use them
    if not access.holds(grants, Permission.DATA_ENTER, subject.site_id):
        raise Denied()
    if refusal := consent_scope.entry_refusal(ctx, subject, entry.study, entry.form.id):
        raise Conflict(refusal)
    posted = asked.posted
    if identifiers.field_ids(entry.form) and not identifiers.may_see(
        ctx, subject
    ):  # answers they cannot see are not theirs to change: the stored ones stay
        posted = identifiers.kept_as_stored(entry.form, posted, entry.stored)
    # `entry` was read in this transaction; the version bump below is what settles a race.
    record, form_id = entry.record, entry.form_version.form_id
    status = record.status if record is not None else None
    gate = save_gate.for_save(ctx, entry)  # holds the subject: review steps take turns with us
    if lifecycle.is_read_only(status, locked=gate.locked):
        return SaveResult(Outcome.READ_ONLY)
    entry.under_review = gate.under_review
    step = lifecycle.transition(status, lifecycle.after_save(status, complete=asked.complete))
    if not access.holds(grants, step.permission, subject.site_id):
        raise Denied()
    if entry.row_version != asked.expected_version:
        return _conflict(ctx, record)
    with audit.batch(session):  # the vault read and every event of the save: one chain append
        result = _save_evaluated(ctx, entry, replace(asked, posted=posted, rows=rows), grants)
    if result.outcome is Outcome.CONFLICT:  # another save won the race since we read
        current = open_entry(ctx, subject, entry.event_id, entry.number, form_id)
        return _conflict(ctx, current.record if current is not None else None)
    return result


def _conflict(ctx: Context, record: FormRecord | None) -> SaveResult:
    """Nothing stored: what is stored now and who stored it, to compare with the posted data."""
    return SaveResult(
        Outcome.CONFLICT,
        stored=stored_items(ctx, record),
        last_changed_by=_last_author(ctx.session, record),
    )


def _judge(entry: Entry, asked: SaveRequest, result: forms_dsl.Evaluation) -> SaveResult:
    """What the evaluation allows: a refusal (with what it found), or SAVED with the changes
    to write."""
    record = entry.record
    was_complete = lifecycle.needs_reasons(record.status if record is not None else None)
    completing = asked.complete or was_complete
    blocking = [i for i in result.errors if completing or i.kind in FORMAT_KINDS]
    confirmed = asked.confirmed
    unconfirmed = [w for w in result.warnings if completing and warning_key(w) not in confirmed]
    if blocking or unconfirmed:
        return SaveResult(Outcome.INVALID, result, unconfirmed=unconfirmed)
    assert asked.rows is not None
    changes = changes_of(entry, flatten(result, entry.subject.site.zone), asked.rows)
    if was_complete and any(c.needs_reason and not reason_for(c, asked.reasons) for c in changes):
        return SaveResult(Outcome.NEEDS_REASONS, result, changes=changes)
    return SaveResult(Outcome.SAVED, result, changes=changes)


def _save_evaluated(
    ctx: Context, entry: Entry, asked: SaveRequest, grants: list[access.Grant]
) -> SaveResult:
    """Evaluate, judge and write; a bare CONFLICT when the version bump finds a newer save."""
    session, actor, subject = ctx.session, ctx.actor, entry.subject
    birth = date_of_birth(ctx, entry)
    now = ctx.now()
    result = evaluate(entry, asked.posted, birth=birth, lang=ctx.language, now=now, rows=asked.rows)
    judged = _judge(entry, asked, result)
    if judged.outcome is Outcome.NEEDS_REASONS:  # kept for the author's to-do list
        assert entry.record is not None
        missing = [
            c.path for c in judged.changes if c.needs_reason and not reason_for(c, asked.reasons)
        ]
        refused_saves.record(ctx, entry.record.id, subject.site.code, missing)
    if judged.outcome is not Outcome.SAVED:
        return judged
    changes, old = judged.changes, entry.stored
    completing = asked.complete or lifecycle.needs_reasons(
        entry.record.status if entry.record is not None else None
    )
    written = _Written(
        changes,
        asked.reasons,
        [(w, asked.confirmed.get(warning_key(w), "")) for w in result.warnings if completing],
        asked.complete,
        entry_role(grants, subject),
        now,
    )
    try:
        if entry.record is None:  # creating rows another save may create too: isolate them
            audit.write_batch(session)  # the vault read must not go with a savepoint rollback
            with session.begin_nested():
                record = _write(session, actor, entry, written)
        else:  # the version bump is the first write: a stale save writes nothing
            record = _write(session, actor, entry, written)
    except (_StaleError, IntegrityError):
        return SaveResult(Outcome.CONFLICT)
    review_effects.after_save(
        ctx, entry, record, [(c.path, c.old, c.new, reason_for(c, asked.reasons)) for c in changes],
        written.confirmations,
    )  # fmt: skip
    gone = {c.path for c in changes if c.removed}
    entry.stored = {
        p: v for p, v in {**old, **{c.path: c.new for c in changes}}.items() if p not in gone
    }
    if entry.form.decision_tables and changes:  # a risk group or response may have changed
        notices.decisions_changed(ctx, subject, entry.form, old, entry.stored, now)
    if asked.complete and _confirms_eligibility(entry):  # consent may already be in force
        consent_scope.enrol_if_ready(ctx, subject)
    return judged


def _confirms_eligibility(entry: Entry) -> bool:
    eligibility = entry.study.consent.eligibility if entry.study is not None else None
    return eligibility is not None and eligibility[0] == entry.form.id


def may_enter(ctx: Context, subject: Subject) -> bool:
    """Whether the actor enters data at the subject's site (others read the forms only)."""
    return ctx.holds(Permission.DATA_ENTER, subject.site_id)


def entry_role(grants: Sequence[access.Grant], subject: Subject) -> str:
    """The role the actor enters data with at the subject's site (for the audit trail)."""
    roles = sorted(
        g.role.value for g in grants if access.holds([g], Permission.DATA_ENTER, subject.site_id)
    )
    return roles[0] if roles else ""  # the same role whatever order the grants come in


@dataclass(frozen=True)
class _Written:
    """What a judged save writes, and as whom."""

    changes: list[Change]
    reasons: Mapping[str, str]
    confirmations: Sequence[tuple[forms_dsl.Issue, str]]
    complete: bool
    role: str
    now: datetime


def _write(session: Session, actor: Actor, entry: Entry, written: _Written) -> FormRecord:
    """The record (created, or its version bumped), its audit events, then its items."""
    _open_occurrence(session, actor, entry, written.role, written.now)
    old_status = entry.record.status if entry.record is not None else None
    record = _bump(session, actor, entry, written)
    events = _save_events(entry, record, written, old_status)
    audit.record_many(session, actor, events)  # one chain lock for the whole save
    _write_items(session, actor, entry, record, written)
    session.flush()
    return record


def _bump(session: Session, actor: Actor, entry: Entry, written: _Written) -> FormRecord:
    """The first save's new record, or the record at its next version with the status the
    lifecycle gives; `_StaleError` when another save bumped it since it was read."""
    record, changes, now = entry.record, written.changes, written.now
    status = lifecycle.after_save(
        record.status if record is not None else None, complete=written.complete
    ).value
    next_row = max(
        [record.next_row if record is not None else 0]
        + [row[1] + 1 for c in changes if not c.removed and (row := row_of(c.path))]
    )
    if record is None:
        return _new_record(session, actor, entry, status, next_row, written.role, now)
    # Optimistic lock, atomically: only the save that read the current version may write.
    values = {
        "row_version": record.row_version + 1,
        "status": status,
        "next_row": next_row,
        "updated_at": now,
        "updated_by_id": actor.user_id,
    }
    bumped = (
        session.connection()
        .execute(_BUMP, {**values, "record_id": record.id, "read": record.row_version})
        .rowcount
    )
    if bumped != 1:
        raise _StaleError
    for key, value in values.items():  # the row as stored, without reading it back
        set_committed_value(record, key, value)
    return record


def _write_items(
    session: Session, actor: Actor, entry: Entry, record: FormRecord, written: _Written
) -> None:
    """The version bump said this save may write. First answers are inserted now; changed and
    removed ones go with their audit events, after the chain's lock (one round trip on
    PostgreSQL)."""
    changes, now = written.changes, written.now
    created = [_item_row(record, c, actor, now) for c in changes if c.path not in entry.stored]
    changed = [_item_row(record, c, actor, now) for c in changes if _updates(c, entry)]
    removed = [_item_row(record, c, actor, now) for c in changes if c.removed]
    conn = session.connection()
    if created:
        conn.execute(_ITEM_INSERT, created)

    def along() -> None:
        if changed:
            conn.execute(_ITEM_UPDATE, changed)
        if removed:
            conn.execute(_ITEM_DELETE, removed)

    audit.write_batch(session, along=along if changed or removed else None)


def _open_occurrence(
    session: Session, actor: Actor, entry: Entry, role: str, now: datetime
) -> None:
    """The visit a first save opens (audited), or the check that it is still there."""
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
    elif entry.record is None and not _still_there(session, entry.occurrence):
        raise _StaleError  # the visit was removed since the page read it


def _new_record(
    session: Session,
    actor: Actor,
    entry: Entry,
    status: str,
    next_row: int,
    role: str,
    now: datetime,
) -> FormRecord:
    """The record of a form's first save (audited), in the entry's visit."""
    subject, site = entry.subject, entry.subject.site.code
    assert entry.occurrence is not None
    record = FormRecord(
        subject_id=subject.id,
        occurrence_id=entry.occurrence.id,
        form_id=entry.form_version.form_id,
        form_version_id=entry.form_version.id,
        status=status,
        row_version=1,
        next_row=next_row,
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
    return record


def _still_there(session: Session, occurrence: EventOccurrence) -> bool:
    """Whether a visit is still there to hold a first record, waiting for a removal under way
    (which locks it) to end: a removed visit never gets data."""
    query = (
        select(EventOccurrence.id)
        .where(EventOccurrence.id == occurrence.id, EventOccurrence.removed_at.is_(None))
        .with_for_update(read=True)
    )
    return session.scalar(query) is not None


def _save_events(
    entry: Entry, record: FormRecord, written: _Written, old_status: str | None
) -> list[dict[str, Any]]:
    """A save's audit events: one per changed item, the record's, and each confirmed warning."""
    changes, reasons, role = written.changes, written.reasons, written.role
    site = entry.subject.site.code
    events = []
    for change in changes:
        if change.removed:
            action = "item.deleted"
        else:
            action = "item.changed" if change.path in entry.stored else "item.created"
        events.append(
            {
                "action": action,
                "entity_type": "form_record",
                "entity_id": record.id,
                "item_path": entry.audit_path(change.path),
                "old": change.old,
                "new": change.new,
                "reason": reason_for(change, reasons),
                "role": role,
                "site_code": site,
            }
        )
    events.append(
        {
            "action": lifecycle.transition(old_status, lifecycle.status_of(record.status)).action,
            "target": record,
            "role": role,
            "site_code": site,
            "old": {"status": lifecycle.status_of(old_status).value},
            "new": {
                "status": record.status,
                "row_version": record.row_version,
                "changes": len(changes),
            },
        }
    )
    for issue, reason in written.confirmations:  # warnings confirmed on completion (with a reason)
        events.append(
            {
                "action": "check.confirmed",
                "target": record,
                "item_path": entry.audit_path(issue.field),
                "new": {"check": issue.kind, "row": issue.row, "message": issue.message},
                "reason": reason,
                "role": role,
                "site_code": site,
            }
        )
    return events


def _updates(change: Change, entry: Entry) -> bool:
    return change.path in entry.stored and not change.removed


def _item_row(record: FormRecord, change: Change, actor: Actor, now: datetime) -> dict[str, Any]:
    """One item's parameters for `_ITEM_INSERT` or `_ITEM_UPDATE` (Core: no ORM objects)."""
    return {
        "of_record": record.id,
        "item_path": change.path,
        "value": change.new,
        "at": now,
        "by": actor.user_id,
    }


#: The audit actions that write an item's value: its history.
ITEM_ACTIONS = ("item.created", "item.changed", "item.deleted", "item.derived")


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


@dataclass(frozen=True)
class ItemHistory:
    events: list[AuditEvent]
    #: An identifier item the reader may not see: its values are shown as a mask.
    masked: bool
    #: The events that caused a derived change, by seq (a birth-date correction, …).
    causes: dict[int, AuditEvent]


def item_history(ctx: Context, entry: Entry, key: str) -> ItemHistory:
    """Every change of one item, oldest first: old and new value, reason, author, time, version.
    NotFound when the record or the item has none (a key no form has is `Invalid`). An
    identifier item follows the vault's rules: masked for others, an audited read for staff."""
    events = _item_events(ctx, entry, ItemAddress.parse(key))
    masked = False
    if identifiers.is_identifier(entry.form, key):
        masked = not identifiers.may_see(ctx, entry.subject)
        if not masked:
            identifiers.record_read(ctx, entry.subject, "item history", entry.form.id, [key])
    return ItemHistory(events, masked, _causes(ctx, events))


def _causes(ctx: Context, events: list[AuditEvent]) -> dict[int, AuditEvent]:
    seqs = {seq for e in events if (seq := cause_of(e)) is not None}
    if not seqs:
        return {}
    found = ctx.session.scalars(select(AuditEvent).where(AuditEvent.seq.in_(seqs)))
    return {e.seq: e for e in found}


def _item_events(ctx: Context, entry: Entry, address: ItemAddress) -> list[AuditEvent]:
    ctx.require(Permission.SUBJECT_VIEW, entry.subject.site_id)
    if entry.record is None:
        raise NotFound()
    events = list(
        ctx.session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.entity_type == "form_record",
                AuditEvent.entity_id == str(entry.record.id),
                AuditEvent.item_path.endswith(record_suffix(address)),
                AuditEvent.action.in_(ITEM_ACTIONS),
            )
            .order_by(AuditEvent.seq)
        )
    )
    if not events:
        raise NotFound()
    return events
