"""What the subject page says of consent: the consent in force with its options as they stand
now (withdrawals applied), every consent the subject had, and every withdrawal — read in a
fixed number of statements, for a reader who may see the subject."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from edc.access import Permission
from edc.context import Context
from edc.models.consent import ConsentScope, ConsentWithdrawal
from edc.models.subjects import Subject
from edc.services import consent_scope


@dataclass(frozen=True)
class ConsentPanel:
    #: The latest consent not ended (it may have stopped counting: `lapsed`), or None.
    current: ConsentScope | None
    #: Its optional items now: granted at signature and not withdrawn since.
    options: dict[str, bool]
    #: Whether its last valid day is past (a new consent is needed).
    lapsed: bool
    #: Every consent the subject had, newest first (the current one included).
    history: list[ConsentScope]
    #: Every withdrawal, newest first.
    withdrawals: list[ConsentWithdrawal]
    #: When each withdrawn option was withdrawn under the current consent.
    withdrawn_on: dict[str, date]
    #: Whether the reader records withdrawals (runs consents at the subject's site).
    may_withdraw: bool


def panel(ctx: Context, subject: Subject) -> ConsentPanel:
    ctx.require(Permission.SUBJECT_VIEW, subject.site_id)
    history = list(
        ctx.session.scalars(
            select(ConsentScope)
            .where(ConsentScope.subject_id == subject.id)
            .order_by(ConsentScope.since.desc(), ConsentScope.id.desc())
        )
    )
    withdrawals = list(
        ctx.session.scalars(
            select(ConsentWithdrawal)
            .where(ConsentWithdrawal.subject_id == subject.id)
            .order_by(ConsentWithdrawal.recorded_at.desc(), ConsentWithdrawal.id.desc())
        )
    )
    current = next((s for s in history if s.ended_at is None), None)
    return ConsentPanel(
        current=current,
        options=_options_now(current, withdrawals),
        lapsed=current is not None and consent_scope.lapsed(ctx, subject, current),
        history=history,
        withdrawals=withdrawals,
        withdrawn_on=_withdrawn_on(current, withdrawals),
        may_withdraw=ctx.holds(Permission.CONSENT_RUN, subject.site_id),
    )


def _under(current: ConsentScope | None, rows: list[ConsentWithdrawal]) -> list[ConsentWithdrawal]:
    """The withdrawals that count now: those made under the current consent (or while none
    was in force)."""
    scope_id = current.id if current is not None else None
    return [w for w in rows if w.scope_id == scope_id]


def _options_now(current: ConsentScope | None, rows: list[ConsentWithdrawal]) -> dict[str, bool]:
    if current is None:
        return {}
    gone = {consent_scope.stop_name(w.stops, w.option) for w in _under(current, rows)}
    return consent_scope.granted_now(current.options, gone)


def _withdrawn_on(current: ConsentScope | None, rows: list[ConsentWithdrawal]) -> dict[str, date]:
    under = _under(current, rows)
    every = [w.withdrawn_on for w in under if w.stops == consent_scope.STOP_ALL]
    found = {w.option: w.withdrawn_on for w in under if w.stops == consent_scope.STOP_OPTION}
    if every and current is not None:
        return {item: min(found.get(item, every[0]), every[0]) for item in current.options}
    return found
