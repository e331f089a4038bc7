"""The home page's to-do list: per site the user may see, what waits for someone there.

Categories, most urgent first: saves of the user's refused for a missing reason for change,
visits due or overdue by the study's schedule (forms_dsl.schedule, on the site's own calendar),
and forms in progress. Each category holds at most `CAP` entries per site and says how many more
there are. The whole list costs a fixed handful of queries, however many subjects a site has.

Extension point: a later category (open queries, consents to countersign) is one function
`(ctx, scope) -> {site id: Category}` added to `SOURCES`, plus its entry template in
templates/home/_todo.html. A package `edc` does not import (e-consent) adds its category with
`register_source(key, source, template)` at start-up instead: its template defines the
macros `heading(total)` and `entry(t, site)` for the list to import.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, String, and_, cast, false, func, or_, select

import forms_dsl
from edc import access
from edc.access import Permission
from edc.context import Context
from edc.lifecycle import SIGNABLE, RecordStatus
from edc.models.audit import AuditEvent
from edc.models.crf import EventOccurrence, FormRecord, ItemValue
from edc.models.studies import Site
from edc.models.subjects import Subject
from edc.services import refused_saves, review_todo, signing, subject_status
from edc.services.definitions import study_model
from edc.services.subjects import site_today
from edc.services.todo_items import CAP, Category, Scope, Task, labels
from forms_dsl.model import Event

#: Subjects whose visits are still expected.
FOLLOWED = (subject_status.REGISTERED, subject_status.ENROLLED)


@dataclass(frozen=True)
class SiteTodo:
    site_id: int
    code: str
    name: str
    today: date
    may_enter: bool  # links lead to data entry; else to the subject's page
    categories: dict[str, Category]

    @property
    def total(self) -> int:
        return sum(c.total for c in self.categories.values())


@dataclass(frozen=True)
class TodoList:
    sites: list[SiteTodo]
    #: The templates of registered categories (key → template with `heading` and `entry`).
    templates: dict[str, str] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        """How many entries of each category across the sites (the summary line)."""
        found: dict[str, int] = {key: 0 for key in category_keys()}
        for site in self.sites:
            for key, category in site.categories.items():
                found[key] += category.total
        return found

    @property
    def empty(self) -> bool:
        return not any(self.counts.values())


Source = Callable[[Context, Scope], dict[int, Category]]


def todo(ctx: Context) -> TodoList:
    """The user's to-do list, grouped by the sites where they may read subjects."""
    scope = _scope(ctx)
    keys = category_keys()
    found = {key: source(ctx, scope) for key, source in _sources()}
    sites = [
        SiteTodo(
            site.id,
            site.code,
            site.name,
            scope.today[site.id],
            site.id in scope.enter,
            {key: found[key].get(site.id, Category()) for key in keys},
        )
        for site in sorted(scope.sites.values(), key=lambda s: s.code)
    ]
    return TodoList(sites, {key: template for key, (_source, template) in _REGISTERED.items()})


def _scope(ctx: Context) -> Scope:
    grants = ctx.grants
    ids = access.site_ids_for(grants, Permission.SUBJECT_VIEW)
    sites = (
        {s.id: s for s in ctx.session.scalars(select(Site).where(Site.id.in_(sorted(ids))))}
        if ids
        else {}
    )
    now = ctx.now()
    studies: dict[int, forms_dsl.Study] = {}
    for study_id in sorted({s.study_id for s in sites.values()}):
        model = study_model(ctx.session, study_id)
        if model is not None:
            studies[study_id] = model
    return Scope(
        sites=sites,
        today={i: site_today(s, now) for i, s in sites.items()},
        enter=access.site_ids_for(grants, Permission.DATA_ENTER) & frozenset(sites),
        studies=studies,
        lang=ctx.language,
        now=now,
    )


def _capped(tasks: Iterable[tuple[int, Task]]) -> dict[int, Category]:
    """Tasks (already in order) per site, `CAP` kept, all counted."""
    out: dict[int, Category] = defaultdict(Category)
    for site_id, task in tasks:
        category = out[site_id]
        category.total += 1
        if len(category.tasks) < CAP:
            category.tasks.append(task)
    return dict(out)


def forms_in_progress(ctx: Context, scope: Scope) -> dict[int, Category]:
    """Records saved as drafts (incomplete), the longest waiting first: one query, with the
    database keeping `CAP` per site and counting the rest."""
    if not scope.sites:
        return {}
    rank = func.row_number().over(
        partition_by=Subject.site_id, order_by=(FormRecord.updated_at, FormRecord.id)
    )
    inner = (
        _live_records(
            FormRecord.updated_at,
            rank.label("rank"),
            func.count().over(partition_by=Subject.site_id).label("total"),
        )
        .where(
            FormRecord.status == RecordStatus.IN_PROGRESS.value,
            Subject.site_id.in_(sorted(scope.sites)),
        )
        .subquery()
    )
    rows = ctx.session.execute(
        select(inner).where(inner.c.rank <= CAP).order_by(inner.c.site_id, inner.c.rank)
    ).all()
    out: dict[int, Category] = {}
    for row in rows:
        task = _task("form", scope, row, row.updated_at)
        out.setdefault(row.site_id, Category(total=row.total)).tasks.append(task)
    return out


