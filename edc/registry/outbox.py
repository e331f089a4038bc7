"""The registry outbox: what is queued, in the same transaction as the lock or withdrawal that
causes it, and what became of it (DESIGN §3, registry push).

A row is queued only for what may leave: a form the study's `registry:` allow-list names, in a
complete or verified record, of a subject whose consent in force grants registry transfer. The
worker asks consent again when the row's turn comes (`edc.registry.worker`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, func, insert, select, update

from edc import access, audit
from edc.access import Permission
from edc.context import Context
from edc.errors import Denied, Invalid
from edc.i18n import _
from edc.lifecycle import RecordStatus
from edc.models.base import rows_changed
from edc.models.crf import EventOccurrence, FormRecord
from edc.models.monitoring import DataLock
from edc.models.registry import RegistryOutbox
from edc.models.studies import Study
from edc.models.subjects import Subject
from edc.services import consent_scope, definitions

PENDING, SENT, PARKED, WITHHELD, CANCELLED = "pending", "sent", "parked", "withheld", "cancelled"
STATES = (PENDING, SENT, PARKED, WITHHELD, CANCELLED)
RECORD, CONSENT = "record", "consent"
#: Records in these stored states are pushed once locked; a draft is not (it is unfinished).
PUSHED_STATUSES = (RecordStatus.COMPLETE.value, RecordStatus.VERIFIED.value)
REGISTRY_OPTION = "registry_transfer"
#: At most this many rows retried in one request.
MAX_RETRY = 500


def queue_lock(ctx: Context, lock: DataLock) -> int:
    """Queue every record the new lock covers that may go to the registry; how many."""
    study = definitions.study_model(ctx.session, lock.study_id)
    forms = sorted(study.registry.forms) if study is not None else []
    if not forms:
        return 0
    allowed = consent_scope.subjects_allowing(ctx, lock.study_id, REGISTRY_OPTION)
    if not allowed:
        return 0
    query = (
        select(FormRecord.id, FormRecord.subject_id, Subject.site_id)
        .join(Subject, Subject.id == FormRecord.subject_id)
        .join(EventOccurrence, EventOccurrence.id == FormRecord.occurrence_id)
        .where(
            Subject.study_id == lock.study_id,
            Subject.id.in_(sorted(allowed)),
            EventOccurrence.removed_at.is_(None),
            FormRecord.status.in_(PUSHED_STATUSES),
            FormRecord.form_id.in_(forms),
            _covered_by(lock),
            ~exists().where(
                RegistryOutbox.record_id == FormRecord.id, RegistryOutbox.state == PENDING
            ),
        )
    )
    now = ctx.now()
    rows = [
        {"study_id": lock.study_id, "site_id": site_id, "subject_id": subject_id,
         "kind": RECORD, "record_id": record_id, "lock_id": lock.id, "state": PENDING,
         "attempts": 0, "next_attempt_at": now, "created_at": now}
        for record_id, subject_id, site_id in ctx.session.execute(query)
    ]  # fmt: skip
    if rows:
        ctx.session.execute(insert(RegistryOutbox), rows)
    return len(rows)


def _covered_by(lock: DataLock) -> ColumnElement[bool]:
    """SQL: the record is under this lock (its level and what it names)."""
    if lock.level == "site":
        return Subject.site_id == lock.site_id
    if lock.level == "subject":
        return FormRecord.subject_id == lock.subject_id
    if lock.level == "event":
        return FormRecord.occurrence_id == lock.occurrence_id
    if lock.level == "form":
        return and_(
            FormRecord.occurrence_id == lock.occurrence_id, FormRecord.form_id == lock.form_id
        )
    return Subject.study_id == lock.study_id


def queue_consent(ctx: Context, subject: Subject) -> bool:
    """After a withdrawal: the registry must learn of it if it ever heard of the subject (a row
    was queued for them); the worker then sends the Consent as it now stands, and nothing else."""
    known = ctx.session.scalar(select(exists().where(RegistryOutbox.subject_id == subject.id)))
    if not known:
        return False
    now = ctx.now()
    ctx.session.add(
        RegistryOutbox(
            study_id=subject.study_id, site_id=subject.site_id, subject_id=subject.id,
            kind=CONSENT, state=PENDING, attempts=0, next_attempt_at=now, created_at=now,
        )
    )  # fmt: skip
    ctx.session.flush()
    return True


def claim_due(ctx: Context, limit: int) -> list[RegistryOutbox]:
    """Due pending rows, oldest first, locked for this worker (others skip them on PostgreSQL;
    SQLite has one writer at a time). All the rows of the first subjects found are taken."""
    query = (
        select(RegistryOutbox)
        .where(RegistryOutbox.state == PENDING, RegistryOutbox.next_attempt_at <= ctx.now())
        .order_by(RegistryOutbox.next_attempt_at, RegistryOutbox.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(ctx.session.scalars(query))


def mark_sent(ctx: Context, rows: Sequence[RegistryOutbox], sha256: str) -> None:
    now = ctx.now()
    for row in rows:
        row.state, row.sent_at, row.bundle_sha256, row.last_error = SENT, now, sha256, ""
        row.attempts += 1


def mark_closed(rows: Sequence[RegistryOutbox], state: str, why: str) -> None:
    """Withheld (consent no longer allows) or cancelled (unlocked before its turn)."""
    for row in rows:
        row.state, row.last_error = state, why


def mark_failed(ctx: Context, rows: Sequence[RegistryOutbox], error: str) -> bool:
    """One more failed try: wait longer each time (doubling, capped); parked after the last
    allowed try. True when the rows were parked."""
    settings = ctx.config
    parked = False
    for row in rows:
        row.attempts += 1
        row.last_error = error[:2000]
        if row.attempts >= settings.registry_max_attempts:
            row.state, parked = PARKED, True
        else:
            row.next_attempt_at = ctx.now() + backoff(
                row.attempts, settings.registry_retry_first, settings.registry_retry_max
            )
    return parked


def waiting_out_failures(ctx: Context) -> bool:
    """Whether some pending rows failed before and are not due yet (the registry was away)."""
    query = select(RegistryOutbox.id).where(
        RegistryOutbox.state == PENDING,
        RegistryOutbox.attempts > 0,
        RegistryOutbox.next_attempt_at > ctx.now(),
    )
    return ctx.session.scalar(query.limit(1)) is not None


def wake(ctx: Context) -> int:
    """The registry answers again: rows waiting out a failure are due now, instead of at the
    end of a wait that grew while it was away (the backlog drains at once, not hours later)."""
    now = ctx.now()
    result = ctx.session.execute(
        update(RegistryOutbox)
        .where(
            RegistryOutbox.state == PENDING,
            RegistryOutbox.attempts > 0,
            RegistryOutbox.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
    )
    return rows_changed(result)


def backoff(attempts: int, first: timedelta, longest: timedelta) -> timedelta:
    """The wait after the `attempts`-th failure: first, then doubling, never over `longest`."""
    return min(first * (2 ** min(attempts - 1, 30)), longest)


@dataclass(frozen=True)
class Summary:
    counts: dict[str, int]
    #: Rows a data manager should look at: parked first, then pending ones that failed.
    troubled: list[RegistryOutbox]
    oldest_pending: datetime | None


def summary(ctx: Context, study: Study, limit: int = 100) -> Summary:
    """The data manager's view of the study's outbox."""
    _require(ctx, study)
    counts = dict.fromkeys(STATES, 0)
    counts.update(state_counts(ctx, study))
    troubled = list(
        ctx.session.scalars(
            select(RegistryOutbox)
            .where(
                RegistryOutbox.study_id == study.id,
                (RegistryOutbox.state == PARKED)
                | ((RegistryOutbox.state == PENDING) & (RegistryOutbox.attempts > 0)),
            )
            .order_by(RegistryOutbox.state.desc(), RegistryOutbox.id)
            .limit(limit)
        )
    )
    oldest = ctx.session.scalar(
        select(func.min(RegistryOutbox.created_at)).where(
            RegistryOutbox.study_id == study.id, RegistryOutbox.state == PENDING
        )
    )
    return Summary(counts, troubled, oldest)


def state_counts(ctx: Context, study: Study) -> list[tuple[str, int]]:
    """How many rows are in each state (the caller checks access)."""
    query = (
        select(RegistryOutbox.state, func.count())
        .where(RegistryOutbox.study_id == study.id)
        .group_by(RegistryOutbox.state)
    )
    return [(state, count) for state, count in ctx.session.execute(query)]


def retry(ctx: Context, study: Study, ids: Sequence[int]) -> int:
    """Send parked rows again now (a data manager, after the cause is fixed); how many."""
    _require(ctx, study)
    if len(ids) > MAX_RETRY:
        raise Invalid(_("Retry at most %(max)d items at a time.", max=MAX_RETRY))
    rows = list(
        ctx.session.scalars(
            select(RegistryOutbox)
            .where(
                RegistryOutbox.study_id == study.id,
                RegistryOutbox.id.in_(sorted(set(ids))),
                RegistryOutbox.state == PARKED,
            )
            .with_for_update()
        )
    )
    for row in rows:
        row.state, row.attempts, row.next_attempt_at = PENDING, 0, ctx.now()
    if rows:
        audit.record(
            ctx.session, ctx.actor, "registry.retried", entity_type="study",
            entity_id=study.slug, new={"items": [r.id for r in rows]},
        )  # fmt: skip
    ctx.session.flush()
    return len(rows)


def retry_all(ctx: Context, study: Study) -> int:
    """Send every parked row of the study again now, in one statement (the page lists only the
    first ones: after a long outage hundreds may be parked); how many."""
    _require(ctx, study)
    parked = (RegistryOutbox.study_id == study.id) & (RegistryOutbox.state == PARKED)
    count = rows_changed(
        ctx.session.execute(
            update(RegistryOutbox)
            .where(parked)
            .values(state=PENDING, attempts=0, next_attempt_at=ctx.now())
        )
    )
    if count:
        audit.record(
            ctx.session, ctx.actor, "registry.retried", entity_type="study",
            entity_id=study.slug, new={"items": "every parked item", "count": count},
        )  # fmt: skip
    return count


def _require(ctx: Context, study: Study) -> None:
    if not access.holds_study(ctx.grants, Permission.REGISTRY_WATCH, study.id):
        raise Denied()
