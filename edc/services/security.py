"""Read models for administrators: security events and the periodic access review."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import aliased

from edc import audit
from edc.context import Context
from edc.models.audit import AuditEvent
from edc.models.studies import Site, Study
from edc.models.users import RoleAssignment, User
from edc.services import event_text

#: Exports of the clinical trail (`audit.exported`) are downloads too: the administrator sees them.
SECURITY_PREFIXES = ("auth.", "user.", "role.", "access.", "export.", "security.", "audit.")
PAGE_SIZE = 50


@dataclass(frozen=True)
class EventFilter:
    action: str = ""
    actor: str = ""
    ip: str = ""
    since: datetime | None = None
    until: datetime | None = None


def _query(f: EventFilter) -> Select[tuple[AuditEvent]]:
    query = select(AuditEvent).where(
        or_(*(AuditEvent.action.startswith(p) for p in SECURITY_PREFIXES))
    )
    if f.action:
        query = query.where(AuditEvent.action == f.action)
    if f.actor:
        query = query.where(AuditEvent.actor_email.contains(f.actor.strip().lower()))
    if f.ip:
        query = query.where(AuditEvent.ip == f.ip.strip())
    if f.since:
        query = query.where(AuditEvent.at >= f.since)
    if f.until:
        query = query.where(AuditEvent.at < f.until)
    return query


def security_events(ctx: Context, f: EventFilter, page: int) -> tuple[list[AuditEvent], int]:
    """One page of events, newest first, and the total count (two queries whatever the size)."""
    session = ctx.session
    total = session.scalar(select(func.count()).select_from(_query(f).subquery())) or 0
    rows = session.scalars(
        _query(f).order_by(AuditEvent.seq.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    return list(rows), total


def security_page(ctx: Context, f: EventFilter, page: int) -> tuple[list[event_text.EventRow], int]:
    """One page of events as labelled rows (what each means, no codes or ids), and the total."""
    events, total = security_events(ctx, f, page)
    return event_text.rows(ctx.session, events), total


def iter_security_events(ctx: Context, f: EventFilter) -> Iterator[AuditEvent]:
    """All matching events, oldest first, streamed for the CSV export."""
    session = ctx.session
    yield from session.scalars(_query(f).order_by(AuditEvent.seq).execution_options(yield_per=1000))


def _filters(f: EventFilter) -> dict[str, str]:
    """The filters an export used, as its audit event records them (only those given)."""
    shown = {
        "action": f.action,
        "actor": f.actor,
        "ip": f.ip,
        "since": f.since.isoformat() if f.since else "",
        "until": f.until.isoformat() if f.until else "",
    }
    return {k: v for k, v in shown.items() if v}


def record_download(ctx: Context, what: str, filters: dict[str, str], rows: int) -> None:
    """Every export or download is an audit event: what, with which filters, how many rows."""
    session, actor = ctx.session, ctx.actor
    audit.record(
        session,
        actor,
        "export.downloaded",
        entity_type="export",
        entity_id=what,
        new={"what": what, "filters": filters, "rows": rows},
    )


def export_security_events(ctx: Context, f: EventFilter) -> tuple[int, Iterator[AuditEvent]]:
    """The matching events as they stand now, for the CSV, and the download recorded.

    The rows are counted and capped at the newest event now (one query), so the file holds
    exactly the rows its audit event states, without the download's own event or later ones.
    The rows are read when the response streams them (after the commit).
    """
    session = ctx.session
    matching = _query(f).subquery()
    rows, last = session.execute(select(func.count(), func.max(matching.c.seq))).one()
    record_download(ctx, "security-events", _filters(f), rows)
    capped = _query(f).where(AuditEvent.seq <= (last or 0)).order_by(AuditEvent.seq)

    def stream() -> Iterator[AuditEvent]:
        yield from session.scalars(capped.execution_options(yield_per=1000))

    return rows, stream()


def export_access_review(ctx: Context) -> list[ReviewRow]:
    """The access review for the CSV, and the download recorded."""
    rows = access_review(ctx)
    record_download(ctx, "access-review", {}, len(rows))
    return rows


def security_actions(ctx: Context) -> list[str]:
    session = ctx.session
    return list(
        session.scalars(
            select(AuditEvent.action)
            .where(or_(*(AuditEvent.action.startswith(p) for p in SECURITY_PREFIXES)))
            .distinct()
            .order_by(AuditEvent.action)
        )
    )


@dataclass(frozen=True)
class ReviewRow:
    user: User
    role: str
    scope: str
    granted_at: datetime
    granted_by: str


def access_review(ctx: Context) -> list[ReviewRow]:
    """User × role × site × last sign-in, for the periodic access review (one query)."""
    session = ctx.session
    granter = aliased(User)
    rows = session.execute(
        select(User, RoleAssignment, Site, Study, granter.email)
        .join(
            RoleAssignment,
            (RoleAssignment.user_id == User.id)
            & RoleAssignment.revoked_at.is_(None)
            & RoleAssignment.approved_at.is_not(None),  # a request not yet approved opens nothing
            isouter=True,
        )
        .join(Site, Site.id == RoleAssignment.site_id, isouter=True)
        .join(Study, Study.id == RoleAssignment.study_id, isouter=True)
        .join(granter, granter.id == RoleAssignment.granted_by_id, isouter=True)
        .order_by(User.email, RoleAssignment.role)
    ).all()
    out = []
    for user, assignment, site, study, granted_by in rows:
        if assignment is None:
            out.append(ReviewRow(user, "", "", user.created_at, ""))
            continue
        scope = site.code if site else (study.slug if study else "*")
        out.append(
            ReviewRow(user, assignment.role, scope, assignment.granted_at, granted_by or "cli")
        )
    return out


ALERT_ACTIONS = ("auth.lockout", "auth.totp_replay", "auth.throttled")


def alerts_since(ctx: Context, since: datetime) -> int:
    """Lockouts, throttled sign-ins and replayed codes: what the security contact is shown."""
    session = ctx.session
    return (
        session.scalar(
            select(func.count()).where(AuditEvent.action.in_(ALERT_ACTIONS), AuditEvent.at >= since)
        )
        or 0
    )
