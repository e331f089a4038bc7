"""Saves refused because a changed answer of a complete form had no reason: kept, so they wait.

A nurse who corrects a complete form and is stopped for a missing reason may leave the page (a
phone call, the end of a shift); what she typed is not stored, but the to-do list should remind
her that the form still needs her. The refusal is recorded in the audit trail (a durable event,
kept although the page answers with a refusal) naming the record and the items that needed a
reason, never their values. It stays on her list until the form is saved again, or for
`REMIND_DAYS`. No new table: the trail already is the durable, append-only record of who did what.
"""

from __future__ import annotations

from collections.abc import Iterable

from edc import audit
from edc.context import Context

ACTION = "crf.save_refused"
#: How long a refused save stays on its author's to-do list if the form is not saved again.
REMIND_DAYS = 30


def record(ctx: Context, record_id: int, site_code: str, paths: Iterable[str]) -> None:
    """Note that the actor's save of the record was refused for missing reasons (`paths`)."""
    audit.record(
        ctx.session,
        ctx.actor,
        ACTION,
        entity_type="form_record",
        entity_id=record_id,
        site_code=site_code,
        new={"needs_reason": sorted(paths)[:50]},
        reason="reason for change missing",
        durable=True,  # the page answers with a refusal, which rolls its transaction back
    )
