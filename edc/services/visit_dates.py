"""Visit dates of repeating events: set where the study asks for one, corrected with a reason.

"Add another" asks for the date of each new visit; the first visit opens with its first save and
has none until someone sets it here, and any date can be corrected here. Like any answer, a
date that was set is changed only with a reason, and the trail keeps the old one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

import forms_dsl
from edc import audit
from edc.access import Permission
from edc.context import Context
from edc.errors import NotFound
from edc.i18n import _
from edc.models.crf import EventOccurrence
from edc.models.subjects import Subject
from edc.services.casebook import OccurrenceError, repeating_event
from edc.services.data_entry import entry_role


class ReasonNeeded(OccurrenceError):
    """A visit date already recorded changes only with a reason."""


@dataclass(frozen=True)
class DatedVisit:
    """A visit whose date may be set: its event, number, current date and the site's today."""

    event: forms_dsl.Event
    number: int
    visit_date: date | None
    today: date


def dated_visit(
    ctx: Context, subject: Subject, event_id: str, number: int, now: datetime
) -> DatedVisit:
    """The visit, for the person who may date it; NotFound when there is no such visit of a
    dated event (a removed one, a number never added) or the actor may not enter data there."""
    ctx.require(Permission.DATA_ENTER, subject.site_id)
    event = _dated_event(ctx, subject, event_id)
    occurrence = _occurrence(ctx.session, subject, event_id, number)
    if occurrence is None and number != 1:  # the first opens with its first save
        raise NotFound()
    current = occurrence.visit_date if occurrence is not None else None
    return DatedVisit(event, number, current, subject.site.local_time(now).date())


def set_visit_date(
    ctx: Context,
    subject: Subject,
    event_id: str,
    number: int,
    visit_date: date | None,
    reason: str,
    now: datetime,
) -> bool:
    """Set or correct a visit's date (not after the site's today); a date already set changes
    only with a reason. True if anything was written."""
    session, actor = ctx.session, ctx.actor
    visit = dated_visit(ctx, subject, event_id, number, now)
    reason = reason.strip()[:500]
    if visit_date is None:
        raise OccurrenceError(_("Enter the visit date."))
    if visit_date > visit.today:
        raise OccurrenceError(_("The visit date cannot be in the future."))
    if visit_date == visit.visit_date:
        return False
    if visit.visit_date is not None and not reason:
        raise ReasonNeeded(_("Give a reason for changing the visit date."))
    role = entry_role(ctx.grants, subject)
    site = subject.site.code
    occurrence = _occurrence(session, subject, event_id, number, lock=True)
    if occurrence is None:  # the first visit, before any of its forms was saved
        occurrence = EventOccurrence(
            subject_id=subject.id, event_id=event_id, number=number, created_at=now,
            created_by_id=actor.user_id,
        )  # fmt: skip
        session.add(occurrence)
        audit.record(
            session, actor, "event.opened", target=occurrence, role=role, site_code=site,
            new={"subject": subject.study_code, "event": event_id, "number": number},
        )  # fmt: skip
    old = occurrence.visit_date
    occurrence.visit_date = visit_date
    audit.record(
        session, actor, "event.dated", target=occurrence, role=role, site_code=site,
        old={"visit_date": old}, new={"visit_date": visit_date, "event": event_id,
                                      "number": number, "subject": subject.study_code},
        reason=reason,
    )  # fmt: skip
    session.flush()
    return True


def _dated_event(ctx: Context, subject: Subject, event_id: str) -> forms_dsl.Event:
    event = repeating_event(ctx, subject, event_id)  # only repeating events are dated (E609)
    if not event.visit_date:
        raise NotFound()
    return event


def _occurrence(
    session: Session, subject: Subject, event_id: str, number: int, *, lock: bool = False
) -> EventOccurrence | None:
    query = select(EventOccurrence).where(
        EventOccurrence.subject_id == subject.id,
        EventOccurrence.event_id == event_id,
        EventOccurrence.number == number,
        EventOccurrence.removed_at.is_(None),
    )
    return session.scalar(query.with_for_update() if lock else query)
