"""A form record's lifecycle, in one place: its statuses, the steps between them, who may take
each, what a change of data resets, what is read-only, and how each status is named.

Today a record is entered (in progress) and marked complete; changing a complete record needs a
reason per change. `verified`, `locked` and `signed` are declared here for source data
verification, locking and signing: they join `TRANSITIONS` (with their permission) when those
steps are built, and every reader of a status (the save, the recalculation after a birth-date
correction, the page, the subject page) already asks this module.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from edc.access import Permission
from edc.i18n import _l


class RecordStatus(enum.StrEnum):
    """DESIGN §3 lifecycle; `verified`, `locked` and `signed` come with monitoring and signing."""

    NOT_STARTED = "not_started"  # no record yet: never stored, shown on the subject page
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    VERIFIED = "verified"
    LOCKED = "locked"
    SIGNED = "signed"


S = RecordStatus


@dataclass(frozen=True)
class Transition:
    """One step a record may take, the permission it needs at the subject's site, and the
    audit action that records it."""

    source: RecordStatus
    target: RecordStatus
    permission: Permission
    action: str


#: Every step a record may take today. Staying where it is (a draft saved again, a complete
#: record corrected) is a step too: it needs the same permission as getting there.
TRANSITIONS: dict[tuple[RecordStatus, RecordStatus], Transition] = {
    (t.source, t.target): t
    for t in (
        Transition(S.NOT_STARTED, S.IN_PROGRESS, Permission.DATA_ENTER, "record.saved"),
        Transition(S.NOT_STARTED, S.COMPLETE, Permission.DATA_ENTER, "record.completed"),
        Transition(S.IN_PROGRESS, S.IN_PROGRESS, Permission.DATA_ENTER, "record.saved"),
        Transition(S.IN_PROGRESS, S.COMPLETE, Permission.DATA_ENTER, "record.completed"),
        Transition(S.COMPLETE, S.COMPLETE, Permission.DATA_ENTER, "record.saved"),
    )
}

#: Nothing changes a record in these states: no save, no recalculation.
READ_ONLY = frozenset({S.LOCKED, S.SIGNED})
#: A change of data in these states needs a reason per changed item (ICH E6 audit trail).
NEEDS_REASONS = frozenset({S.COMPLETE, S.VERIFIED})
#: What a change of data sends a record back to: a verified record is verified no more.
RESETS = {S.VERIFIED: S.COMPLETE}

LABELS = {
    S.NOT_STARTED.value: _l("Not started"),
    S.IN_PROGRESS.value: _l("In progress"),
    S.COMPLETE.value: _l("Complete"),
    S.VERIFIED.value: _l("Verified"),
    S.LOCKED.value: _l("Locked"),
    S.SIGNED.value: _l("Signed"),
}


class Refused(Exception):
    """A step the lifecycle does not have (e.g. completing a locked record)."""


def status_of(stored: str | None) -> RecordStatus:
    """A record's status as stored; no record yet is `not_started`."""
    return RecordStatus(stored) if stored else S.NOT_STARTED


def is_read_only(status: str | None) -> bool:
    """Whether a record in this status may still change (by a person or a recalculation)."""
    return status_of(status) in READ_ONLY


def needs_reasons(status: str | None) -> bool:
    """Whether each change of a record in this status needs a reason."""
    return status_of(status) in NEEDS_REASONS


def after_save(status: str | None, *, complete: bool) -> RecordStatus:
    """The status a save gives: marking complete completes; a save of data otherwise keeps the
    status, or sends it back where `RESETS` says (a record not started is then in progress)."""
    current = status_of(status)
    if complete:
        return S.COMPLETE
    if current is S.NOT_STARTED:
        return S.IN_PROGRESS
    return RESETS.get(current, current)


def transition(status: str | None, target: RecordStatus) -> Transition:
    """The step from `status` to `target`; raises Refused when the lifecycle has none."""
    found = TRANSITIONS.get((status_of(status), target))
    if found is None:
        raise Refused(f"{status_of(status).value} -> {target.value}")
    return found


def label(status: str | None) -> str:
    """A status as a person reads it, in the request's language."""
    return str(LABELS[status_of(status).value])
