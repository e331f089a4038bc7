"""The review workflow's part of the to-do list (`edc.services.todo.SOURCES`): queries waiting
for the reader, forms waiting for source data verification, and for a monitor the items changed
at a site since their last completed visit. A fixed number of queries each, whatever the size
of the sites."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import and_, func, or_, select

from edc import access
from edc.access import Permission
from edc.context import Context
from edc.lifecycle import RecordStatus
from edc.models.audit import AuditEvent
from edc.models.crf import EventOccurrence, FormRecord
from edc.models.monitoring import DataQuery, MonitorVisit, SdvPlan
from edc.models.subjects import Subject
from edc.services import queries, sdv
from edc.services.data_entry import ITEM_ACTIONS
from edc.services.todo_items import CAP, Category, Scope, Task, labels


def open_queries(ctx: Context, scope: Scope) -> dict[int, Category]:
    """Queries waiting for the reader: open ones where they answer (site staff), answered ones
    where they close (monitors, data managers). Oldest first; one query."""
    answer = access.site_ids_for(ctx.grants, Permission.QUERY_ANSWER) & frozenset(scope.sites)
    close = access.site_ids_for(ctx.grants, Permission.QUERY_CLOSE) & frozenset(scope.sites)
    if not answer and not close:
        return {}
    waiting = or_(
        and_(DataQuery.site_id.in_(sorted(answer)), DataQuery.status == queries.Status.OPEN),
        and_(DataQuery.site_id.in_(sorted(close)), DataQuery.status == queries.Status.ANSWERED),
    )
    rank = func.row_number().over(
        partition_by=DataQuery.site_id, order_by=(DataQuery.raised_at, DataQuery.id)
    )
    inner = (
        select(
            DataQuery.site_id,
            DataQuery.id.label("query_id"),
            DataQuery.item_key,
            DataQuery.status,
            DataQuery.raised_at,
            Subject.study_code,
            EventOccurrence.event_id,
            EventOccurrence.number,
            FormRecord.form_id,
            rank.label("rank"),
            func.count().over(partition_by=DataQuery.site_id).label("total"),
        )
        .join(Subject, Subject.id == DataQuery.subject_id)
        .join(FormRecord, FormRecord.id == DataQuery.record_id)
        .join(EventOccurrence, EventOccurrence.id == FormRecord.occurrence_id)
        .where(waiting)
        .subquery()
    )
    rows = ctx.session.execute(
        select(inner).where(inner.c.rank <= CAP).order_by(inner.c.site_id, inner.c.rank)
    ).all()
    out: dict[int, Category] = {}
    for row in rows:
        label, title, repeating = labels(scope, row.site_id, row.event_id, row.form_id)
        study = scope.study_of(row.site_id)
        form = study.forms.get(row.form_id) if study is not None else None
        task = Task(
            "query",
            row.study_code,
            row.event_id,
            label,
            row.number,
            row.form_id,
            title,
            days=_days(scope, row.site_id, row.raised_at),
            repeating=repeating,
            query_id=row.query_id,
            answered=row.status == queries.Status.ANSWERED,
            item_label=queries.item_label(form, row.item_key, scope.lang) if form else "",
        )
        out.setdefault(row.site_id, Category(total=row.total)).tasks.append(task)
    return out


def _days(scope: Scope, site_id: int, since: datetime) -> int:
    today = scope.today[site_id]
    return max(0, (today - scope.sites[site_id].local_time(since).date()).days)


def to_verify(ctx: Context, scope: Scope) -> dict[int, Category]:
    """For monitors: subjects with complete forms their site's SDV plan asks them to verify
    (in a sample, only the subjects drawn), the most forms first. Two queries."""
    sites = access.site_ids_for(ctx.grants, Permission.SDV_VERIFY) & frozenset(scope.sites)
    if not sites:
        return {}
    plans = _plans(ctx, sites)
    rows = ctx.session.execute(
        select(Subject.site_id, Subject.study_code, FormRecord.form_id, func.count())
        .join(Subject, Subject.id == FormRecord.subject_id)
        .join(EventOccurrence, EventOccurrence.id == FormRecord.occurrence_id)
        .where(
            Subject.site_id.in_(sorted(sites)),
            FormRecord.status == RecordStatus.COMPLETE.value,
            EventOccurrence.removed_at.is_(None),
        )
        .group_by(Subject.site_id, Subject.study_code, FormRecord.form_id)
    ).all()
    waiting: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for site_id, code, form_id, n in rows:
        plan = plans.get(site_id, sdv.Plan(sdv.Mode.ALL))
        if plan.mode is sdv.Mode.SAMPLE and not sdv.in_sample(plan.seed, code, plan.percent):
            continue
        if plan.mode is not sdv.Mode.ALL and not _has_critical(scope, site_id, form_id):
            continue
        waiting[site_id][code] += n
    out: dict[int, Category] = {}
    for site_id, by_subject in waiting.items():
        ranked = sorted(by_subject.items(), key=lambda pair: (-pair[1], pair[0]))
        tasks = [Task("verify", code, "", "", 0, count=n) for code, n in ranked[:CAP]]
        out[site_id] = Category(tasks, total=len(ranked))
    return out


def _plans(ctx: Context, sites: frozenset[int]) -> dict[int, sdv.Plan]:
    stored = ctx.session.scalars(
        select(SdvPlan)
        .where(SdvPlan.site_id.in_(sorted(sites)), SdvPlan.ended_at.is_(None))
        .order_by(SdvPlan.id)
    )
    return {p.site_id: sdv.Plan(sdv.Mode(p.mode), p.percent, p.seed, p) for p in stored}


def _has_critical(scope: Scope, site_id: int, form_id: str) -> bool:
    study = scope.study_of(site_id)
    form = study.forms.get(form_id) if study is not None else None
    return form is not None and any(f.sdv for f in form)


def changed_since_visit(ctx: Context, scope: Scope) -> dict[int, Category]:
    """For a monitor: per site they completed a visit at, how many items changed since that
    visit ended (one line, to the site's page). Two queries."""
    sites = access.site_ids_for(ctx.grants, Permission.SDV_VERIFY) & frozenset(scope.sites)
    if not sites or ctx.actor.user_id is None:
        return {}
    found = ctx.session.execute(
        select(MonitorVisit.site_id, func.max(MonitorVisit.ended_at))
        .where(
            MonitorVisit.monitor_id == ctx.actor.user_id,
            MonitorVisit.site_id.in_(sorted(sites)),
            MonitorVisit.ended_at.is_not(None),
        )
        .group_by(MonitorVisit.site_id)
    )
    ends = {site_id: at for site_id, at in found if at is not None}
    if not ends:
        return {}
    by_id = {s: scope.sites[s].code for s in ends}
    by_code = {code: s for s, code in by_id.items()}
    item = AuditEvent.entity_id + "/" + AuditEvent.item_path
    counts = ctx.session.execute(
        select(AuditEvent.site_code, func.count(func.distinct(item)))
        .where(
            AuditEvent.action.in_(ITEM_ACTIONS),
            AuditEvent.entity_type == "form_record",
            or_(
                *(
                    and_(AuditEvent.site_code == by_id[s], AuditEvent.at > at)
                    for s, at in ends.items()
                )
            ),
        )
        .group_by(AuditEvent.site_code)
    )
    out: dict[int, Category] = {}
    for code, n in counts:
        if code in by_code and n:
            site_id = by_code[code]
            task = Task("changed", "", "", "", 0, count=n, since=ends[site_id])
            out[site_id] = Category([task], total=n)
    return out