def to_sign(ctx: Context, scope: Scope) -> dict[int, Category]:
    """For investigators: complete or verified records at the sites where they sign that no
    valid signature covers (their own, their visit's or the casebook's), those whose signature
    a change invalidated included; the longest waiting first. One query, `CAP` kept per site."""
    sites = access.site_ids_for(ctx.grants, Permission.CASEBOOK_SIGN) & frozenset(scope.sites)
    if not sites:
        return {}
    rank = func.row_number().over(
        partition_by=Subject.site_id, order_by=(FormRecord.updated_at, FormRecord.id)
    )
    over = (FormRecord.id, FormRecord.occurrence_id, FormRecord.subject_id)
    inner = (
        _live_records(
            FormRecord.updated_at,
            signing.signature_over(*over, valid=False).label("resign"),
            rank.label("rank"),
            func.count().over(partition_by=Subject.site_id).label("total"),
        )
        .where(
            FormRecord.status.in_(sorted(s.value for s in SIGNABLE)),
            Subject.site_id.in_(sorted(sites)),
            ~signing.signature_over(*over),
        )
        .subquery()
    )
    rows = ctx.session.execute(
        select(inner).where(inner.c.rank <= CAP).order_by(inner.c.site_id, inner.c.rank)
    ).all()
    out: dict[int, Category] = {}
    for row in rows:
        task = replace(_task("sign", scope, row, row.updated_at), resign=bool(row.resign))
        out.setdefault(row.site_id, Category(total=row.total)).tasks.append(task)
    return out


def _live_records(*extra: Any) -> Select[Any]:
    """Records of visits not removed, with where they are (site, subject, event, number,
    form) and `extra` columns: what every list of forms on the to-do list starts from."""
    return (
        select(
            Subject.site_id,
            Subject.study_code,
            EventOccurrence.event_id,
            EventOccurrence.number,
            FormRecord.form_id,
            *extra,
        )
        .select_from(FormRecord)
        .join(Subject, Subject.id == FormRecord.subject_id)
        .join(EventOccurrence, EventOccurrence.id == FormRecord.occurrence_id)
        .where(EventOccurrence.removed_at.is_(None))
    )


def _task(kind: str, scope: Scope, row: Any, since: datetime) -> Task:
    """A form's task, dated by how many of the site's days passed `since`."""
    label, title, repeating = labels(scope, row.site_id, row.event_id, row.form_id)
    days = (scope.today[row.site_id] - scope.sites[row.site_id].local_time(since).date()).days
    return Task(
        kind, row.study_code, row.event_id, label, row.number, row.form_id, title,
        days=max(0, days), repeating=repeating,
    )  # fmt: skip


def refused(ctx: Context, scope: Scope) -> dict[int, Category]:
    """The user's own saves refused for a missing reason, on forms not saved since (one query)."""
    user_id = ctx.actor.user_id
    if not scope.enter or user_id is None:
        return {}
    since = scope.now - timedelta(days=refused_saves.REMIND_DAYS)
    latest = (
        select(AuditEvent.entity_id, func.max(AuditEvent.at).label("at"))
        .where(
            AuditEvent.action == refused_saves.ACTION,
            AuditEvent.at >= since,
            AuditEvent.actor_id == user_id,
            AuditEvent.entity_type == "form_record",
        )
        .group_by(AuditEvent.entity_id)
        .subquery()
    )
    rows = ctx.session.execute(
        _live_records(latest.c.at)
        .join(latest, latest.c.entity_id == cast(FormRecord.id, String))
        .where(FormRecord.updated_at < latest.c.at, Subject.site_id.in_(sorted(scope.enter)))
        .order_by(latest.c.at.desc())
    ).all()
    tasks = [(row.site_id, _task("refused", scope, row, row.at)) for row in rows]
    return _capped(tasks)


def visits_due(ctx: Context, scope: Scope) -> dict[int, Category]:
    """Each followed subject's next missing visit of every scheduled event, once its window has
    opened: overdue ones first (most overdue first), then by the window's last day."""
    scheduled = {
        study_id: [e for e in study.events if e.schedule is not None]
        for study_id, study in scope.studies.items()
    }
    site_ids = sorted(s.id for s in scope.sites.values() if scheduled.get(s.study_id))
    if not site_ids:
        return {}
    subjects = ctx.session.execute(
        select(Subject.id, Subject.site_id, Subject.study_code, Subject.registered_at)
        .where(Subject.site_id.in_(site_ids), Subject.status.in_(FOLLOWED))
        .order_by(Subject.id)
    ).all()
    done = _occurrence_counts(ctx, site_ids)
    anchors = _anchor_dates(ctx, site_ids, [e for events in scheduled.values() for e in events])
    found: list[tuple[tuple[int, bool, int], int, Task]] = []
    for subject_id, site_id, code, registered_at in subjects:
        site = scope.sites[site_id]
        for event in scheduled[site.study_id]:
            assert event.schedule is not None
            anchor = (
                anchors.get((subject_id, event.schedule.anchor_form, event.schedule.anchor_field))
                if event.schedule.anchor_form
                else site.local_time(registered_at).date()
            )
            number = done.get((subject_id, event.id), 0) + 1
            task = _next_visit(scope, site_id, code, event, number, anchor)
            if task is not None:
                order = (site_id, not task.overdue, -task.days if task.overdue else task.days)
                found.append((order, site_id, task))
    found.sort(key=lambda f: (f[0], f[2].study_code, f[2].event_id))
    return _capped((site_id, task) for _order, site_id, task in found)


