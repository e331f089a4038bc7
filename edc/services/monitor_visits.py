"""A monitor's visits to a site, and what changed there since the last one.

A monitor starts a visit when they arrive (on site or remotely) and ends it when they leave.
"Changed since my last visit" lists the items whose value changed after the end of their
previous completed visit: what to look at first this time.

One visit of a monitor at a site is open at a time. Starting takes a row lock on the site
(`SELECT … FOR UPDATE` on PostgreSQL; SQLite transactions hold the write lock from BEGIN
IMMEDIATE), then looks for an open visit in the same transaction: of two parallel starts, the
second waits for the first to commit, then finds its visit and is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, select

from edc import access, audit
from edc.access import Permission
from edc.context import Context
from edc.errors import Conflict, Denied, Invalid, NotFound
from edc.i18n import _
from edc.item_address import RecordItem
from edc.models.audit import AuditEvent
from edc.models.monitoring import MonitorVisit
from edc.models.studies import Site
from edc.services.audit_review import Place, Shelf, item_label, record_places
from edc.services.data_entry import ITEM_ACTIONS

STARTED, ENDED = "monitoring_visit.started", "monitoring_visit.ended"
#: Visits listed on the site's page (the newest).
VISITS_SHOWN = 20


def readable_sites(ctx: Context) -> list[Site]:
    """The sites whose trail the actor reads (`AUDIT_READ`), by code."""
    ids = access.site_ids_for(ctx.grants, Permission.AUDIT_READ)
    if not ids:
        return []
    return list(ctx.session.scalars(select(Site).where(Site.id.in_(ids)).order_by(Site.code)))


def site_by_code(ctx: Context, code: str) -> Site:
    """One of the actor's sites by its code; `NotFound` for any other (or none)."""
    for site in readable_sites(ctx) if len(code) <= 16 else []:
        if site.code == code:
            return site
    raise NotFound()


def may_visit(ctx: Context, site: Site) -> bool:
    """Monitors visit sites: they hold source data verification there."""
    return ctx.holds(Permission.SDV_VERIFY, site.id)


def _user_id(ctx: Context) -> int:
    if ctx.actor.user_id is None:
        raise Denied()
    return ctx.actor.user_id


def open_visit(ctx: Context, site: Site) -> MonitorVisit | None:
    """The actor's visit to the site that has not ended, if any."""
    return ctx.session.scalar(
        select(MonitorVisit).where(
            MonitorVisit.monitor_id == _user_id(ctx),
            MonitorVisit.site_id == site.id,
            MonitorVisit.ended_at.is_(None),
        )
    )


def visits(ctx: Context, site: Site) -> list[MonitorVisit]:
    """The actor's visits to the site, newest first."""
    return list(
        ctx.session.scalars(
            select(MonitorVisit)
            .where(MonitorVisit.monitor_id == _user_id(ctx), MonitorVisit.site_id == site.id)
            .order_by(MonitorVisit.started_at.desc(), MonitorVisit.id.desc())
            .limit(VISITS_SHOWN)
        )
    )


def _lock_site(ctx: Context, site: Site) -> None:
    """Take the site's row lock: starts and ends at one site take turns (see the module)."""
    ctx.session.execute(select(Site.id).where(Site.id == site.id).with_for_update())


def start_visit(ctx: Context, site: Site, remote: bool = False) -> MonitorVisit:
    """Open a visit; `Conflict` if the actor's previous one at the site is still open."""
    ctx.require(Permission.SDV_VERIFY, site.id)
    _lock_site(ctx, site)
    if open_visit(ctx, site) is not None:
        raise Conflict(_("Your visit to this site has already started: end it first."))
    visit = MonitorVisit(
        monitor_id=_user_id(ctx), site_id=site.id, started_at=ctx.now(), remote=remote
    )
    ctx.session.add(visit)
    audit.record(
        ctx.session, ctx.actor, STARTED, target=visit, site_code=site.code,
        role=access.acting_role(ctx.grants, Permission.SDV_VERIFY, site.id),
        new={"started_at": visit.started_at, "remote": remote},
    )  # fmt: skip
    ctx.session.flush()
    return visit


