"""Withdrawals of consent, as staff record them (who, how, when; no reason asked): what they
stop takes effect at once through `consent_scope` (entry, exports and the registry push read it
there); nothing already collected is deleted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from edc import audit
from edc.access import Permission
from edc.context import Context
from edc.errors import Invalid
from edc.i18n import _, _l
from edc.models.consent import ConsentScope, ConsentWithdrawal
from edc.models.subjects import Subject
from edc.registry import outbox
from edc.services import consent_scope, subject_status, subjects
from edc.services.consent_scope import STOP_ALL, STOP_OPTION, STOPS

WITHDRAWN_BY = {
    "patient": _l("The patient"),
    "parent": _l("A parent"),
    "legal_guardian": _l("A legal guardian"),
    "legal_representative": _l("A legal representative"),
}
METHODS = {
    "in_person": _l("In person"),
    "letter": _l("By letter"),
    "phone": _l("By telephone"),
    "email": _l("By e-mail"),
}
NOTE_MAX = 1000


class WithdrawalRefused(Invalid):
    """A withdrawal that cannot be recorded as given; `errors` by form field, for the page."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class Withdrawal:
    """A withdrawal as staff record it: what it stops, who, how and when; no reason needed."""

    stops: str
    withdrawn_by: str
    method: str
    on: date | None  # None: not given (refused with the other problems)
    option: str = ""
    note: str = ""


def withdrawals(ctx: Context, subject: Subject) -> list[ConsentWithdrawal]:
    """Every withdrawal recorded for the subject, oldest first (for a reader who may see it)."""
    ctx.require(Permission.SUBJECT_VIEW, subject.site_id)
    return list(
        ctx.session.scalars(
            select(ConsentWithdrawal)
            .where(ConsentWithdrawal.subject_id == subject.id)
            .order_by(ConsentWithdrawal.recorded_at, ConsentWithdrawal.id)
        )
    )


def options_offered(ctx: Context, subject: Subject) -> list[str]:
    """The optional items of the consent in force that are still granted (what can be withdrawn
    one by one)."""
    ctx.require(Permission.SUBJECT_VIEW, subject.site_id)
    scope = consent_scope.current(ctx, subject)
    if scope is None:
        return []
    return [k for k, v in consent_scope.options_now(ctx, subject, scope).items() if v]


def withdraw(ctx: Context, subject: Subject, withdrawal: Withdrawal) -> ConsentWithdrawal:
    """Record a withdrawal at once, under the consent in force; all further collection moves
    an enrolled subject to withdrawn. Refused (Invalid, by field) when it does not make sense."""
    ctx.require(Permission.CONSENT_RUN, subject.site_id)
    ctx.session.execute(select(Subject.id).where(Subject.id == subject.id).with_for_update())
    scope = consent_scope.current(ctx, subject)
    _check_withdrawal(ctx, subject, scope, withdrawal)
    row = ConsentWithdrawal(
        subject_id=subject.id, scope_id=scope.id if scope else None, stops=withdrawal.stops,
        option=withdrawal.option if withdrawal.stops == STOP_OPTION else "",
        withdrawn_by=withdrawal.withdrawn_by, method=withdrawal.method,
        withdrawn_on=withdrawal.on, note=withdrawal.note.strip()[:NOTE_MAX],
        recorded_at=ctx.now(), recorded_by_id=ctx.actor.user_id,
    )  # fmt: skip
    ctx.session.add(row)
    audit.record(
        ctx.session, ctx.actor, "consent.withdrawn", target=row, site_code=subject.site.code,
        new={"subject": subject.study_code, "stops": row.stops, "option": row.option,
             "withdrawn_by": row.withdrawn_by, "method": row.method,
             "withdrawn_on": row.withdrawn_on.isoformat()},
    )  # fmt: skip
    ctx.session.flush()
    if row.stops == STOP_ALL and subject_status.WITHDRAWN in subject_status.next_statuses(subject):
        subject_status.change_status(
            ctx, subject, subject_status.WITHDRAWN, withdrawal.on,
            _("Consent to further data collection withdrawn."), ctx.now(),
        )  # fmt: skip
    if row.stops == STOP_ALL or (row.stops, row.option) == (STOP_OPTION, outbox.REGISTRY_OPTION):
        outbox.queue_consent(ctx, subject)  # the registry learns of it, then hears nothing more
    return row


def _check_withdrawal(
    ctx: Context, subject: Subject, scope: ConsentScope | None, w: Withdrawal
) -> None:
    errors: dict[str, str] = {}
    if w.stops not in STOPS:
        errors["stops"] = _("Choose what the withdrawal stops.")
    elif w.stops == STOP_OPTION and (scope is None or w.option not in scope.options):
        errors["option"] = _("Choose one of the optional items of the consent in force.")
    if w.withdrawn_by not in WITHDRAWN_BY:
        errors["withdrawn_by"] = _("Choose who withdrew.")
    if w.method not in METHODS:
        errors["method"] = _("Choose how the withdrawal reached the site.")
    if w.on is None:
        errors["on"] = _("Give the date of the withdrawal.")
    elif w.on > subjects.site_today(subject.site, ctx.now()):
        errors["on"] = _("A withdrawal cannot be dated in the future.")
    elif w.on < subject.registered_at.date():
        errors["on"] = _("A withdrawal cannot be dated before the subject's registration.")
    if consent_scope.stop_name(w.stops, w.option) in consent_scope.stopped(ctx, subject, scope):
        errors["stops"] = _("This withdrawal is already recorded.")
    if errors:
        raise WithdrawalRefused(errors)
