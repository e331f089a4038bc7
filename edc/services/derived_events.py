"""How a derived change reads in the audit trail: the value it set and the event that caused it
(a birth-date correction recomputing an age). Apart from `derived` so that the save's history
page can read them without importing the recomputation, which itself saves."""

from __future__ import annotations

from typing import Any

from edc.models.audit import AuditEvent

DERIVED = "item.derived"


def value_of(event: AuditEvent) -> Any:
    """The new value an item event recorded, whether typed (`item.changed`) or derived."""
    if event.action == DERIVED and isinstance(event.new_value, dict):
        return event.new_value.get("value")
    return event.new_value


def cause_of(event: AuditEvent) -> int | None:
    """The seq of the event that caused a derived change (None for changes made by people)."""
    if event.action == DERIVED and isinstance(event.new_value, dict):
        cause = event.new_value.get("cause")
        return int(cause) if cause is not None else None
    return None
