"""What review has said about records, read in a fixed number of queries for any number of
subjects: which locks are live, which signatures hold, how many queries are open per item.

Every page that shows a record's status (the CRF page, the subject page, the record status
dashboard, the casebook PDF) reads it here and asks `edc.lifecycle.shown` for the status to show,
so a lock or a signature looks the same everywhere.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from sqlalchemy import Select, and_, func, or_, select

from edc import lifecycle
from edc.context import Context
from edc.lifecycle import RecordStatus
from edc.models.monitoring import DataLock, DataQuery, ESignature

#: The query statuses that ask something of the site.
OPEN_QUERY_STATUSES = ("open", "answered")


@dataclass(frozen=True)
class Cell:
    """Where a record is (or would be): its subject, site, visit and form."""

    site_id: int
    subject_id: int
    occurrence_id: int | None
    form_id: str


@dataclass
class ReviewState:
    """Live locks, valid signatures and open queries of a set of subjects."""

    locks: list[DataLock] = field(default_factory=list)
    #: Valid signatures: (subject, occurrence or None, record or None) they cover.
    signed: set[tuple[int, int | None, int | None]] = field(default_factory=set)
    #: Open (or answered, not closed) queries per record id, and per (record id, item key).
    open_by_record: dict[int, int] = field(default_factory=dict)
    open_by_item: dict[tuple[int, str], int] = field(default_factory=dict)

    def lock_of(self, cell: Cell) -> DataLock | None:
        """The live lock covering a cell (the widest first: `load` keeps them in that order),
        or None."""
        for lock in self.locks:
            if _covers(lock, cell):
                return lock
        return None

    def is_locked(self, cell: Cell) -> bool:
        return self.lock_of(cell) is not None

    def is_signed(self, cell: Cell, record_id: int | None) -> bool:
        """Whether a valid signature covers the record: its own, its visit's or the casebook."""
        if record_id is None:  # nothing entered, nothing signed
            return False
        s, o = cell.subject_id, cell.occurrence_id
        return not {(s, None, None), (s, o, None), (s, o, record_id)}.isdisjoint(self.signed)

    def shown(self, cell: Cell, status: str | None, record_id: int | None) -> RecordStatus:
        """The status to show for a cell (see `edc.lifecycle.shown`)."""
        return lifecycle.shown(
            status, locked=self.is_locked(cell), signed=self.is_signed(cell, record_id)
        )


#: Lock levels, widest first.
LEVEL_ORDER = ("study", "site", "subject", "event", "form")


def widest_first(found: Iterable[DataLock]) -> list[DataLock]:
    """Locks in the order `ReviewState.lock_of` reads them: the study's, then a site's, …"""
    return sorted(found, key=lambda k: LEVEL_ORDER.index(k.level))


def _covers(lock: DataLock, cell: Cell) -> bool:
    match lock.level:
        case "study":
            return True
        case "site":
            return lock.site_id == cell.site_id
        case "subject":
            return lock.subject_id == cell.subject_id
        case "event":
            return cell.occurrence_id is not None and lock.occurrence_id == cell.occurrence_id
        case "form":
            return lock.occurrence_id == cell.occurrence_id and lock.form_id == cell.form_id
    return False


def live_locks_query(
    study_id: int, site_ids: Collection[int], subject_ids: Collection[int]
) -> Select[tuple[DataLock]]:
    """The live locks that may cover these subjects (at these sites, of this study)."""
    return select(DataLock).where(
        DataLock.study_id == study_id,
        DataLock.lifted_at.is_(None),
        or_(
            DataLock.level == "study",
            and_(DataLock.level == "site", DataLock.site_id.in_(list(site_ids))),
            DataLock.subject_id.in_(list(subject_ids)),
        ),
    )


def load(
    ctx: Context, study_id: int, site_ids: Collection[int], subject_ids: Collection[int]
) -> ReviewState:
    """The review state of these subjects: three queries, whatever their number.

    Callers have already scoped `subject_ids` to what the actor may read."""
    session, state = ctx.session, ReviewState()
    if not subject_ids:
        return state
    ids = list(subject_ids)
    state.locks = widest_first(session.scalars(live_locks_query(study_id, site_ids, ids)))
    signatures = session.execute(
        select(ESignature.subject_id, ESignature.occurrence_id, ESignature.record_id).where(
            ESignature.subject_id.in_(ids), ESignature.invalidated_at.is_(None)
        )
    )
    state.signed = {(s, o, r) for s, o, r in signatures}
    queries = session.execute(
        select(DataQuery.record_id, DataQuery.item_key, func.count())
        .where(DataQuery.subject_id.in_(ids), DataQuery.status.in_(OPEN_QUERY_STATUSES))
        .group_by(DataQuery.record_id, DataQuery.item_key)
    )
    for record_id, key, n in queries:
        state.open_by_record[record_id] = state.open_by_record.get(record_id, 0) + n
        state.open_by_item[(record_id, key)] = n
    return state