def end_visit(ctx: Context, site: Site) -> MonitorVisit:
    """End the actor's open visit; `Conflict` if none is open."""
    ctx.require(Permission.SDV_VERIFY, site.id)
    _lock_site(ctx, site)
    visit = open_visit(ctx, site)
    if visit is None:
        raise Conflict(_("You have no visit under way at this site."))
    visit.ended_at = ctx.now()
    audit.record(
        ctx.session, ctx.actor, ENDED, target=visit, site_code=site.code,
        role=access.acting_role(ctx.grants, Permission.SDV_VERIFY, site.id),
        old={"started_at": visit.started_at}, new={"ended_at": visit.ended_at},
    )  # fmt: skip
    ctx.session.flush()
    return visit


def last_visit_end(ctx: Context, site: Site) -> datetime | None:
    """When the actor's previous completed visit to the site ended (None: never visited)."""
    return ctx.session.scalar(
        select(func.max(MonitorVisit.ended_at)).where(
            MonitorVisit.monitor_id == _user_id(ctx),
            MonitorVisit.site_id == site.id,
            MonitorVisit.ended_at.is_not(None),
        )
    )


@dataclass(frozen=True)
class ChangedItem:
    """An item changed since the visit: where it is (and the names of its visit, form and
    field in the reader's language), its latest change and how many changes."""

    place: Place
    key: str
    item_label: str
    last_changed_at: datetime
    last_changed_by: str
    changes: int

    @property
    def subject_code(self) -> str:
        return self.place.subject_code

    @property
    def form_id(self) -> str:
        return self.place.form_id


def _latest(ctx: Context, site: Site, since: datetime | None) -> list[tuple[str, str, int, int]]:
    """(record id, item path, changes, seq of the latest) of each item changed at the site."""
    changed = select(
        AuditEvent.entity_id, AuditEvent.item_path, func.count(), func.max(AuditEvent.seq)
    ).where(
        AuditEvent.action.in_(ITEM_ACTIONS),
        AuditEvent.entity_type == "form_record",
        AuditEvent.site_code == site.code,
    )
    if since is not None:
        changed = changed.where(AuditEvent.at > since)
    found = ctx.session.execute(changed.group_by(AuditEvent.entity_id, AuditEvent.item_path))
    return [(r, p, n, s) for r, p, n, s in found.tuples()]


def changed_since_last_visit(ctx: Context, site: Site) -> list[ChangedItem]:
    """Items whose value changed at the site after the actor's previous completed visit ended
    (every changed item, if they never completed one): one line per item, newest change first.

    Four queries whatever the number of items, and one per form version named (for the to-do
    list as for the site's page)."""
    ctx.require(Permission.AUDIT_READ, site.id)
    groups = _latest(ctx, site, last_visit_end(ctx, site))
    record_ids = {int(r) for r, *_rest in groups if r.isdigit()}
    if not record_ids:
        return []
    shelf = Shelf(ctx)
    where = record_places(ctx, shelf, record_ids, site.id)
    latest = ctx.session.execute(
        select(AuditEvent.seq, AuditEvent.at, AuditEvent.actor_email).where(
            AuditEvent.seq.in_([seq for *_rest, seq in groups])
        )
    )
    moments = {seq: (at, email or "") for seq, at, email in latest.tuples()}
    lines: dict[tuple[int, str], ChangedItem] = {}
    for record, path, count, seq in groups:
        place = where.get(int(record)) if record.isdigit() else None
        item = _item(path)
        if place is None or item is None:
            continue  # another study's site with the same code, or not an item's address
        form = shelf.form(site.study_id, item.form_id, item.version)
        line = ChangedItem(
            place, item.item.key, item_label(form, item.item.key, ctx.language),
            *moments[seq], count,
        )  # fmt: skip
        lines[(int(record), line.key)] = _merged(lines.get((int(record), line.key)), line)
    return sorted(lines.values(), key=lambda c: (c.last_changed_at, c.key), reverse=True)


def _item(path: str) -> RecordItem | None:
    try:
        return RecordItem.parse(path)
    except Invalid:
        return None


def _merged(before: ChangedItem | None, line: ChangedItem) -> ChangedItem:
    """One line per item of a record: an item entered with two form versions is one item."""
    if before is None:
        return line
    newest = line if line.last_changed_at >= before.last_changed_at else before
    return replace(newest, changes=before.changes + line.changes)
