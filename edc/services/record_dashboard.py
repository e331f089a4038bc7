"""The record status dashboard: subjects (rows) × events × forms (columns grouped by event), each
cell the status of a record as people see it (`review_state` then `lifecycle.shown`: a lock
first, then a valid signature, then the stored status) and its open queries.

A repeating event's cell lists every live occurrence of the event, in order, each with its own
number, status and link (occurrence #1 always, as on the subject page): a glance shows how many
visits there were and which one waits. A record status filter keeps the subjects with at least
one cell (or occurrence) in that status among the columns shown.

The page costs the same few queries whatever the number of subjects: the reader's sites, the
study's definition, the subjects (a count and a page), their visits and records, and their review
state (three). With a record status filter, the shown statuses of every subject that passes the
other filters are read first (the same queries, over all of them), then paginated: about
2 s for 2,000 subjects × 80 forms (bench/dashboard.py), against 0.1 s for a page without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Row as SqlRow
from sqlalchemy import Select, func, select

import forms_dsl
from edc import access, lifecycle
from edc.access import Permission
from edc.context import Context
from edc.models.crf import EventOccurrence, FormRecord
from edc.models.monitoring import DataLock
from edc.models.subjects import Subject
from edc.services import review_state, subject_status
from edc.services.dashboard_scope import StudyScope, bounded_int, study_scope

#: Subjects per page: 25 rows of up to a hundred cells stay readable and light.
PAGE_SIZE = 25


@dataclass(frozen=True)
class Filters:
    """What the reader asked for; a value that names nothing they may see is left empty."""

    study_id: int | None = None
    site_id: int | None = None
    subject_status: str = ""
    record_status: str = ""
    event_id: str = ""


def parse_filters(
    *, study: str = "", site: str = "", subject_status: str = "", status: str = "", event: str = ""
) -> Filters:
    """The filters as typed in the address; unknown statuses are dropped here, unknown sites,
    studies and events once the reader's scope is known."""
    return Filters(
        study_id=bounded_int(study),
        site_id=bounded_int(site),
        subject_status=subject_status if subject_status in SUBJECT_STATUSES else "",
        record_status=status if status in lifecycle.LABELS else "",
        event_id=event[:64],
    )


SUBJECT_STATUSES = tuple(subject_status.LABELS)


@dataclass(frozen=True)
class Column:
    event_id: str
    event_label: str
    form_id: str
    form_title: str
    repeating: bool


@dataclass(frozen=True)
class Group:
    """An event heading over its forms' columns."""

    event_id: str
    label: str
    span: int
    repeating: bool


@dataclass(frozen=True)
class Mark:
    """One record, or the place of one not started, in a cell: where its form page is."""

    event_id: str
    number: int
    form_id: str
    status: str  # as shown (lifecycle.RecordStatus value)
    open_queries: int = 0


Cells = tuple[tuple[Mark, ...], ...]


@dataclass(frozen=True)
class Line:
    """A subject's row."""

    study_code: str
    site_code: str
    subject_status: str
    cells: Cells


@dataclass(frozen=True)
class RecordDashboard:
    filters: Filters
    scope: StudyScope
    groups: tuple[Group, ...] = ()
    columns: tuple[Column, ...] = ()
    lines: tuple[Line, ...] = ()
    total: int = 0
    page: int = 1
    pages: int = 1
    events: tuple[tuple[str, str], ...] = field(default=())  # (id, label) for the event filter


