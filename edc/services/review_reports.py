"""Review reports on the audit trail: what changed after it was verified or signed, what was
edited out of hours, and how many edits each person made at each site.

They read the same scoped, filtered trail as the audit review page (`audit_review.narrowed`), so
a reader sees in a report only events they could find in the trail.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from edc.access import Permission
from edc.context import Context
from edc.models.audit import AuditEvent
from edc.services.audit_review import (
    Masker,
    Shelf,
    TrailFilter,
    TrailRow,
    narrowed,
    reader_scope,
)
from edc.services.audit_review import trail_rows as _rows


@dataclass(frozen=True)
class OfficeHours:
    """A site's working time on its own wall clock: from `start` (included) to `end` (excluded)
    on `weekdays` (Monday is 0)."""

    start: time
    end: time
    weekdays: frozenset[int]

    def outside(self, local: datetime) -> bool:
        """Whether a moment on the site's clock falls outside working time."""
        return local.weekday() not in self.weekdays or not self.start <= local.time() < self.end


#: Working time at every site, on the site's own clock (`site.timezone`): 07:00 to 20:00,
#: Monday to Friday. An item edit outside it (at night, on a weekend) is not wrong, but it is
#: worth a monitor's look (entry far from the source, a shared account).
OFFICE_HOURS = OfficeHours(start=time(7, 0), end=time(20, 0), weekdays=frozenset(range(5)))
#: Changes that came after review: a verified item or a signed record changed.
AFTER_REVIEW = ("sdv.reset", "signature.invalidated")
#: Edits people make (recomputed items are the portal's, not a person's).
EDITS = ("item.created", "item.changed", "item.deleted")
#: Rows listed per report (the newest); the count says how many there are in all.
REPORT_ROWS = 50
#: People × sites listed in the counts, the busiest first.
COUNT_ROWS = 200
_STREAM = 1000


@dataclass(frozen=True)
class EditCount:
    actor: str
    site_code: str
    edits: int


@dataclass(frozen=True)
class Reports:
    after_review: list[TrailRow]
    after_review_total: int
    out_of_hours: list[TrailRow]
    out_of_hours_total: int
    per_user: list[EditCount]


def _out_of_hours(ctx: Context, found_seqs: list[int]) -> list[AuditEvent]:
    if not found_seqs:
        return []
    return list(
        ctx.session.scalars(
            select(AuditEvent).where(AuditEvent.seq.in_(found_seqs)).order_by(AuditEvent.seq.desc())
        )
    )


def reports(ctx: Context, f: TrailFilter) -> Reports:
    """The three reports for the actor's sites, narrowed by `f` (its event filter aside)."""
    ctx.require(Permission.AUDIT_READ)
    scope = reader_scope(ctx)
    found = narrowed(ctx, scope, replace(f, action=""))
    session, masker = ctx.session, Masker(scope, Shelf(ctx))
    reviewed = found.where(AuditEvent.action.in_(AFTER_REVIEW))
    after_total = session.scalar(select(func.count()).select_from(reviewed.subquery())) or 0
    after = session.scalars(reviewed.order_by(AuditEvent.seq.desc()).limit(REPORT_ROWS))
    edits = found.where(AuditEvent.action.in_(EDITS))
    zones = {site.code: site.zone for site in scope.sites}
    late: list[int] = []
    late_total = 0
    moments = session.execute(
        edits.with_only_columns(AuditEvent.seq, AuditEvent.at, AuditEvent.site_code)
        .order_by(AuditEvent.seq.desc())
        .execution_options(yield_per=_STREAM)
    )
    for seq, at, code in moments.tuples():
        if OFFICE_HOURS.outside(at.astimezone(zones.get(code, ZoneInfo("UTC")))):
            late_total += 1
            if len(late) < REPORT_ROWS:
                late.append(seq)
    counted = edits.subquery()
    per_user = session.execute(
        select(counted.c.actor_email, counted.c.site_code, func.count().label("edits"))
        .group_by(counted.c.actor_email, counted.c.site_code)
        .order_by(func.count().desc(), counted.c.actor_email, counted.c.site_code)
        .limit(COUNT_ROWS)
    )
    return Reports(
        after_review=_rows(ctx, masker, list(after)),
        after_review_total=after_total,
        out_of_hours=_rows(ctx, masker, _out_of_hours(ctx, late)),
        out_of_hours_total=late_total,
        per_user=[EditCount(a or "", s, n) for a, s, n in per_user.tuples()],
    )
