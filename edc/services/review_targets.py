"""What the review pages point at, found within the reader's scope: a query's form, a lock's
target from a posted form, a site for its SDV plan, the locks page of a data manager."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select

from edc import access
from edc.access import Permission
from edc.context import Context
from edc.errors import NotFound
from edc.models.crf import EventOccurrence
from edc.models.monitoring import DataLock, DataQuery
from edc.models.studies import Site, Study
from edc.models.subjects import Subject
from edc.models.users import User
from edc.services import entries, locks, queries, sdv, subjects
from edc.services.entries import Entry
from edc.services.locks import Level, Target

#: The fields of a posted lock.
LOCK_FIELDS = ("level", "study", "site", "subject", "event", "number", "form")


@dataclass(frozen=True)
class Thread:
    query: DataQuery
    entry: Entry
    names: dict[int, str]
    #: The item (or "" for the whole form), the visit and the form as people read them.
    item_label: str = ""
    event_label: str = ""
    form_title: str = ""


def thread(ctx: Context, query: DataQuery) -> Thread:
    """A query with the form it is on (read in the reader's scope) and its authors' names."""
    record = query.record
    occurrence = ctx.session.get(EventOccurrence, record.occurrence_id)
    assert occurrence is not None
    entry = entries.find_entry(
        ctx, query.subject.study_code, occurrence.event_id, occurrence.number, record.form_id
    )
    if entry is None:
        raise NotFound()
    ids = sorted({m.author_id for m in query.messages if m.author_id is not None})
    rows = ctx.session.execute(select(User.id, User.full_name).where(User.id.in_(ids)))
    lang, study = ctx.language, entry.study
    event = next((e for e in study.events if e.id == entry.event_id), None) if study else None
    return Thread(
        query,
        entry,
        {user_id: name for user_id, name in rows},
        queries.item_label(entry.form, query.item_key, lang),
        event.label.get(lang) if event is not None else entry.event_id,
        entry.form.title.get(lang),
    )


def lock_target(ctx: Context, posted: Mapping[str, str]) -> Target:
    """The target a posted lock names, found in the reader's scope (404 otherwise)."""
    try:
        level = Level(posted.get("level", ""))
    except ValueError:
        raise NotFound() from None
    if level is Level.STUDY:
        study = _study(ctx, posted.get("study", ""))
        return Target(level, study)
    if level is Level.SITE:
        site = site_for(ctx, posted.get("site", ""), Permission.DATA_LOCK)
        return Target(level, site.study, site=site)
    subject = subjects.find(ctx, posted.get("subject", ""))
    if subject is None:
        raise NotFound()
    if level is Level.SUBJECT:
        return Target(level, subject.study, subject=subject)
    number = posted.get("number", "")
    if not number.isdigit() or len(number) > 6:
        raise NotFound()
    occurrence = ctx.session.scalar(
        select(EventOccurrence).where(
            EventOccurrence.subject_id == subject.id,
            EventOccurrence.event_id == posted.get("event", ""),
            EventOccurrence.number == int(number),
            EventOccurrence.removed_at.is_(None),
        )
    )
    if occurrence is None:
        raise NotFound()
    if level is Level.EVENT:
        return Target(level, subject.study, subject=subject, occurrence=occurrence)
    entry = entries.find_entry(
        ctx, subject.study_code, occurrence.event_id, occurrence.number, posted.get("form", "")
    )
    if entry is None or entry.record is None:
        raise NotFound()
    return Target(
        level, subject.study, subject=subject, occurrence=occurrence, form_id=entry.form.id
    )


def describe(target: Target) -> str:
    """A lock's target in words, for the message after locking."""
    parts = [str(locks.LEVEL_LABELS[target.level])]
    if target.level is Level.STUDY:
        parts.append(target.study.title)
    elif target.site is not None:
        parts.append(target.site.code)
    if target.subject is not None:
        parts.append(target.subject.study_code)
    if target.occurrence is not None:
        parts.append(f"{target.occurrence.event_id} #{target.occurrence.number}")
    if target.form_id is not None:
        parts.append(target.form_id)
    return " · ".join(parts)


def _study(ctx: Context, study_id: str) -> Study:
    study = (
        ctx.session.get(Study, int(study_id)) if study_id.isdigit() and len(study_id) < 10 else None
    )
    if study is None or not access.holds_study(ctx.grants, Permission.DATA_LOCK, study.id):
        raise NotFound()
    return study


def site_for(ctx: Context, code: str, permission: Permission) -> Site:
    """A site by its code where the actor holds `permission` (404 otherwise)."""
    site = ctx.session.scalar(select(Site).where(Site.code == code[:16]))
    if site is None or not ctx.holds(permission, site.id):
        raise NotFound()
    return site


@dataclass(frozen=True)
class LockPage:
    studies: list[Study]
    live: list[DataLock]
    names: dict[int, str]
    subjects: dict[int, str]


def lock_page(ctx: Context) -> LockPage:
    """The studies the data manager locks, with their live locks (newest first)."""
    ids = {g.study_id for g in ctx.grants if g.study_id is not None}
    studies = [
        s
        for s in ctx.session.scalars(
            select(Study).where(Study.id.in_(sorted(ids))).order_by(Study.slug)
        )
        if access.holds_study(ctx.grants, Permission.DATA_LOCK, s.id)
    ]
    live = [lock for study in studies for lock in locks.live_locks(ctx, study)]
    users = {lock.locked_by_id for lock in live if lock.locked_by_id is not None}
    named = ctx.session.execute(select(User.id, User.full_name).where(User.id.in_(sorted(users))))
    names = {user_id: name for user_id, name in named}
    codes = {lock.subject_id for lock in live if lock.subject_id is not None}
    found = ctx.session.execute(
        select(Subject.id, Subject.study_code).where(Subject.id.in_(sorted(codes)))
    )
    return LockPage(studies, live, names, {subject_id: code for subject_id, code in found})


@dataclass(frozen=True)
class PlanPage:
    site: Site
    plan: sdv.Plan
    sampled: list[str]
    total: int


def plan_page(ctx: Context, site: Site) -> PlanPage:
    """A site's plan in force and, for a sample, which of its subjects are drawn."""
    plan = sdv.plan_of(ctx, site)
    codes = list(
        ctx.session.scalars(
            select(Subject.study_code)
            .where(Subject.site_id == site.id)
            .order_by(Subject.study_code)
        )
    )
    sampled = [
        c
        for c in codes
        if plan.mode is not sdv.Mode.SAMPLE or sdv.in_sample(plan.seed, c, plan.percent)
    ]
    return PlanPage(site, plan, sampled, len(codes))