def record_dashboard(ctx: Context, filters: Filters, page: int) -> RecordDashboard:
    """One page of the dashboard for the reader: their sites only, the filters applied."""
    scope = study_scope(ctx, filters.study_id, filters.site_id)
    model = scope.model
    if scope.study is None or model is None:
        return RecordDashboard(Filters(), scope)
    events = tuple((e.id, e.label.get(ctx.language)) for e in model.events)
    if filters.event_id not in {e for e, _label in events}:
        filters = replace(filters, event_id="")
    filters = replace(filters, study_id=scope.study.id, site_id=scope.site_id)
    columns = _columns(model, filters.event_id, ctx.language)
    subjects = _subjects(scope, filters)
    if filters.record_status:
        everyone = list(ctx.session.execute(subjects.params(_scope_params(ctx))))
        grid = _Grid.load(ctx, scope, everyone, columns)
        kept = [s for s in everyone if grid.has_status(s, filters.record_status)]
        total, page = len(kept), _bounded(page, len(kept))
        rows: Sequence[Any] = kept[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    else:
        total = _count(ctx, subjects)
        page = _bounded(page, total)
        rows = list(
            ctx.session.execute(
                subjects.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE).params(_scope_params(ctx))
            )
        )
        grid = _Grid.load(ctx, scope, rows, columns)
    lines = tuple(
        Line(r.study_code, scope.sites[r.site_id].code, r.status, grid.cells(r)) for r in rows
    )
    return RecordDashboard(
        filters, scope, _groups(columns), tuple(columns), lines, total, page,
        _pages(total), events,
    )  # fmt: skip


def _pages(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))


def _bounded(page: int, total: int) -> int:
    """A page that exists: past the last one shows the last one."""
    return min(max(1, page), _pages(total))


def _scope_params(ctx: Context) -> dict[str, list[int]]:
    assert ctx.actor.user is not None  # study_scope required a reader
    return access.scope_params(ctx.session, ctx.actor.user, Permission.SUBJECT_VIEW)


def _subjects(scope: StudyScope, filters: Filters) -> Select[Any]:
    """The subjects shown, by study code (site, then number), kept to the reader's sites."""
    assert scope.study is not None
    query = select(Subject.id, Subject.study_code, Subject.site_id, Subject.status).where(
        Subject.study_id == scope.study.id, Subject.site_id.in_(scope.site_ids)
    )
    if filters.subject_status:
        query = query.where(Subject.status == filters.subject_status)
    return access.scoped_statement(query, Subject.site_id).order_by(Subject.study_code)


def _count(ctx: Context, subjects: Select[Any]) -> int:
    counted = select(func.count()).select_from(subjects.order_by(None).subquery())
    return ctx.session.scalar(counted.params(_scope_params(ctx))) or 0


def _columns(model: forms_dsl.Study, event_id: str, lang: str) -> list[Column]:
    return [
        Column(e.id, e.label.get(lang), f, model.forms[f].title.get(lang), e.repeating)
        for e in model.events
        if not event_id or e.id == event_id
        for f in e.forms
        if f in model.forms
    ]


def _groups(columns: Iterable[Column]) -> tuple[Group, ...]:
    groups: list[Group] = []
    for c in columns:
        if groups and groups[-1].event_id == c.event_id:
            groups[-1] = replace(groups[-1], span=groups[-1].span + 1)
        else:
            groups.append(Group(c.event_id, c.event_label, 1, c.repeating))
    return tuple(groups)


@dataclass
class _Visit:
    """A live occurrence of an event and its saved records: form id → (record id, status)."""

    occurrence_id: int
    records: dict[str, tuple[int, str]] = field(default_factory=dict)


def _visits(
    ctx: Context, subject_ids: list[int], event_ids: list[str]
) -> dict[tuple[int, str], dict[int, _Visit]]:
    """The subjects' live visits of these events, by (subject, event) and number: one query."""
    found: dict[tuple[int, str], dict[int, _Visit]] = {}
    if not subject_ids:
        return found
    rows = ctx.session.connection().execute(  # plain rows: no ORM loading for thousands
        select(
            EventOccurrence.subject_id,
            EventOccurrence.event_id,
            EventOccurrence.number,
            EventOccurrence.id,
            FormRecord.id,
            FormRecord.form_id,
            FormRecord.status,
        )
        .outerjoin(FormRecord, FormRecord.occurrence_id == EventOccurrence.id)
        .where(
            EventOccurrence.subject_id.in_(subject_ids),
            EventOccurrence.event_id.in_(event_ids),
            EventOccurrence.removed_at.is_(None),
        )
    )
    for subject_id, event_id, number, occurrence_id, record_id, form_id, status in rows:
        visit = found.setdefault((subject_id, event_id), {}).setdefault(
            number, _Visit(occurrence_id)
        )
        if record_id is not None:
            visit.records[form_id] = (record_id, status)
    return found


