"""The study dashboard: four charts of one study at the reader's sites, each with its numbers.

- **Enrolment**: registered subjects, cumulated by calendar month (UTC) of registration, one line
  per site, from the first registration's month to this month (at most the last 120 months; the
  earlier ones are counted in the first).
- **Form completion**, per form (over every event that has it): complete or verified, in
  progress, and not started. A form is expected once per subject for each event that has it, and
  once per live occurrence of a repeating event (its first always, as on the subject page).
  Statuses are the stored ones: a lock or a signature does not change how complete data is.
- **Open queries by age**: queries open or answered (not closed), by days since they were raised:
  0–7, 8–14, 15–30, more than 30.
- **Source data verification per site**: verified items / items to verify. Items to verify are the
  stored items of records whose status is complete or verified; of those, a verified record's
  items all count as verified, a complete record's as far as each has a verification not reset
  since. The site's SDV plan (critical items, samples) is not applied: this is the plain share.

Every figure is one grouped query whatever the number of subjects (nine in all, with the reader's
sites and the study's definition).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from babel.dates import format_date
from sqlalchemy import ColumnElement, String, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from edc import charts
from edc.context import Context
from edc.i18n import _l
from edc.lifecycle import RecordStatus
from edc.models.crf import EventOccurrence, FormRecord, ItemValue
from edc.models.monitoring import DataQuery, ItemVerification
from edc.models.subjects import Subject
from edc.services.dashboard_scope import StudyScope, study_scope
from edc.services.review_state import OPEN_QUERY_STATUSES

#: The longest enrolment line, in months.
MONTHS_MAX = 120
#: Ages of open queries: (key, first day, last day or None), and their names.
AGES = (("0-7", 0, 7), ("8-14", 8, 14), ("15-30", 15, 30), ("31+", 31, None))
AGE_LABELS = {
    "0-7": _l("0–7 days"),
    "8-14": _l("8–14 days"),
    "15-30": _l("15–30 days"),
    "31+": _l("more than 30 days"),
}
DONE = (RecordStatus.COMPLETE.value, RecordStatus.VERIFIED.value)


class _UtcMonth(FunctionElement[str]):
    """`YYYY-MM` of a UTC timestamp column, as each database writes it."""

    type = String()
    name = "utc_month"
    inherit_cache = True


@compiles(_UtcMonth, "sqlite")
def _utc_month_sqlite(element: _UtcMonth, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"strftime('%Y-%m', {column})"  # stored as naive UTC text


@compiles(_UtcMonth, "postgresql")
def _utc_month_postgresql(element: _UtcMonth, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM')"


@dataclass(frozen=True)
class SiteLine:
    code: str
    counts: tuple[int, ...]  # cumulated, month by month


@dataclass(frozen=True)
class Enrolment:
    months: tuple[date, ...]
    labels: tuple[str, ...]
    sites: tuple[SiteLine, ...]


@dataclass(frozen=True)
class Completion:
    form_id: str
    title: str
    done: int
    in_progress: int
    not_started: int


@dataclass(frozen=True)
class Verification:
    code: str
    verified: int
    to_verify: int

    @property
    def percent(self) -> int:
        return round(100 * self.verified / self.to_verify) if self.to_verify else 0


@dataclass(frozen=True)
class StudyDashboard:
    scope: StudyScope
    enrolment: Enrolment | None = None
    completion: tuple[Completion, ...] = ()
    query_ages: tuple[tuple[str, str, int], ...] = ()  # key, label, count
    verification: tuple[Verification, ...] = ()
    charts: dict[str, Any] | None = None


def study_dashboard(ctx: Context, study_id: int | None) -> StudyDashboard:
    """The four figures of the study (asked for, or the reader's first) at the reader's sites."""
    scope = study_scope(ctx, study_id, None)
    if scope.study is None or scope.model is None:
        return StudyDashboard(scope)
    enrolment = _enrolment(ctx, scope)
    completion = _completion(ctx, scope)
    ages = _query_ages(ctx, scope)
    verification = _verification(ctx, scope)
    drawn = {
        "enrolment": charts.line_chart(
            enrolment.labels, [(s.code, s.counts) for s in enrolment.sites]
        ),
        "completion": charts.stack_chart(
            [(c.title, (c.done, c.in_progress, c.not_started)) for c in completion]
        ),
        "queries": charts.bar_chart([(label, n) for _key, label, n in ages]),
        "verification": charts.stack_chart(
            [(v.code, (v.verified, v.to_verify - v.verified)) for v in verification]
        ),
    }
    return StudyDashboard(scope, enrolment, completion, ages, verification, drawn)


def _in_scope(scope: StudyScope) -> list[ColumnElement[bool]]:
    """The subjects of the dashboard: the study's, at the reader's sites."""
    assert scope.study is not None
    return [Subject.study_id == scope.study.id, Subject.site_id.in_(scope.site_ids)]


def _month(day: date, months: int) -> date:
    """The first day of the month `months` after `day`'s."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _enrolment(ctx: Context, scope: StudyScope) -> Enrolment:
    month = _UtcMonth(Subject.registered_at)
    rows = ctx.session.execute(
        select(Subject.site_id, month, func.count())
        .where(*_in_scope(scope))
        .group_by(Subject.site_id, month)
    ).all()
    found = {(site_id, date.fromisoformat(f"{m}-01")): n for site_id, m, n in rows if m}
    this_month = ctx.now().date().replace(day=1)
    first = min((m for _s, m in found), default=this_month)
    first = max(min(first, this_month), _month(this_month, 1 - MONTHS_MAX))
    months: list[date] = []
    while not months or months[-1] < this_month:
        months.append(_month(first, len(months)))
    sites = []
    for site_id, site in scope.sites.items():
        running = sum(n for (s, m), n in found.items() if s == site_id and m < first)
        counts = []
        for m in months:
            running += found.get((site_id, m), 0)
            counts.append(running)
        sites.append(SiteLine(site.code, tuple(counts)))
    labels = tuple(format_date(m, "LLLL y", locale=ctx.language) for m in months)
    return Enrolment(tuple(months), labels, tuple(sites))


def _completion(ctx: Context, scope: StudyScope) -> tuple[Completion, ...]:
    """Per form: complete or verified, in progress, not started (three queries)."""
    model = scope.model
    assert model is not None
    live = EventOccurrence.removed_at.is_(None)
    subjects = (
        ctx.session.scalar(select(func.count()).select_from(Subject).where(*_in_scope(scope))) or 0
    )
    later: dict[str, int] = {
        event_id: n
        for event_id, n in ctx.session.execute(
            select(EventOccurrence.event_id, func.count())
            .join(Subject, Subject.id == EventOccurrence.subject_id)
            .where(*_in_scope(scope), live, EventOccurrence.number > 1)
            .group_by(EventOccurrence.event_id)
        )
    }
    saved: dict[tuple[str, str, str], int] = {
        (e, f, s): n
        for e, f, s, n in ctx.session.execute(
            select(EventOccurrence.event_id, FormRecord.form_id, FormRecord.status, func.count())
            .join(EventOccurrence, EventOccurrence.id == FormRecord.occurrence_id)
            .join(Subject, Subject.id == FormRecord.subject_id)
            .where(*_in_scope(scope), live)
            .group_by(EventOccurrence.event_id, FormRecord.form_id, FormRecord.status)
        )
    }
    totals: dict[str, list[int]] = {}
    for event in model.events:
        expected = subjects + (later.get(event.id, 0) if event.repeating else 0)
        for form_id in event.forms:
            done = sum(saved.get((event.id, form_id, s), 0) for s in DONE)
            drafts = saved.get((event.id, form_id, RecordStatus.IN_PROGRESS.value), 0)
            found = totals.setdefault(form_id, [0, 0, 0])
            found[0] += done
            found[1] += drafts
            found[2] += max(0, expected - done - drafts)
    return tuple(
        Completion(f, model.forms[f].title.get(ctx.language), *counts)
        for f, counts in totals.items()
        if f in model.forms
    )


def _query_ages(ctx: Context, scope: StudyScope) -> tuple[tuple[str, str, int], ...]:
    """Open queries by the number of whole days since they were raised (one query)."""
    now = ctx.now()
    whens = [
        (DataQuery.raised_at > now - timedelta(days=last + 1), key)
        for key, _first, last in AGES
        if last is not None
    ]
    age = case(*whens, else_=AGES[-1][0]).label("age")
    aged = (
        select(age)
        .select_from(DataQuery)
        .join(Subject, Subject.id == DataQuery.subject_id)
        .where(*_in_scope(scope), DataQuery.status.in_(OPEN_QUERY_STATUSES))
        .subquery()
    )
    counts: dict[str, int] = {
        age: n
        for age, n in ctx.session.execute(select(aged.c.age, func.count()).group_by(aged.c.age))
    }
    return tuple((key, str(AGE_LABELS[key]), counts.get(key, 0)) for key, _f, _l in AGES)


def _verification(ctx: Context, scope: StudyScope) -> tuple[Verification, ...]:
    """Verified items / items to verify per site (two queries; see the module's docstring)."""
    records = (
        select(Subject.site_id, FormRecord.status, func.count(ItemValue.id))
        .select_from(ItemValue)
        .join(FormRecord, FormRecord.id == ItemValue.record_id)
        .join(EventOccurrence, EventOccurrence.id == FormRecord.occurrence_id)
        .join(Subject, Subject.id == FormRecord.subject_id)
        .where(*_in_scope(scope), EventOccurrence.removed_at.is_(None), FormRecord.status.in_(DONE))
        .group_by(Subject.site_id, FormRecord.status)
    )
    items = {(s, status): n for s, status, n in ctx.session.execute(records)}
    checked: dict[int, int] = {
        site_id: n
        for site_id, n in ctx.session.execute(
            select(Subject.site_id, func.count(ItemVerification.id))
            .select_from(ItemVerification)
            .join(FormRecord, FormRecord.id == ItemVerification.record_id)
            .join(EventOccurrence, EventOccurrence.id == FormRecord.occurrence_id)
            .join(Subject, Subject.id == FormRecord.subject_id)
            .where(
                *_in_scope(scope),
                EventOccurrence.removed_at.is_(None),
                FormRecord.status == RecordStatus.COMPLETE.value,
                ItemVerification.reset_at.is_(None),
            )
            .group_by(Subject.site_id)
        )
    }
    out = []
    for site_id, site in scope.sites.items():
        complete = items.get((site_id, RecordStatus.COMPLETE.value), 0)
        verified = items.get((site_id, RecordStatus.VERIFIED.value), 0)
        done = verified + min(checked.get(site_id, 0), complete)
        out.append(Verification(site.code, done, complete + verified))
    return tuple(out)
