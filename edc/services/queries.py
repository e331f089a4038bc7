"""Queries: a monitor or data manager asks the site about an item (or a whole form); the site
answers, with words or with a change of the data; the asker closes it or opens it again.

`open → answered → closed`, re-openable. A change of an item saved while its query is open
answers the query: the reason for change is the answer, and the message holds the change and
the audit event that recorded it. A soft check confirmed on completion raises a query by itself,
answered at once with the confirmation's reason, for the monitor to review.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import selectinload

import forms_dsl
from edc import access, audit
from edc.access import Permission
from edc.context import Context
from edc.errors import Conflict, Denied, Invalid, NotFound
from edc.i18n import _, _l
from edc.item_address import ItemAddress, field_of
from edc.models.audit import AuditEvent
from edc.models.crf import EventOccurrence, FormRecord
from edc.models.monitoring import DataQuery, QueryMessage
from edc.models.studies import Site
from edc.models.subjects import Subject
from edc.services import locks
from edc.services.definitions import study_model
from edc.services.entries import Entry
from edc.services.save_gate import OPEN_QUERY

#: The longest message kept.
MAX_TEXT = 2000
#: Queries per page of a list.
PAGE_SIZE = 50
MAX_PAGE = 10_000


class Status(enum.StrEnum):
    OPEN = OPEN_QUERY
    ANSWERED = "answered"
    CLOSED = "closed"


STATUS_LABELS = {
    Status.OPEN: _l("Open"),
    Status.ANSWERED: _l("Answered"),
    Status.CLOSED: _l("Closed"),
}

KIND_LABELS = {
    "raised": _l("Raised"),
    "answered": _l("Answered"),
    "closed": _l("Closed"),
    "reopened": _l("Re-opened"),
}

#: Which step each kind of message takes, who may take it and from where.
STEPS: dict[str, tuple[Permission, frozenset[Status], Status]] = {
    "answered": (
        Permission.QUERY_ANSWER,
        frozenset({Status.OPEN, Status.ANSWERED}),
        Status.ANSWERED,
    ),
    "closed": (Permission.QUERY_CLOSE, frozenset({Status.OPEN, Status.ANSWERED}), Status.CLOSED),
    "reopened": (Permission.QUERY_RAISE, frozenset({Status.ANSWERED, Status.CLOSED}), Status.OPEN),
}


def _text(text: str, *, required: bool = True) -> str:
    text = (text or "").strip()
    if required and not text:
        raise Invalid(_("Write the message."))
    if len(text) > MAX_TEXT:
        raise Invalid(_("The message is too long (%(max)d characters at most).", max=MAX_TEXT))
    return text


def item_key_of(entry: Entry, key: str) -> str:
    """A query's item, checked against the form ("" for the whole form)."""
    if not key:
        return ""
    address = ItemAddress.parse(key)
    if address.field not in entry.form.fields:
        raise Invalid(_("This form has no such item."))
    return address.key


def raise_query(ctx: Context, entry: Entry, key: str, text: str) -> DataQuery:
    """A monitor's or data manager's question on an item of a saved form, or the whole form."""
    subject = entry.subject
    if not ctx.holds(Permission.QUERY_RAISE, subject.site_id):
        raise Denied()
    record = entry.record
    if record is None:
        raise Conflict(_("Nothing was saved in this form yet: there is nothing to query."))
    item = item_key_of(entry, key)
    locks.hold_subjects(ctx, [subject.id], exclusive=True)  # a save of the item: before or after
    now = ctx.now()
    query = DataQuery(
        site_id=subject.site_id, subject_id=subject.id, record_id=record.id, item_key=item,
        status=Status.OPEN.value, origin="manual", raised_at=now, raised_by_id=ctx.actor.user_id,
        updated_at=now,
    )  # fmt: skip
    ctx.session.add(query)
    _message(ctx, entry, query, "raised", _text(text))
    return query


