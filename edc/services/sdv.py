"""Source data verification: which items a site's plan asks a monitor to verify, marking them
(one by one or the whole form), and what a later change undoes.

A site's plan verifies all items, the critical ones only (`sdv: true` in the form), or the
critical ones of a random N% of its subjects. Whether a subject is in the sample follows from the
plan's seed and the subject's code alone, so anyone can reproduce it; drawing it again writes a
new plan, with a reason, in the audit trail. Without a plan, every item is verified (100% SDV).
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from sqlalchemy import select

from edc import audit, lifecycle
from edc.access import Permission
from edc.context import Context
from edc.errors import Conflict, Denied, Invalid
from edc.i18n import _, _l
from edc.item_address import ItemAddress, field_of
from edc.lifecycle import RecordStatus
from edc.models.crf import FormRecord, ItemValue
from edc.models.monitoring import ItemVerification, SdvPlan
from edc.models.studies import Site
from edc.models.subjects import Subject
from edc.services import locks
from edc.services.entries import Entry

MAX_REASON = 2000


class Mode(enum.StrEnum):
    ALL = "all"
    CRITICAL = "critical"
    SAMPLE = "sample"


MODE_LABELS = {
    Mode.ALL: _l("All items of every subject"),
    Mode.CRITICAL: _l("Critical items of every subject"),
    Mode.SAMPLE: _l("Critical items of a random sample of subjects"),
}


@dataclass(frozen=True)
class Plan:
    """A site's plan as it applies (the stored one, or the default: everything)."""

    mode: Mode
    percent: int = 100
    seed: str = ""
    stored: SdvPlan | None = None

    def covers(self, subject: Subject) -> bool:
        """Whether the plan verifies anything of this subject."""
        return self.mode is not Mode.SAMPLE or in_sample(
            self.seed, subject.study_code, self.percent
        )


