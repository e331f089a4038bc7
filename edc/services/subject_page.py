"""What the subject page shows to its reader: the casebook grid, decision support in plain
words, the status and its history, and what the reader may do there — one call for the view.

Decisions resting on identifier items are masked for readers who may not see those items; for
site staff, showing them is an identity read and is audited like one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from edc import access, decision_text
from edc.access import Permission
from edc.context import Context
from edc.models.monitoring import DataLock
from edc.models.subjects import Subject
from edc.services import (
    casebook,
    consent_history,
    data_entry,
    identifiers,
    locks,
    subject_status,
    subjects,
)
from edc.services.casebook import DecisionView, EventRow


@dataclass(frozen=True)
class SubjectPage:
    may_read_identity: bool
    casebook: list[EventRow]
    decisions: list[tuple[DecisionView, decision_text.DecisionText]]
    may_enter: bool
    status_history: list[subject_status.StatusChange]
    registered_on: dt.date
    may_change_status: bool
    #: Consent: the one in force with its options now, the history and the withdrawals.
    consent: consent_history.ConsentPanel
    #: The lock covering the whole subject (theirs, their site's or the study's), or None.
    lock: DataLock | None = None
    #: Whether the reader locks data (a data manager of the study).
    may_lock: bool = False


def subject_page(ctx: Context, subject: Subject) -> SubjectPage:
    """The page of a subject the actor found (`subjects.find`): every read scoped to them."""
    may_read_identity = subjects.may_read_identity(ctx, subject)
    decisions = casebook.decision_support(ctx, subject, masked=not may_read_identity)
    if may_read_identity:  # a decision resting on identifier items tells them: audited alike
        for view in decisions:
            identifiers.record_read(
                ctx, subject, "decision support", view.form_id, list(view.identifier_items)
            )
    may_change = subject_status.may_change_status(ctx, subject)
    return SubjectPage(
        may_read_identity=may_read_identity,
        casebook=casebook.casebook(ctx, subject),
        decisions=[(v, decision_text.of_view(v, ctx.language)) for v in decisions],
        may_enter=data_entry.may_enter(ctx, subject),
        status_history=subject_status.status_history(ctx, subject),
        registered_on=subjects.site_today(subject.site, subject.registered_at),
        may_change_status=may_change and bool(subject_status.next_statuses(subject)),
        consent=consent_history.panel(ctx, subject),
        lock=locks.covering(ctx, subject, None, ""),
        may_lock=access.holds_study(ctx.grants, Permission.DATA_LOCK, subject.study_id),
    )