def _next_visit(
    scope: Scope,
    site_id: int,
    study_code: str,
    event: Event,
    number: int,
    anchor: date | None,
) -> Task | None:
    """Visit `number` of the event, if its window has opened by the site's today."""
    schedule = event.schedule
    assert schedule is not None
    if anchor is None or (number > 1 and not event.repeating):
        return None
    due = schedule.due(anchor, number)
    if due is None:
        return None
    first, last = schedule.window(due)
    today = scope.today[site_id]
    if today < first:
        return None
    form_id = event.forms[0] if number == 1 and event.forms else ""
    study = scope.study_of(site_id)
    form = study.forms.get(form_id) if study is not None and form_id else None
    return Task(
        "visit",
        study_code,
        event.id,
        event.label.get(scope.lang),
        number,
        form_id,
        form.title.get(scope.lang) if form is not None else "",
        due,
        (first, last),
        days=(today - last).days if today > last else (last - today).days,
        overdue=today > last,
        repeating=event.repeating,
    )


def _occurrence_counts(ctx: Context, site_ids: list[int]) -> dict[tuple[int, str], int]:
    """Live visits per subject and event: removed ones do not count as done (one query)."""
    rows = ctx.session.execute(
        select(EventOccurrence.subject_id, EventOccurrence.event_id, func.count())
        .join(Subject, Subject.id == EventOccurrence.subject_id)
        .where(
            Subject.site_id.in_(site_ids),
            Subject.status.in_(FOLLOWED),
            EventOccurrence.removed_at.is_(None),
        )
        .group_by(EventOccurrence.subject_id, EventOccurrence.event_id)
    ).all()
    return {(s, e): n for s, e, n in rows}


def _anchor_dates(
    ctx: Context, site_ids: list[int], events: list[Event]
) -> dict[tuple[int, str, str], date]:
    """The answered anchor dates (`<form>.<field>`) of the followed subjects (one query)."""
    pairs = sorted(
        {(e.schedule.anchor_form, e.schedule.anchor_field) for e in events if e.schedule}
        - {("", "")}
    )
    if not pairs:
        return {}
    wanted = [and_(FormRecord.form_id == f, ItemValue.path == p) for f, p in pairs]
    rows = ctx.session.execute(
        select(FormRecord.subject_id, FormRecord.form_id, ItemValue.path, ItemValue.value)
        .join(ItemValue, ItemValue.record_id == FormRecord.id)
        .join(Subject, Subject.id == FormRecord.subject_id)
        .join(EventOccurrence, EventOccurrence.id == FormRecord.occurrence_id)
        .where(
            Subject.site_id.in_(site_ids),
            Subject.status.in_(FOLLOWED),
            EventOccurrence.removed_at.is_(None),
            or_(false(), *wanted),
        )
    ).all()
    out: dict[tuple[int, str, str], date] = {}
    for subject_id, form_id, path, value in rows:
        try:
            out[(subject_id, form_id, path)] = date.fromisoformat(str(value))
        except ValueError:  # not a date (a value stored before the field was one): no anchor
            continue
    return out


SOURCES: tuple[tuple[str, Source], ...] = (
    ("refused", refused),
    ("visits", visits_due),
    ("forms", forms_in_progress),
    ("sign", to_sign),
    ("queries", review_todo.open_queries),
    ("verify", review_todo.to_verify),
    ("changed", review_todo.changed_since_visit),
)
#: Categories added by packages `edc` does not import: key → (source, entry template).
_REGISTERED: dict[str, tuple[Source, str]] = {}


def register_source(key: str, source: Source, template: str) -> None:
    """Add a category after the built-in ones (e-consent's re-consent tasks): `source` as in
    `SOURCES`, `template` a Jinja template with the macros `heading(total)` and `entry(t, site)`.
    Registering a key again replaces it (an app made twice in one process)."""
    if any(key == built_in for built_in, _source in SOURCES):
        raise ValueError(f"to-do category {key!r} is built in")
    _REGISTERED[key] = (source, template)


def _sources() -> list[tuple[str, Source]]:
    return [*SOURCES, *((key, source) for key, (source, _t) in _REGISTERED.items())]


def category_keys() -> tuple[str, ...]:
    """Every category in the order the list shows them: the built-in ones, then registered."""
    return tuple(key for key, _source in _sources())