def in_sample(seed: str, study_code: str, percent: int) -> bool:
    """Whether a subject is drawn: the seed and the code decide, nothing else (reproducible)."""
    digest = hashlib.sha256(f"{seed}:{study_code}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100 < percent


def plan_of(ctx: Context, site: Site) -> Plan:
    """The site's plan in force (everything, when none was made)."""
    stored = ctx.session.scalars(
        select(SdvPlan)
        .where(SdvPlan.site_id == site.id, SdvPlan.ended_at.is_(None))
        .order_by(SdvPlan.id.desc())
        .limit(1)
    ).first()
    if stored is None:
        return Plan(Mode.ALL)
    return Plan(Mode(stored.mode), stored.percent, stored.seed, stored)


def set_plan(ctx: Context, site: Site, mode: str, percent: int, reason: str) -> SdvPlan:
    """A new plan for the site (a new draw for a sample), ending the one before; audited."""
    if not ctx.holds(Permission.SDV_PLAN, site.id):
        raise Denied()
    try:
        chosen = Mode(mode)
    except ValueError:
        raise Invalid(_("Choose how the site's data are verified.")) from None
    if chosen is Mode.SAMPLE and not 1 <= percent <= 99:
        raise Invalid(_("A sample holds between 1 and 99 percent of the subjects."))
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise Invalid(
            _("Give the reason for this plan (%(max)d characters at most).", max=MAX_REASON)
        )
    ctx.session.execute(select(Site.id).where(Site.id == site.id).with_for_update()).all()
    before = plan_of(ctx, site)
    now = ctx.now()
    if before.stored is not None:
        before.stored.ended_at = now
    plan = SdvPlan(
        site_id=site.id, mode=chosen.value, percent=percent if chosen is Mode.SAMPLE else 100,
        seed=secrets.token_hex(16) if chosen is Mode.SAMPLE else "", reason=reason,
        made_at=now, made_by_id=ctx.actor.user_id,
    )  # fmt: skip
    ctx.session.add(plan)
    audit.record(
        ctx.session, ctx.actor, "sdv.plan_set", target=plan, site_code=site.code,
        old={"mode": before.mode.value, "percent": before.percent, "seed": before.seed},
        new={"mode": plan.mode, "percent": plan.percent, "seed": plan.seed}, reason=reason,
    )  # fmt: skip
    if before.stored is not None:
        audit.record(
            ctx.session, ctx.actor, "sdv.plan_ended", target=before.stored, site_code=site.code
        )
    ctx.session.flush()
    return plan


def to_verify(plan: Plan, entry: Entry, keys: Iterable[str]) -> list[str]:
    """Which of a record's answered items the plan asks to verify."""
    if not plan.covers(entry.subject):
        return []
    fields = entry.form.fields
    chosen = []
    for key in keys:
        field = fields.get(field_of(key))
        if field is None:
            continue
        if plan.mode is Mode.ALL or field.sdv:
            chosen.append(key)
    return sorted(chosen)


def verifications(ctx: Context, record: FormRecord | None) -> dict[str, ItemVerification]:
    """A record's verifications by item key (reset ones included: "changed after SDV")."""
    if record is None:
        return {}
    ctx.require(Permission.SUBJECT_VIEW, record.subject.site_id)
    rows = ctx.session.scalars(
        select(ItemVerification).where(ItemVerification.record_id == record.id)
    )
    return {row.item_key: row for row in rows}


def verify(
    ctx: Context, entry: Entry, keys: Collection[str] | None, seen_version: int
) -> list[str]:
    """Mark items verified (`keys`; None: every item the plan asks of this form), as the
    monitor saw them at `seen_version`. The record becomes verified once nothing the plan asks
    is left. Returns the keys marked."""
    record, subject = entry.record, entry.subject
    if not ctx.holds(Permission.SDV_VERIFY, subject.site_id):
        raise Denied()
    if record is None or lifecycle.status_of(record.status) not in lifecycle.VERIFIABLE:
        raise Conflict(_("Only a complete form can be verified."))
    locks.hold_subjects(ctx, [subject.id], exclusive=True)  # saves of it wait, or we for them
    occurrence_id = entry.occurrence.id if entry.occurrence is not None else None
    if locks.is_locked(ctx, subject, occurrence_id, record.form_id):
        raise Conflict(_("This form is locked."))
    stored = _held(ctx, record, seen_version)
    plan = plan_of(ctx, subject.site)
    asked = to_verify(plan, entry, stored)
    if keys is None:
        keys = asked if plan.covers(subject) else sorted(stored)
    chosen = _checked_keys(keys, stored)
    done = verifications(ctx, record)
    now = ctx.now()
    marked = []
    for key in chosen:
        row = done.get(key)
        if row is not None and row.reset_at is None and row.value == stored[key]:
            continue
        if row is None:
            row = ItemVerification(record_id=record.id, item_key=key)
            ctx.session.add(row)
            done[key] = row
        row.value, row.verified_at, row.verified_by_id, row.reset_at = (
            stored[key],
            now,
            ctx.actor.user_id,
            None,
        )
        audit.record(
            ctx.session, ctx.actor, "sdv.verified", target=row, site_code=subject.site.code,
            item_path=entry.audit_path(key), new={"value": stored[key]},
        )  # fmt: skip
        marked.append(key)
    if all(k in done and done[k].reset_at is None for k in asked):
        _mark_record(ctx, entry, record)
    ctx.session.flush()
    return marked


def _held(ctx: Context, record: FormRecord, seen_version: int) -> dict[str, object]:
    """The record's stored items, read with the record held: what the monitor saw, or a
    `Conflict` when someone saved since."""
    ctx.session.execute(
        select(FormRecord.id).where(FormRecord.id == record.id).with_for_update()
    ).all()
    ctx.session.refresh(record, ["row_version", "status"])
    if record.row_version != seen_version:
        raise Conflict(
            _("The form changed since you opened it: open it again and verify what is stored now.")
        )
    rows = ctx.session.execute(
        select(ItemValue.path, ItemValue.value).where(ItemValue.record_id == record.id)
    )
    return {path: value for path, value in rows}


def _checked_keys(keys: Collection[str], stored: dict[str, object]) -> list[str]:
    """The keys asked, each an item the record holds (anything else is refused)."""
    if len(keys) > len(stored) + 1:
        raise Invalid()
    chosen = []
    for key in keys:
        ItemAddress.parse(key)
        if key not in stored:
            raise Invalid(_("Only answered items can be verified."))
        chosen.append(key)
    return sorted(set(chosen))


def _mark_record(ctx: Context, entry: Entry, record: FormRecord) -> None:
    if record.status == RecordStatus.VERIFIED.value:
        return
    step = lifecycle.transition(record.status, RecordStatus.VERIFIED)
    old = record.status
    record.status = RecordStatus.VERIFIED.value
    audit.record(
        ctx.session, ctx.actor, step.action, target=record, site_code=entry.subject.site.code,
        old={"status": old}, new={"status": record.status},
    )  # fmt: skip


def reset(
    ctx: Context, entry: Entry, record: FormRecord, keys: Collection[str], reason: str
) -> list[str]:
    """A change of these items undoes their verification ("changed after SDV"); audited per
    item. Called by the save, in its transaction."""
    if not keys:
        return []
    rows = ctx.session.scalars(
        select(ItemVerification).where(
            ItemVerification.record_id == record.id,
            ItemVerification.item_key.in_(list(keys)),
            ItemVerification.reset_at.is_(None),
        )
    )
    now, undone = ctx.now(), []
    for row in rows:
        row.reset_at = now
        audit.record(
            ctx.session, ctx.actor, "sdv.reset", target=row, site_code=entry.subject.site.code,
            item_path=entry.audit_path(row.item_key), old={"value": row.value}, reason=reason,
        )  # fmt: skip
        undone.append(row.item_key)
    return undone
