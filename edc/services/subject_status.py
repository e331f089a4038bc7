"""A subject's status in the study: registered → screening failed | enrolled → withdrawn | lost
to follow-up | deceased | completed. Each change has a date on the site's own calendar and a
reason, is audited and kept in the subject's history; no change deletes any data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from edc import audit
from edc.access import Permission
from edc.context import Context
from edc.i18n import _, _l, day_text
from edc.models.subjects import Subject, SubjectStatusChange
from edc.models.users import User
from edc.services.subjects import SubjectError, acting_role, site_today

REGISTERED = "registered"
SCREENING_FAILED = "screening_failed"
ENROLLED = "enrolled"
WITHDRAWN = "withdrawn"
LOST_TO_FOLLOW_UP = "lost_to_follow_up"
DECEASED = "deceased"
COMPLETED = "completed"

#: The only changes allowed; a status absent from the keys is final.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    REGISTERED: (SCREENING_FAILED, ENROLLED),
    ENROLLED: (WITHDRAWN, LOST_TO_FOLLOW_UP, DECEASED, COMPLETED),
}
LABELS = {
    REGISTERED: _l("Registered, not yet enrolled"),
    SCREENING_FAILED: _l("Screening failed"),
    ENROLLED: _l("Enrolled"),
    WITHDRAWN: _l("Withdrawn"),
    LOST_TO_FOLLOW_UP: _l("Lost to follow-up"),
    DECEASED: _l("Deceased"),
    COMPLETED: _l("Completed"),
}
REASON_MAX = 500


class StatusRefused(SubjectError):
    """A refused status change; `field` names the input the message belongs to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class StatusChange:
    """One change as the subject page shows it."""

    old_status: str
    new_status: str
    status_date: dt.date
    reason: str
    changed_at: datetime
    by: str


def next_statuses(subject: Subject) -> tuple[str, ...]:
    """The statuses the subject may move to from where it stands (none once final)."""
    return TRANSITIONS.get(subject.status, ())


def may_change_status(ctx: Context, subject: Subject) -> bool:
    """Site staff who enter data (nurses, investigators) at the subject's site."""
    return ctx.holds(Permission.DATA_ENTER, subject.site_id)


def change_status(
    ctx: Context,
    subject: Subject,
    new_status: str,
    on: dt.date | None,
    reason: str,
    now: datetime,
) -> SubjectStatusChange:
    """Move the subject to `new_status` as of `on` (the site's date), with a reason.

    Refused unless the change is allowed from the current status, the date is neither in the
    site's future nor before the registration or the current status, and a reason is given.
    """
    ctx.require(Permission.DATA_ENTER, subject.site_id)
    session, actor = ctx.session, ctx.actor
    # Lock the row (PostgreSQL) and read the status afresh: two changes at once take turns.
    session.refresh(subject, ["status", "status_date"], with_for_update=True)
    old = subject.status
    if new_status not in next_statuses(subject):
        raise StatusRefused(
            "status",
            _("A subject whose status is “%(status)s” cannot move to this status.",
              status=LABELS.get(old, old)),
        )  # fmt: skip
    _check_date(subject, on, now)
    reason = _checked_reason(reason)
    assert on is not None
    change = SubjectStatusChange(
        subject_id=subject.id, old_status=old, new_status=new_status, status_date=on,
        reason=reason, changed_at=now, changed_by_id=actor.user_id,
    )  # fmt: skip
    session.add(change)
    audit.record(session, actor, "subject.status_recorded", target=change)
    subject.status = new_status
    subject.status_date = on
    subject.status_reason = reason
    subject.status_changed_at = now
    subject.status_changed_by_id = actor.user_id
    audit.record(
        session,
        actor,
        "subject.status_changed",
        target=subject,
        entity_type="subject",
        entity_id=subject.study_code,
        item_path="status",
        old={"status": old},
        new={"status": new_status, "date": on},
        reason=reason,
        role=acting_role(ctx, Permission.DATA_ENTER, subject.site_id),
        site_code=subject.site.code,
    )
    session.flush()
    return change


def _check_date(subject: Subject, on: dt.date | None, now: datetime) -> None:
    """Refused unless given, not in the site's future, nor before the registration or the
    current status."""
    today = site_today(subject.site, now)
    registered_on = site_today(subject.site, subject.registered_at)
    if on is None:
        raise StatusRefused("status_date", _("Give the date of the new status."))
    if on > today:
        raise StatusRefused("status_date", _("The date cannot be in the future."))
    if on < registered_on:
        raise StatusRefused(
            "status_date",
            _("The date cannot be before the registration (%(date)s).",
              date=day_text(registered_on)),
        )  # fmt: skip
    if on < subject.status_date:
        raise StatusRefused(
            "status_date",
            _("The date cannot be before the current status began (%(date)s).",
              date=day_text(subject.status_date)),
        )  # fmt: skip


def _checked_reason(reason: str) -> str:
    """The reason as kept; refused when missing or too long."""
    reason = reason.strip()
    if not reason:
        raise StatusRefused("reason", _("Give a reason for the change."))
    if len(reason) > REASON_MAX:
        raise StatusRefused("reason", _("The reason is too long."))
    return reason


def status_history(ctx: Context, subject: Subject) -> list[StatusChange]:
    """Every change of the subject's status, oldest first, with who made it (one query)."""
    ctx.require(Permission.SUBJECT_VIEW, subject.site_id)
    rows = ctx.session.execute(
        select(SubjectStatusChange, User.email)
        .outerjoin(User, User.id == SubjectStatusChange.changed_by_id)
        .where(SubjectStatusChange.subject_id == subject.id)
        .order_by(SubjectStatusChange.changed_at, SubjectStatusChange.id)
    )
    return [
        StatusChange(
            old_status=c.old_status,
            new_status=c.new_status,
            status_date=c.status_date,
            reason=c.reason,
            changed_at=c.changed_at,
            by=email or "",
        )
        for c, email in rows
    ]