def _message(
    ctx: Context,
    entry: Entry,
    query: DataQuery,
    kind: str,
    text: str,
    *,
    change: tuple[object, object, int | None] | None = None,
    role: str = "",
) -> QueryMessage:
    """Add a message to the thread and record it in the trail (the query's step with it)."""
    old, new, seq = change if change is not None else (None, None, None)
    role = role or access.acting_role(ctx.grants, _permission_of(kind), entry.subject.site_id)
    message = QueryMessage(
        kind=kind, text=text, author_id=ctx.actor.user_id, role=role, at=ctx.now(),
        old=old, new=new, change_seq=seq,
    )  # fmt: skip
    audit.record(
        ctx.session, ctx.actor, f"query.{kind}", target=query, role=role,
        site_code=entry.subject.site.code,
        item_path=entry.audit_path(query.item_key) if query.item_key else _form_path(entry),
        new={"status": query.status, "text": text,
             **({"value": new, "change_seq": seq} if change is not None else {})},
    )  # fmt: skip
    with ctx.session.no_autoflush:
        query.messages.append(message)
    ctx.session.add(message)
    ctx.session.flush()
    return message


def _permission_of(kind: str) -> Permission:
    return STEPS[kind][0] if kind in STEPS else Permission.QUERY_RAISE


def _form_path(entry: Entry) -> str:
    fv = entry.form_version
    return f"{entry.event_id}/{entry.number}/{fv.form_id}@{fv.version}"


def step(ctx: Context, entry: Entry, query: DataQuery, kind: str, text: str) -> QueryMessage:
    """Answer, close or re-open a query (an answer and a re-opening need words)."""
    if kind not in STEPS:
        raise NotFound()
    permission, sources, target = STEPS[kind]
    if not ctx.holds(permission, entry.subject.site_id):
        raise Denied()
    _hold(ctx, query)
    if Status(query.status) not in sources:
        raise Conflict(
            _("This query is %(status)s now.", status=STATUS_LABELS[Status(query.status)])
        )
    query.status, query.updated_at = target.value, ctx.now()
    if target is Status.CLOSED:
        query.closed_at, query.closed_by_id = query.updated_at, ctx.actor.user_id
    else:
        query.closed_at = query.closed_by_id = None
    return _message(ctx, entry, query, kind, _text(text, required=kind != "closed"))


def _hold(ctx: Context, query: DataQuery) -> None:
    """Take the query's row: two answers at once are one after the other."""
    ctx.session.execute(
        select(DataQuery.id).where(DataQuery.id == query.id).with_for_update()
    ).all()
    ctx.session.refresh(query, ["status"])


def answered_by_save(
    ctx: Context,
    entry: Entry,
    record: FormRecord,
    changes: Sequence[tuple[str, object, object]],
    reasons: dict[str, str],
) -> list[DataQuery]:
    """The open queries on items this save changed are answered by it: the reason for change is
    the answer; the message links the change's audit event. Called after the save's events."""
    keys = {key for key, _old, _new in changes}
    if not keys:
        return []
    found = list(
        ctx.session.scalars(
            select(DataQuery).where(
                DataQuery.record_id == record.id,
                DataQuery.item_key.in_(keys),
                DataQuery.status == Status.OPEN.value,
            )
        )
    )
    if not found:
        return []
    by_key = {key: (old, new) for key, old, new in changes}
    for query in found:
        old, new = by_key[query.item_key]
        seq = _change_seq(ctx, record, entry.audit_path(query.item_key))
        query.status, query.updated_at = Status.ANSWERED.value, ctx.now()
        text = reasons.get(query.item_key) or reasons.get("*") or ""
        _message(
            ctx,
            entry,
            query,
            "answered",
            text,
            change=(old, new, seq),
            role=_entry_role(ctx, entry),
        )
    return found


def _entry_role(ctx: Context, entry: Entry) -> str:
    return access.acting_role(ctx.grants, Permission.DATA_ENTER, entry.subject.site_id)


