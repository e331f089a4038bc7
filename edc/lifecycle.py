"""A form record's lifecycle, in one place: its statuses, the steps between them, who may take
each, what a change of data resets, what is read-only, and how each status is named.

A record is entered (in progress), marked complete, verified against the source by a monitor
(`verified`, stored on the record); a change sends a verified record back to complete. Locks
and signatures are facts of their own (`edc.models.monitoring`: a lock may cover a whole site, a
signature a whole casebook), so a record's *shown* status combines the three (`shown`): locked
wins, then signed. Every reader of a status (the save, the recalculation after a birth-date
correction, the page, the subject page, the dashboards) asks this module.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from edc.access import Permission
from edc.i18n import _l


class RecordStatus(enum.StrEnum):
    """DESIGN §3 lifecycle. Stored on a record: in progress, complete, verified. Shown only:
    not started (no record), locked and signed (from locks and signatures)."""

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


#: Every step a stored status may take. Staying where it is (a draft saved again, a complete
#: record corrected) is a step too: it needs the same permission as getting there. A change of a
#: verified record sends it back to complete (`RESETS`); verifying it again is the monitor's.
TRANSITIONS: dict[tuple[RecordStatus, RecordStatus], Transition] = {
    (t.source, t.target): t
    for t in (
        Transition(S.NOT_STARTED, S.IN_PROGRESS, Permission.DATA_ENTER, "record.saved"),
        Transition(S.NOT_STARTED, S.COMPLETE, Permission.DATA_ENTER, "record.completed"),
        Transition(S.IN_PROGRESS, S.IN_PROGRESS, Permission.DATA_ENTER, "record.saved"),
        Transition(S.IN_PROGRESS, S.COMPLETE, Permission.DATA_ENTER, "record.completed"),
        Transition(S.COMPLETE, S.COMPLETE, Permission.DATA_ENTER, "record.saved"),
        Transition(S.VERIFIED, S.COMPLETE, Permission.DATA_ENTER, "record.saved"),
        Transition(S.COMPLETE, S.VERIFIED, Permission.SDV_VERIFY, "record.verified"),
        Transition(S.VERIFIED, S.VERIFIED, Permission.SDV_VERIFY, "record.verified"),
    )
}

#: Nothing changes a record in these states: no save, no recalculation. A signed record that is
#: not locked may change: the change invalidates the signature (`edc.services.signing`).
READ_ONLY = frozenset({S.LOCKED})
#: Where source data verification may start: the site says the record is complete.
VERIFIABLE = frozenset({S.COMPLETE, S.VERIFIED})
#: What an investigator may sign: complete data, verified or not, locked or not.
SIGNABLE = frozenset({S.COMPLETE, S.VERIFIED})
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


def is_read_only(status: str | None, *, locked: bool = False) -> bool:
    """Whether a record in this status (under a lock or not) may still change, by a person or a
    recalculation."""
    return locked or status_of(status) in READ_ONLY


def shown(status: str | None, *, locked: bool = False, signed: bool = False) -> RecordStatus:
    """The status people see: a lock first (nothing may change), then a valid signature, then
    the stored status."""
    if locked:
        return S.LOCKED
    if signed:
        return S.SIGNED
    return status_of(status)


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


#: A glyph per shown status, so that no status is told by colour alone (WCAG 1.4.1).
ICONS = {
    S.NOT_STARTED.value: "○",
    S.IN_PROGRESS.value: "◐",
    S.COMPLETE.value: "●",
    S.VERIFIED.value: "✓",
    S.LOCKED.value: "⊠",
    S.SIGNED.value: "✍",
}


def label(status: str | None) -> str:
    """A status as a person reads it, in the request's language."""
    return str(LABELS[status_of(status).value])
