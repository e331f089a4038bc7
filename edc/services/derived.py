"""Derived values that never go stale: recompute stored calculations when what they read changes
outside the form (today the birth date in the identity vault).

A stored age, and every calculation and decision built on it, must be true for the data as they
stand. When the vault changes, each of the subject's records whose form reads the birth date is
evaluated again from its stored answers, in the same transaction as the correction, and only the
calculated items that come out different are written. Nobody is asked for a reason: a
calculation is never typed. Each written item is one `item.derived` audit event:

- `old_value`: the value it had; `new_value`: `{"value": <new value>, "cause": <seq>}`, where
  `cause` is the seq of the audit event that made it change (the `identity.corrected` event).
  The cause sits in `new_value` because that is hashed with the event (the chain seals it) and
  every event already has it; `value_of` reads the value back for history pages and exports.
- `reason`: empty, since no one chose the change; the action says it was derived by the system.
- actor, role and site: the person whose correction caused it, with their data-entry role.

The record's `row_version` is bumped, so a page of that record opened before the correction
gets the conflict view on save instead of writing over the new values. Answers typed by people
are never changed here, even when a new value hides them: the next save by a person decides.
Locked and signed records are not changed (they are read-only); their staleness is left to the
unlock that a data manager performs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

import forms_dsl
from edc import access, audit, lifecycle
from edc.actor import Actor
from edc.context import Context
from edc.models.crf import EventOccurrence, FormRecord, ItemValue
from edc.models.subjects import Subject
from edc.services import data_entry, locks, notices, review_effects, subjects
from edc.services.crf_values import (
    Stored,
    as_stored,
    flatten,
    posted_from_stored,
    same_stored,
)
from edc.services.definitions import form_model
from edc.services.derived_events import DERIVED
from edc.services.entries import Entry
from forms_dsl.dependencies import context_read

CAUSE = "identity.corrected"


def _field_id(form: forms_dsl.Form, path: str) -> str:
    """The field an item path stores (`age_months`, or the last part of a repeat row's path,
    whatever names the row: `doses-0-dose_mg`, or a stable row id in its place)."""
    return path if path in form.fields else re.split(r"[-/]", path)[-1]


def _calculated_changes(
    form: forms_dsl.Form, old: Mapping[str, Stored], new: Mapping[str, Stored]
) -> dict[str, tuple[Stored, Stored]]:
    """The calculated items whose value differs: {path: (old, new)}."""
    fields = form.fields
    changes = {}
    for path in sorted(old.keys() | new.keys()):
        field = fields.get(_field_id(form, path))
        if field is None or field.type is not forms_dsl.FieldType.CALC:
            continue
        if not same_stored(old.get(path), new.get(path)):
            changes[path] = (old.get(path), new.get(path))
    return changes


def recompute(
    ctx: Context,
    subject: Subject,
    cause_seq: int,
    now: datetime,
    *,
    birth: dt.date | None = None,
) -> dict[int, dict[str, tuple[Stored, Stored]]]:
    """Recompute the subject's records that read the birth date; {record id: {path: (old,
    new)}} of what was written. `birth` is the new date when the caller holds it (else it is
    read from the vault, audited). Constant queries per subject, plus the writes."""
    session, actor = ctx.session, ctx.actor
    assert actor.user is not None
    readers = _birth_readers(session, subject)
    if not readers:
        return {}
    if birth is None:
        identity = subjects.read_identity(ctx, subject, "calculation")
        birth = identity.date_of_birth if identity is not None else None
    items = _locked_items(session, [record.id for record, _ in readers])
    role = data_entry.entry_role(access.grants(session, actor.user), subject)
    site = subject.site.code
    written: dict[int, dict[str, tuple[Stored, Stored]]] = {}
    for record, occurrence in readers:
        locked = locks.is_locked(ctx, subject, occurrence.id, record.form_id)
        if lifecycle.is_read_only(record.status, locked=locked):  # a lock: nothing changes
            continue
        stored = {path: as_stored(item.value) for path, item in items[record.id].items()}
        entry = Entry(
            subject, occurrence.event_id, occurrence.number, record.form_version, occurrence,
            record, stored,
        )  # fmt: skip
        form = entry.form
        evaluation = data_entry.evaluate(
            entry, posted_from_stored(form, stored), birth=birth, lang="en", now=now
        )
        changes = _calculated_changes(form, stored, flatten(evaluation, subject.site.zone))
        if not changes:
            continue
        _write(session, actor, entry, items[record.id], changes, cause_seq, role, site, now)
        review_effects.after_save(  # a recalculated value is a changed value: verify it again
            ctx, entry, record, [(p, old, new, "") for p, (old, new) in changes.items()], []
        )
        written[record.id] = changes
        new_stored = {**stored, **{path: new for path, (_, new) in changes.items()}}
        notices.decisions_changed(ctx, subject, form, stored, new_stored, now, cause=cause_seq)
    session.flush()
    return written


def _birth_readers(session: Session, subject: Subject) -> list[tuple[FormRecord, EventOccurrence]]:
    """The subject's records, still open, whose form reads the birth date."""
    records = session.execute(
        select(FormRecord, EventOccurrence)
        .join(EventOccurrence, EventOccurrence.id == FormRecord.occurrence_id)
        .where(FormRecord.subject_id == subject.id)
        .options(selectinload(FormRecord.form_version))
        .order_by(FormRecord.id)
    ).all()
    return [
        (record, occurrence)
        for record, occurrence in records
        if data_entry.BIRTH in context_read(form_model(record.form_version))
        and not lifecycle.is_read_only(record.status)
    ]


def _locked_items(session: Session, ids: list[int]) -> dict[int, dict[str, ItemValue]]:
    """The items of records `ids` by record and path, read after locking the records: a save
    that committed meanwhile is seen, and one that comes later finds the bumped version and
    shows its author the conflict view."""
    session.scalars(
        select(FormRecord)
        .where(FormRecord.id.in_(ids))
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    items: dict[int, dict[str, ItemValue]] = {record_id: {} for record_id in ids}
    for item in session.scalars(select(ItemValue).where(ItemValue.record_id.in_(ids))):
        items[item.record_id][item.path] = item
    return items


def _write(
    session: Session,
    actor: Actor,
    entry: Entry,
    items: dict[str, ItemValue],
    changes: Mapping[str, tuple[Stored, Stored]],
    cause_seq: int,
    role: str,
    site: str,
    now: datetime,
) -> None:
    record = entry.record
    assert record is not None
    events: list[dict[str, Any]] = []
    for path, (old, new) in changes.items():
        item = items.get(path)
        if item is None:
            item = ItemValue(record_id=record.id, path=path)
            session.add(item)
            items[path] = item
        item.value = new
        item.updated_at = now
        item.updated_by_id = actor.user_id
        events.append(
            {
                "action": DERIVED,
                "target": item,
                "entity_type": "form_record",
                "entity_id": record.id,
                "item_path": entry.audit_path(path),
                "old": old,
                "new": {"value": new, "cause": cause_seq},
                "role": role,
                "site_code": site,
            }
        )
    old_version = record.row_version
    record.row_version = old_version + 1
    record.updated_at = now
    record.updated_by_id = actor.user_id
    events.append(
        {
            "action": "record.derived",
            "target": record,
            "role": role,
            "site_code": site,
            "old": {"row_version": old_version},
            "new": {
                "row_version": record.row_version,
                "changes": len(changes),
                "cause": cause_seq,
            },
        }
    )
    audit.record_many(session, actor, events)
    session.flush()