@dataclass
class _Grid:
    """The subjects' visits and records and their review state, read once (four queries), from
    which each subject's cells are told.

    The review state's locks are handed to `review_state` per subject: the study's and sites'
    locks with the subject's own (a lock below the site level names its subject), so that a
    cell is not weighed against the locks of two thousand other subjects. Which lock covers
    what, and what is shown, stays `review_state`'s and `lifecycle`'s answer."""

    columns: list[Column]
    visits: dict[tuple[int, str], dict[int, _Visit]]
    state: review_state.ReviewState
    wide: list[DataLock] = field(default_factory=list)
    own: dict[int, list[DataLock]] = field(default_factory=dict)

    @classmethod
    def load(
        cls, ctx: Context, scope: StudyScope, subjects: Sequence[SqlRow[Any]], columns: list[Column]
    ) -> _Grid:
        assert scope.study is not None
        ids = [s.id for s in subjects]
        visits = _visits(ctx, ids, sorted({c.event_id for c in columns}))
        state = review_state.load(ctx, scope.study.id, scope.site_ids, ids)
        grid = cls(columns, visits, state)
        for lock in state.locks:
            if lock.subject_id is None:
                grid.wide.append(lock)
            else:
                grid.own.setdefault(lock.subject_id, []).append(lock)
        return grid

    def _state(self, subject: SqlRow[Any]) -> review_state.ReviewState:
        return replace(self.state, locks=self.wide + self.own.get(subject.id, []))

    def cells(self, subject: SqlRow[Any]) -> Cells:
        """The subject's cells, column by column."""
        state, site_id, subject_id = self._state(subject), subject.site_id, subject.id
        return tuple(
            _cell(state, site_id, subject_id, c, self.visits.get((subject_id, c.event_id), {}))
            for c in self.columns
        )

    def has_status(self, subject: SqlRow[Any], status: str) -> bool:
        """Whether a cell of the subject shows `status` (stops at the first that does)."""
        wanted = lifecycle.RecordStatus(status)
        state, site_id, subject_id = self._state(subject), subject.site_id, subject.id
        return any(
            shown is wanted
            for c in self.columns
            for _n, _r, shown in _shown(
                state, site_id, subject_id, c, self.visits.get((subject_id, c.event_id), {})
            )
        )


#: A form without a saved record: no record id, no stored status.
_NONE: tuple[None, None] = (None, None)


def _shown(
    state: review_state.ReviewState,
    site_id: int,
    subject_id: int,
    column: Column,
    visits: dict[int, _Visit],
) -> Iterator[tuple[int, int | None, lifecycle.RecordStatus]]:
    """Each mark of one cell as (visit number, record id, status shown): occurrence 1, and
    every other live one of a repeating event."""
    for number in sorted({1} | visits.keys()) if column.repeating else (1,):
        visit = visits.get(number)
        record_id, stored = visit.records.get(column.form_id, _NONE) if visit else _NONE
        where = review_state.Cell(
            site_id, subject_id, visit.occurrence_id if visit else None, column.form_id
        )
        yield number, record_id, state.shown(where, stored, record_id)


def _cell(
    state: review_state.ReviewState,
    site_id: int,
    subject_id: int,
    column: Column,
    visits: dict[int, _Visit],
) -> tuple[Mark, ...]:
    """The marks of one cell, with each record's open queries."""
    return tuple(
        Mark(
            column.event_id,
            number,
            column.form_id,
            shown.value,
            state.open_by_record.get(record_id, 0) if record_id is not None else 0,
        )
        for number, record_id, shown in _shown(state, site_id, subject_id, column, visits)
    )
