"""Locks: a data manager makes a form record, a visit, a subject, a site or the whole study
read-only for everyone (the database lock before analysis); lifting one needs a reason.

A lock and a save cannot cross: placing a lock takes the covered subjects' rows for update, and
a save holds its subject's row shared while it checks for a lock and writes (PostgreSQL), so a
save either finishes before the lock or sees it. SQLite runs one writer at a time anyway.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, or_, select

from edc import access, audit
from edc.access import Permission
from edc.context import Context
from edc.errors import Conflict, Denied, Invalid, NotFound
from edc.i18n import _, _l
from edc.models.crf import EventOccurrence
from edc.models.monitoring import DataLock
from edc.models.studies import Site, Study
from edc.models.subjects import Subject
from edc.registry import outbox
from edc.services import review_state
from edc.services.review_state import Cell

#: The longest reason kept (a paragraph; the form field says so too).
MAX_REASON = 2000


class Level(enum.StrEnum):
    FORM = "form"
    EVENT = "event"
    SUBJECT = "subject"
    SITE = "site"
    STUDY = "study"


LEVEL_LABELS = {
    Level.FORM: _l("Form"),
    Level.EVENT: _l("Visit"),
    Level.SUBJECT: _l("Subject"),
    Level.SITE: _l("Site"),
    Level.STUDY: _l("Whole study"),
}


@dataclass(frozen=True)
class Target:
    """What a lock covers: a study, and within it a site, a subject, a visit or one form."""

    level: Level
    study: Study
    site: Site | None = None
    subject: Subject | None = None
    occurrence: EventOccurrence | None = None
    form_id: str | None = None


def _require(ctx: Context, target: Target) -> None:
    """Locks are a study-wide data manager's: a site's staff never lock, and a data manager of
    another study gets a 404."""
    if not access.holds_study(ctx.grants, Permission.DATA_LOCK, target.study.id):
        raise Denied()


def covers(subject: Subject, occurrence_id: int | None, form_id: str) -> ColumnElement[bool]:
    """SQL: a live lock covers this form of this visit of the subject (the study, its site,
    the subject, the visit or the form)."""
    where = [
        DataLock.level == Level.STUDY.value,
        and_(DataLock.level == Level.SITE.value, DataLock.site_id == subject.site_id),
        and_(DataLock.level == Level.SUBJECT.value, DataLock.subject_id == subject.id),
    ]
    if occurrence_id is not None:
        where += [
            and_(DataLock.level == Level.EVENT.value, DataLock.occurrence_id == occurrence_id),
            and_(
                DataLock.level == Level.FORM.value,
                DataLock.occurrence_id == occurrence_id,
                DataLock.form_id == form_id,
            ),
        ]
    return exists().where(
        DataLock.study_id == subject.study_id, DataLock.lifted_at.is_(None), or_(*where)
    )


def hold_subjects(ctx: Context, subject_ids: Collection[int], *, exclusive: bool) -> None:
    """Take the subjects' rows: shared by a save, exclusive by a review step (lock, verify,
    sign, raise a query). They take turns per subject, and each reads what the other committed
    in its next statement (PostgreSQL; SQLite has one writer at a time anyway)."""
    if not subject_ids:
        return
    query = select(Subject.id).where(Subject.id.in_(sorted(subject_ids)))
    ctx.session.execute(query.with_for_update(read=not exclusive)).all()


def is_locked(ctx: Context, subject: Subject, occurrence_id: int | None, form_id: str) -> bool:
    """Whether a live lock covers this form of this visit, asked after taking the subject's
    row shared (a lock being placed waits for the caller, or the caller for it)."""
    hold_subjects(ctx, [subject.id], exclusive=False)
    return bool(ctx.session.scalar(select(covers(subject, occurrence_id, form_id))))


def locked_forms(
    ctx: Context, subject: Subject, forms: Sequence[tuple[int | None, str]]
) -> set[tuple[int | None, str]]:
    """Which of the subject's forms (occurrence id, form id) a live lock covers: `is_locked`
    for many forms in one read, after taking the subject's row shared as it does."""
    if not forms:
        return set()
    hold_subjects(ctx, [subject.id], exclusive=False)
    query = review_state.live_locks_query(subject.study_id, [subject.site_id], [subject.id])
    found = review_state.ReviewState(locks=review_state.widest_first(ctx.session.scalars(query)))
    return {
        (occurrence_id, form_id)
        for occurrence_id, form_id in forms
        if found.lock_of(Cell(subject.site_id, subject.id, occurrence_id, form_id)) is not None
    }


def covering(
    ctx: Context, subject: Subject, occurrence_id: int | None, form_id: str
) -> DataLock | None:
    """The live lock covering this form (the widest), for the page to say who locked it."""
    query = review_state.live_locks_query(subject.study_id, [subject.site_id], [subject.id])
    found = review_state.ReviewState(locks=review_state.widest_first(ctx.session.scalars(query)))
    return found.lock_of(Cell(subject.site_id, subject.id, occurrence_id, form_id))


