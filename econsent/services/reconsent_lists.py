"""What site staff read of re-consent: the to-do list's category (registered with
`edc.services.todo.register_source`), the page of open tasks, and the children reaching the age
of majority soon. Each opens the tasks still missing first (`reconsent`), so what they show is
what the library and the vault say today."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import joinedload

from econsent.library import library_for
from econsent.models import ReconsentTask
from econsent.services import reconsent
from econsent.services.reconsent import ACTIVE, MAJORITY, NEW_VERSION, NOTICE_DAYS
from edc import access
from edc.access import Permission
from edc.context import Context
from edc.errors import Invalid
from edc.i18n import _, _l
from edc.models.consent import ConsentScope
from edc.models.studies import Site
from edc.models.subjects import Subject, SubjectIdentity
from edc.services import consent_scope, subjects
from edc.services.todo_items import CAP, Category, Scope, Task

REASON_LABELS = {
    NEW_VERSION: _l("New version of the consent"),
    MAJORITY: _l("Age of majority: consent as an adult"),
}
#: The majority page looks this many days ahead unless asked otherwise, and never further.
DEFAULT_DAYS, MAX_DAYS = 90, 366
DAYS_RE = re.compile(r"[0-9]{1,4}")  # ASCII digits only ("²" is a digit to Python)
#: Open tasks listed on the re-consent page (the rest are counted).
PAGE_ROWS = 200
#: The to-do list's entries for this category (macros `heading` and `entry`).
TODO_TEMPLATE = "econsent/reconsent/_todo.html"


@dataclass(frozen=True)
class TaskRow:
    site_code: str
    study_code: str
    reason: str
    document_title: str
    version: int
    grace_until: dt.date | None
    days: int  # days left until the grace date (negative: past it)


@dataclass(frozen=True)
class Coming:
    """A child of the reader's sites reaching the age of majority."""

    site_code: str
    study_code: str
    majority_on: dt.date
    age_of_majority: int
    last_day: dt.date | None  # the last day the parents' consent counts
    days: int  # days until majority (negative: already an adult)


def _title(site: Site, document: str, language: str) -> str:
    library = library_for(site.study.slug)
    found = library.documents.get(document) if library else None
    return found.title.get(language) or document if found else document


def _consent_sites(ctx: Context, within: frozenset[int] | None = None) -> list[Site]:
    ids = access.site_ids_for(ctx.grants, Permission.CONSENT_RUN)
    ids = ids & within if within is not None else ids
    if not ids:
        return []
    return list(
        ctx.session.scalars(select(Site).where(Site.id.in_(sorted(ids))).order_by(Site.code))
    )


def _open_tasks(sites: list[Site], horizon: dt.date) -> Select[tuple[ReconsentTask, str]]:
    """Open tasks of active subjects at the sites: every new version, and majority tasks whose
    grace date is within reach of `horizon`."""
    return (
        select(ReconsentTask, Subject.study_code)
        .join(Subject, Subject.id == ReconsentTask.subject_id)
        .where(
            ReconsentTask.site_id.in_(sorted(s.id for s in sites)),
            ReconsentTask.closed_at.is_(None),
            Subject.status.in_(ACTIVE),
            or_(ReconsentTask.reason == NEW_VERSION, ReconsentTask.grace_until <= horizon),
        )
    )


def todo_source(ctx: Context, scope: Scope) -> dict[int, Category]:
    """The to-do list's category: subjects to consent again at the sites where the reader runs
    consents, the nearest grace date first; `CAP` per site, all counted (one query, after
    opening the missing tasks)."""
    sites = _consent_sites(ctx, frozenset(scope.sites))
    if not sites:
        return {}
    reconsent.sync_sites(ctx, sites)
    horizon = max(scope.today[s.id] for s in sites) + dt.timedelta(days=NOTICE_DAYS)
    rank = func.row_number().over(
        partition_by=ReconsentTask.site_id, order_by=(ReconsentTask.grace_until, ReconsentTask.id)
    )
    inner = (
        _open_tasks(sites, horizon)
        .add_columns(
            rank.label("rank"), func.count().over(partition_by=ReconsentTask.site_id).label("n")
        )
        .subquery()
    )
    rows = ctx.session.execute(
        select(inner).where(inner.c.rank <= CAP).order_by(inner.c.site_id, inner.c.rank)
    ).all()
    out: dict[int, Category] = {}
    for row in rows:
        site, today = scope.sites[row.site_id], scope.today[row.site_id]
        days = (row.grace_until - today).days if row.grace_until else 0
        task = Task(
            "reconsent", row.study_code, "", str(REASON_LABELS.get(row.reason, row.reason)),
            row.version, "", _title(site, row.document, scope.lang), due=row.grace_until,
            days=abs(days), overdue=days < 0, item_label=row.reason,
        )  # fmt: skip
        out.setdefault(row.site_id, Category(total=row.n)).tasks.append(task)
    return out