def _change_seq(ctx: Context, record: FormRecord, path: str) -> int | None:
    """The audit event that wrote the item's value last: the change an answer points to."""
    audit.write_batch(ctx.session)
    return ctx.session.scalar(
        select(func.max(AuditEvent.seq)).where(
            AuditEvent.entity_type == "form_record",
            AuditEvent.entity_id == str(record.id),
            AuditEvent.item_path == path,
            AuditEvent.action.in_(("item.created", "item.changed", "item.deleted")),
        )
    )


def raised_by_check(
    ctx: Context, entry: Entry, record: FormRecord, key: str, message: str, reason: str
) -> DataQuery | None:
    """A soft check confirmed with a reason on completion: a query for the monitor to review,
    answered at once with the reason (one per item: a query closed after review is not raised
    again by the next save that confirms the same warning)."""
    item = key if key and field_of(key) in entry.form.fields else ""
    existing = ctx.session.scalar(
        select(DataQuery.id).where(
            DataQuery.record_id == record.id,
            DataQuery.item_key == item,
            DataQuery.origin == "check",
        )
    )
    if existing is not None:
        return None
    now = ctx.now()
    query = DataQuery(
        site_id=entry.subject.site_id, subject_id=entry.subject.id, record_id=record.id,
        item_key=item, status=Status.ANSWERED.value, origin="check", raised_at=now,
        raised_by_id=None, updated_at=now,
    )  # fmt: skip
    ctx.session.add(query)
    role = _entry_role(ctx, entry)
    _message(ctx, entry, query, "raised", _text(message) if message else "-", role=role)
    _message(ctx, entry, query, "answered", _text(reason, required=False), role=role)
    return query


def find(ctx: Context, query_id: int) -> DataQuery:
    """A query the actor may read (404 otherwise, like a missing one)."""
    query = ctx.session.get(DataQuery, query_id)
    if query is None or not ctx.holds(Permission.SUBJECT_VIEW, query.site_id):
        raise NotFound()
    return query


def for_record(ctx: Context, record: FormRecord | None) -> list[DataQuery]:
    """A record's queries, newest first, with their threads (the CRF page's panel)."""
    if record is None:
        return []
    ctx.require(Permission.SUBJECT_VIEW, record.subject.site_id)
    query = (
        select(DataQuery)
        .where(DataQuery.record_id == record.id)
        .options(selectinload(DataQuery.messages))
        .order_by(DataQuery.id.desc())
    )
    return list(ctx.session.scalars(query))


def open_by_item(ctx: Context, record: FormRecord | None) -> dict[str, int]:
    """How many queries wait on each item of a record (not closed; "" for the whole form):
    the badges next to the form's fields, on every page and redraw (one small query)."""
    if record is None:
        return {}
    ctx.require(Permission.SUBJECT_VIEW, record.subject.site_id)
    rows = ctx.session.execute(
        select(DataQuery.item_key, func.count())
        .where(DataQuery.record_id == record.id, DataQuery.status != Status.CLOSED.value)
        .group_by(DataQuery.item_key)
    )
    return {key: n for key, n in rows}


@dataclass(frozen=True)
class Filters:
    """A query list's filters, bounded as parsed (see `parse_filters`)."""

    status: str = "unresolved"  # open, answered, closed, unresolved (open or answered), all
    site_id: int | None = None
    mine: bool = False  # raised by the reader
    origin: str = ""
    subject: str = ""
    page: int = 1


STATUS_FILTERS = {
    "unresolved": (Status.OPEN, Status.ANSWERED),
    "open": (Status.OPEN,),
    "answered": (Status.ANSWERED,),
    "closed": (Status.CLOSED,),
    "all": tuple(Status),
}


@dataclass(frozen=True)
class Row:
    query: DataQuery
    subject_code: str
    site_code: str
    event_id: str
    number: int
    form_id: str
    last_text: str
    #: The visit, form and item as people read them (the reader's language).
    event_label: str = ""
    form_title: str = ""
    item_label: str = ""

    def age_days(self, now: datetime) -> int:
        return max((now - self.query.raised_at).days, 0)