def place(ctx: Context, target: Target, reason: str = "") -> DataLock:
    """Lock `target`; refused (`Conflict`) when the same thing is already locked."""
    _require(ctx, target)
    reason = _bounded(reason, required=False)
    _hold_subjects(ctx, target)
    if _live_same(ctx, target) is not None:
        raise Conflict(_("This is locked already."))
    site_code, described = _site_code(target), _described(target)  # read before the add
    lock = DataLock(
        level=target.level.value,
        study_id=target.study.id,
        site_id=_site_id(target),
        subject_id=target.subject.id if target.subject is not None else None,
        occurrence_id=target.occurrence.id if target.occurrence is not None else None,
        form_id=target.form_id,
        reason=reason,
        locked_at=ctx.now(),
        locked_by_id=ctx.actor.user_id,
    )
    ctx.session.add(lock)
    audit.record(
        ctx.session, ctx.actor, "lock.placed", target=lock, site_code=site_code,
        new=described, reason=reason,
    )  # fmt: skip
    ctx.session.flush()
    outbox.queue_lock(ctx, lock)  # in this transaction: a lock and its push stand or fall together
    return lock


def lift(ctx: Context, lock_id: int, reason: str) -> DataLock:
    """Lift a live lock, with the reason (everything it covered may change again)."""
    lock = ctx.session.get(DataLock, lock_id, with_for_update=True)
    if lock is None:
        raise NotFound()
    study = ctx.session.get(Study, lock.study_id)
    assert study is not None
    if not access.holds_study(ctx.grants, Permission.DATA_LOCK, study.id):
        raise Denied()
    if lock.lifted_at is not None:
        raise Conflict(_("This lock was lifted already."))
    reason = _bounded(reason, required=True)
    site = ctx.session.get(Site, lock.site_id) if lock.site_id is not None else None
    lock.lift_reason, lock.lifted_at, lock.lifted_by_id = reason, ctx.now(), ctx.actor.user_id
    audit.record(
        ctx.session, ctx.actor, "lock.lifted", target=lock,
        site_code=site.code if site is not None else "",
        old={"level": lock.level, "locked_at": lock.locked_at}, reason=lock.lift_reason,
    )  # fmt: skip
    ctx.session.flush()
    return lock


def live_locks(ctx: Context, study: Study) -> list[DataLock]:
    """The study's live locks, newest first (the data manager's locks page)."""
    if not access.holds_study(ctx.grants, Permission.DATA_LOCK, study.id):
        raise Denied()
    query = (
        select(DataLock)
        .where(DataLock.study_id == study.id, DataLock.lifted_at.is_(None))
        .order_by(DataLock.locked_at.desc(), DataLock.id.desc())
    )
    return list(ctx.session.scalars(query))


def _bounded(reason: str, *, required: bool) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise Invalid(_("Give the reason for lifting the lock."))
    if len(reason) > MAX_REASON:
        raise Invalid(_("The reason is too long (%(max)d characters at most).", max=MAX_REASON))
    return reason


def _site_id(target: Target) -> int | None:
    if target.site is not None:
        return target.site.id
    return target.subject.site_id if target.subject is not None else None


def _site_code(target: Target) -> str:
    if target.site is not None:
        return target.site.code
    return target.subject.site.code if target.subject is not None else ""


def _described(target: Target) -> dict[str, object]:
    return {
        "level": target.level.value,
        "subject": target.subject.study_code if target.subject is not None else None,
        "event": target.occurrence.event_id if target.occurrence is not None else None,
        "occurrence": target.occurrence.number if target.occurrence is not None else None,
        "form": target.form_id,
    }


def _hold_subjects(ctx: Context, target: Target) -> None:
    """Take the covered subjects' rows for update: saves under way finish first."""
    query = select(Subject.id).where(Subject.study_id == target.study.id)
    if target.subject is not None:
        query = query.where(Subject.id == target.subject.id)
    elif target.site is not None:
        query = query.where(Subject.site_id == target.site.id)
    ctx.session.execute(query.with_for_update()).all()


def _live_same(ctx: Context, target: Target) -> DataLock | None:
    query = select(DataLock).where(
        DataLock.study_id == target.study.id,
        DataLock.level == target.level.value,
        DataLock.lifted_at.is_(None),
        DataLock.site_id.is_(None)
        if _site_id(target) is None
        else DataLock.site_id == _site_id(target),
    )
    if target.subject is not None:
        query = query.where(DataLock.subject_id == target.subject.id)
    if target.occurrence is not None:
        query = query.where(DataLock.occurrence_id == target.occurrence.id)
    if target.form_id is not None:
        query = query.where(DataLock.form_id == target.form_id)
    return ctx.session.scalars(query.limit(1)).first()