def task_rows(ctx: Context) -> tuple[list[TaskRow], int]:
    """The open re-consent tasks at the reader's sites (`PAGE_ROWS` at most, nearest grace date
    first) and how many there are; the missing ones are opened first."""
    sites = _consent_sites(ctx)
    if not sites:
        return [], 0
    reconsent.sync_sites(ctx, sites)
    today = {s.id: subjects.site_today(s, ctx.now()) for s in sites}
    horizon = max(today.values()) + dt.timedelta(days=NOTICE_DAYS)
    query = _open_tasks(sites, horizon)
    total = ctx.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    by_id = {s.id: s for s in sites}
    rows = []
    for task, code in ctx.session.execute(
        query.order_by(ReconsentTask.grace_until, ReconsentTask.id).limit(PAGE_ROWS)
    ):
        site = by_id[task.site_id]
        days = (task.grace_until - today[site.id]).days if task.grace_until else 0
        title = _title(site, task.document, ctx.language)
        rows.append(
            TaskRow(site.code, code, task.reason, title, task.version, task.grace_until, days)
        )
    return rows, total


def for_subject(ctx: Context, subject: Subject) -> list[TaskRow]:
    """The subject's open re-consent tasks, for the consent part of their page (any reader of
    the subject: a task says what is asked and until when, nothing of the signers)."""
    ctx.require(Permission.SUBJECT_VIEW, subject.site_id)
    today = subjects.site_today(subject.site, ctx.now())
    rows = []
    for task in ctx.session.scalars(
        select(ReconsentTask)
        .where(ReconsentTask.subject_id == subject.id, ReconsentTask.closed_at.is_(None))
        .order_by(ReconsentTask.grace_until, ReconsentTask.id)
    ):
        days = (task.grace_until - today).days if task.grace_until else 0
        title = _title(subject.site, task.document, ctx.language)
        rows.append(
            TaskRow(
                subject.site.code, subject.study_code, task.reason, title, task.version,
                task.grace_until, days,
            )
        )  # fmt: skip
    return rows


def parse_days(text: str | None) -> int:
    """The majority page's horizon as the reader typed it: a whole number of days, 1 to
    `MAX_DAYS` (none given: `DEFAULT_DAYS`)."""
    if text is None or text.strip() == "":
        return DEFAULT_DAYS
    text = text.strip()
    if not DAYS_RE.fullmatch(text) or not 1 <= int(text) <= MAX_DAYS:
        raise Invalid(_("Give a number of days from 1 to %(max)s.", max=MAX_DAYS))
    return int(text)


def reaching_majority(ctx: Context, days: int) -> list[Coming]:
    """Children of the reader's sites (site staff who run consents and read identities) whose
    consent was given by their parents and who reach the age of majority of their site's rule
    within `days` days, or already have: birth dates read from the vault, each read audited.
    Those without a majority task get one (their consent then counts until majority + grace)."""
    if not 1 <= days <= MAX_DAYS:
        raise Invalid(_("Give a number of days from 1 to %(max)s.", max=MAX_DAYS))
    sites = [s for s in _consent_sites(ctx) if ctx.holds(Permission.IDENTITY_VIEW, s.id)]
    found: list[Coming] = []
    for subject, scope in _minors(ctx, sites):
        coming = _coming(ctx, subject, scope, days)
        if coming is not None:
            found.append(coming)
    return sorted(found, key=lambda c: (c.majority_on, c.study_code))


def _minors(ctx: Context, sites: list[Site]) -> list[tuple[Subject, ConsentScope]]:
    """Active subjects whose consent in force is a parents' document (one query, and one to
    load their vault rows, which the reads below then find in the session)."""
    if not sites:
        return []
    rows = ctx.session.execute(
        select(Subject, ConsentScope)
        .join(ConsentScope, ConsentScope.subject_id == Subject.id)
        .options(joinedload(Subject.site).joinedload(Site.study))
        .where(
            Subject.site_id.in_([s.id for s in sites]),
            Subject.status.in_(ACTIVE),
            ConsentScope.ended_at.is_(None),
        )
        .order_by(Subject.id)
    ).all()
    minors = []
    for subject, scope in rows:
        library = library_for(subject.study.slug)
        document = library.documents.get(scope.document) if library else None
        if document is not None and document.audience == "parent":
            minors.append((subject, scope))
    ids = [subject.id for subject, _scope in minors]
    if ids:
        ctx.session.scalars(
            select(SubjectIdentity).where(SubjectIdentity.subject_id.in_(ids))
        ).all()
    return minors


def _coming(ctx: Context, subject: Subject, scope: ConsentScope, days: int) -> Coming | None:
    site = subject.site
    library = library_for(subject.study.slug)
    today = subjects.site_today(site, ctx.now())
    rule = library.rules.rule_for(site.country, site.code, today) if library else None
    identity = subjects.read_identity(ctx, subject, purpose="majority")
    if rule is None or identity is None or identity.date_of_birth is None:
        return None
    birth = identity.date_of_birth
    majority = rule.majority_on(birth)
    if (majority - today).days > days:
        return None
    reconsent.open_majority(ctx, subject, rule, rule.minor_consent_until(birth))
    current = consent_scope.current(ctx, subject)
    last_day = current.valid_until if current is not None else scope.valid_until
    return Coming(
        site.code, subject.study_code, majority, rule.age_of_majority, last_day,
        (majority - today).days,
    )  # fmt: skip