@dataclass(frozen=True)
class Listing:
    rows: list[Row]
    total: int
    page: int
    pages: int
    sites: list[Site]


def parse_filters(args: dict[str, str]) -> Filters:
    """The list's filters from the address; anything out of bounds falls back to the default."""
    status = args.get("status", "unresolved")
    if status not in STATUS_FILTERS:
        status = "unresolved"
    site = args.get("site", "")
    page = args.get("page", "1")
    origin = args.get("origin", "")
    return Filters(
        status=status,
        site_id=int(site) if site.isdigit() and len(site) < 10 else None,
        mine=args.get("mine") == "1",
        origin=origin if origin in ("manual", "check") else "",
        subject=args.get("subject", "")[:32].strip(),
        page=min(max(int(page), 1), MAX_PAGE) if page.isdigit() and len(page) < 7 else 1,
    )


def listing(ctx: Context, filters: Filters) -> Listing:
    """The queries at the reader's sites (a data manager's: the study's), filtered, oldest
    unresolved first, a page at a time: three statements whatever the numbers."""
    site_ids = access.site_ids_for(ctx.grants, Permission.SUBJECT_VIEW)
    if filters.site_id is not None:
        site_ids = site_ids & {filters.site_id}
    where: list[ColumnElement[bool]] = [
        DataQuery.site_id.in_(sorted(site_ids)),
        DataQuery.status.in_(STATUS_FILTERS[filters.status]),
    ]
    if filters.mine:
        where.append(DataQuery.raised_by_id == ctx.actor.user_id)
    if filters.origin:
        where.append(DataQuery.origin == filters.origin)
    if filters.subject:
        where.append(Subject.study_code == filters.subject)
    base = select(DataQuery).join(Subject, Subject.id == DataQuery.subject_id).where(*where)
    total = ctx.session.scalar(select(func.count()).select_from(base.subquery())) or 0
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    page = min(filters.page, pages)
    last = (
        select(QueryMessage.text)
        .where(QueryMessage.query_id == DataQuery.id)
        .order_by(QueryMessage.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = ctx.session.execute(
        select(
            DataQuery,
            Subject.study_code,
            Site.code,
            EventOccurrence.event_id,
            EventOccurrence.number,
            FormRecord.form_id,
            last,
        )
        .join(Subject, Subject.id == DataQuery.subject_id)
        .join(Site, Site.id == DataQuery.site_id)
        .join(FormRecord, FormRecord.id == DataQuery.record_id)
        .join(EventOccurrence, EventOccurrence.id == FormRecord.occurrence_id)
        .where(*where)
        .order_by(DataQuery.raised_at, DataQuery.id)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    sites = list(
        ctx.session.scalars(
            select(Site)
            .where(Site.id.in_(sorted(access.site_ids_for(ctx.grants, Permission.SUBJECT_VIEW))))
            .order_by(Site.code)
        )
    )
    models = {s.study_id: study_model(ctx.session, s.study_id) for s in sites}
    by_site = {s.id: models.get(s.study_id) for s in sites}
    named = [_named(Row(*r), by_site.get(r[0].site_id), ctx.language) for r in rows]
    return Listing(named, total, page, pages, sites)


def _named(row: Row, study: forms_dsl.Study | None, lang: str) -> Row:
    if study is None:
        return row
    event = next((e for e in study.events if e.id == row.event_id), None)
    form = study.forms.get(row.form_id)
    return replace(
        row,
        event_label=event.label.get(lang) if event is not None else row.event_id,
        form_title=form.title.get(lang) if form is not None else row.form_id,
        item_label=item_label(form, row.query.item_key, lang) if form is not None else "",
    )


def item_label(form: forms_dsl.Form, key: str, lang: str) -> str:
    """A query's item as people read it: its field's label (and its row's id within a
    repeating section); "" for the whole form."""
    if not key:
        return ""
    address = ItemAddress.of(key)
    field = form.fields.get(address.field) if address is not None else None
    if address is None or field is None:
        return key
    label = field.label.get(lang)
    return label if address.row is None else f"{label} ({address.row})"
