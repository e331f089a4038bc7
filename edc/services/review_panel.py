"""The review part of a CRF page, decided for the view: the lock, each answered item's
verification and open queries, the form's queries with their threads, and what the reader may
do (verify, raise, answer, close, lock). One call; a fixed number of queries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select

from edc import access
from edc.access import Permission
from edc.context import Context
from edc.item_address import field_of
from edc.models.monitoring import DataLock, DataQuery, ItemVerification
from edc.models.users import User
from edc.services import identifiers, locks, queries, sdv
from edc.services.entries import Entry


@dataclass(frozen=True)
class ItemReview:
    key: str
    value: object
    masked: bool
    verification: ItemVerification | None
    #: The site's plan asks a monitor to verify it.
    to_verify: bool
    open_queries: int

    @property
    def verified(self) -> bool:
        return self.verification is not None and self.verification.reset_at is None

    @property
    def changed_after_sdv(self) -> bool:
        return self.verification is not None and self.verification.reset_at is not None


@dataclass
class ReviewPanel:
    lock: DataLock | None
    items: list[ItemReview]
    queries: list[DataQuery]
    plan: sdv.Plan
    names: dict[int, str] = field(default_factory=dict)
    may_verify: bool = False
    may_raise: bool = False
    may_answer: bool = False
    may_close: bool = False
    may_lock: bool = False

    @property
    def open_by_item(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for q in self.queries:
            if q.status != queries.Status.CLOSED.value:
                found[q.item_key] = found.get(q.item_key, 0) + 1
        return found

    @property
    def left_to_verify(self) -> int:
        return sum(1 for i in self.items if i.to_verify and not i.verified)


def panel(ctx: Context, entry: Entry) -> ReviewPanel:
    """What the review part of `entry`'s page shows to the actor."""
    subject, record = entry.subject, entry.record
    occurrence_id = entry.occurrence.id if entry.occurrence is not None else None
    lock = locks.covering(ctx, subject, occurrence_id, entry.form.id)
    plan = sdv.plan_of(ctx, subject.site)
    found = queries.for_record(ctx, record)
    done = sdv.verifications(ctx, record)
    hidden = identifiers.hidden_from(ctx, subject, entry.form)
    asked = set(sdv.to_verify(plan, entry, entry.stored))
    open_items: dict[str, int] = {}
    for q in found:
        if q.status != queries.Status.CLOSED.value:
            open_items[q.item_key] = open_items.get(q.item_key, 0) + 1
    items = [
        ItemReview(
            key,
            value,
            field_of(key) in hidden,
            done.get(key),
            key in asked,
            open_items.get(key, 0),
        )
        for key, value in sorted(entry.stored.items())
    ]
    site_id = subject.site_id
    result = ReviewPanel(lock, items, found, plan)
    result.names = _names(ctx, found, done.values(), lock)
    unlocked = lock is None
    result.may_verify = (
        unlocked and record is not None and ctx.holds(Permission.SDV_VERIFY, site_id)
    )
    result.may_raise = record is not None and ctx.holds(Permission.QUERY_RAISE, site_id)
    result.may_answer = ctx.holds(Permission.QUERY_ANSWER, site_id)
    result.may_close = ctx.holds(Permission.QUERY_CLOSE, site_id)
    result.may_lock = record is not None and access.holds_study(
        ctx.grants, Permission.DATA_LOCK, subject.study_id
    )
    return result


def _names(
    ctx: Context,
    found: list[DataQuery],
    done: Iterable[ItemVerification],
    lock: DataLock | None,
) -> dict[int, str]:
    """Who wrote each message, verified each item and placed the lock, by user id (one query)."""
    ids: set[int] = set()
    for q in found:
        ids |= {m.author_id for m in q.messages if m.author_id is not None}
    ids |= {v.verified_by_id for v in done if v.verified_by_id is not None}
    if lock is not None and lock.locked_by_id is not None:
        ids.add(lock.locked_by_id)
    if not ids:
        return {}
    rows = ctx.session.execute(select(User.id, User.full_name).where(User.id.in_(sorted(ids))))
    return {user_id: name for user_id, name in rows}
