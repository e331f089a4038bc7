"""What a save asks before it writes, with its subject's row held shared: is the form under a
lock, and does any review rest on it (a verification, an open query, a valid signature)?

Review steps (placing a lock, verifying, signing, raising a query) hold the subject's row
exclusively while they write, so a save and a review step take turns; and because the save asks
in a statement *after* taking the row, it sees what the step committed (PostgreSQL's read
committed takes a new snapshot per statement). Asking in the entry's own read would not: it
happens before the save waits.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, or_, select

from edc.context import Context
from edc.models.monitoring import DataQuery, ItemVerification
from edc.services import locks
from edc.services.entries import Entry
from edc.services.signing import signature_over

#: A query's status while it waits for the site (edc.services.queries owns the statuses).
OPEN_QUERY = "open"


@dataclass(frozen=True)
class Gate:
    locked: bool
    under_review: bool


def for_save(ctx: Context, entry: Entry) -> Gate:
    """The gate of `entry`'s save: two statements (take the row, then ask)."""
    subject = entry.subject
    locks.hold_subjects(ctx, [subject.id], exclusive=False)
    occurrence_id = entry.occurrence.id if entry.occurrence is not None else None
    record_id = entry.record.id if entry.record is not None else None
    review = signature_over(record_id, occurrence_id, subject.id)
    if record_id is not None:
        review = or_(
            review,
            exists().where(
                ItemVerification.record_id == record_id, ItemVerification.reset_at.is_(None)
            ),
            exists().where(DataQuery.record_id == record_id, DataQuery.status == OPEN_QUERY),
        )
    locked = locks.covers(subject, occurrence_id, entry.form.id)
    found = ctx.session.execute(select(locked, review)).one()
    return Gate(bool(found[0]), bool(found[1]))
