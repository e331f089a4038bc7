"""The subject's consent scope: which document version, which options, since when. The one
way consent reaches `edc` (DESIGN §2): `econsent` calls `put_in_force` when a consent is
complete, and data entry, enrolment and, later, the registry push read what is in force here.

A study decides in study.yaml (`consent:`) whether CRF entry waits for a consent (forms of
screening such as registration may come before it) and which eligibility item, once true with a
consent in force, enrols the subject."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import contains_eager

import forms_dsl
from edc import audit, dates, lifecycle
from edc.access import Permission
from edc.context import Context
from edc.errors import Conflict
from edc.i18n import _, _l
from edc.models.consent import ConsentScope, ConsentWithdrawal
from edc.models.crf import FormRecord, ItemValue
from edc.models.subjects import Subject
from edc.services import subject_status, subjects
from edc.services.definitions import study_model

#: The optional items a consent document may offer (econsent's vocabulary), as staff read them.
OPTION_LABELS = {
    "registry_transfer": _l("Transfer to the registry"),
    "biobank_storage": _l("Storage of samples in the biobank"),
    "future_research": _l("Use in future research"),
    "genetic_analysis": _l("Genetic analysis"),
    "recontact": _l("Being contacted again"),
}

#: Record statuses whose answers count as given (a draft's eligibility does not enrol).
DONE = frozenset(s.value for s in lifecycle.RecordStatus) - {
    lifecycle.S.NOT_STARTED.value,
    lifecycle.S.IN_PROGRESS.value,
}


@dataclass(frozen=True)
class Granted:
    """A complete consent, as its owner (e-consent, or a paper record) describes it."""

    reference: str
    document: str
    title: str  # as signed, in the signers' language
    version: str
    language: str
    options: Mapping[str, bool]
    since: datetime  # server time the consent became complete
    #: The last day it counts (a minor's consent: until the age of majority and its grace).
    valid_until: date | None = None


#: What may shorten a consent in force before entry is judged, added by packages `edc` does not
#: import (e-consent: a newer version approved for all active subjects asks it again, within a
#: grace). Each may call `limit`; keyed so that an app made twice registers once.
ScopeCheck = Callable[[Context, Subject, ConsentScope], None]
_SCOPE_CHECKS: dict[str, ScopeCheck] = {}


def register_scope_check(key: str, check: ScopeCheck) -> None:
    _SCOPE_CHECKS[key] = check


def in_force(ctx: Context, subject: Subject) -> ConsentScope | None:
    """The consent in force for the subject now, if any (for a reader who may see it): not
    ended, and not past its last valid day at the subject's site."""
    ctx.require(Permission.SUBJECT_VIEW, subject.site_id)
    return standing(ctx, subject)


def lapsed(ctx: Context, subject: Subject, scope: ConsentScope) -> bool:
    """Whether the consent's last valid day is behind the subject's site's today."""
    if scope.valid_until is None:
        return False
    return subjects.site_today(subject.site, ctx.now()) > scope.valid_until


def limit(ctx: Context, subject: Subject, until: date | None, why: str) -> ConsentScope | None:
    """Set the last day the consent in force counts (re-consent after a new version, the age
    of majority), or lift it with None; audited. None when no consent is in force."""
    ctx.require(Permission.CONSENT_RUN, subject.site_id)
    scope = current(ctx, subject)
    if scope is None or scope.valid_until == until:
        return scope
    old = scope.valid_until
    scope.valid_until = until
    audit.record(
        ctx.session, ctx.actor, "consent.scope_limited", target=scope,
        site_code=subject.site.code, old={"valid_until": old and old.isoformat()},
        new={"valid_until": until and until.isoformat(), "why": why},
    )  # fmt: skip
    return scope


def current(ctx: Context, subject: Subject) -> ConsentScope | None:
    """The subject's latest consent not ended (it may be past its last valid day), unchecked:
    for callers that checked access already."""
    return ctx.session.scalar(
        select(ConsentScope)
        .where(ConsentScope.subject_id == subject.id, ConsentScope.ended_at.is_(None))
        .order_by(ConsentScope.since.desc(), ConsentScope.id.desc())
        .limit(1)
    )


def put_in_force(ctx: Context, subject: Subject, granted: Granted) -> ConsentScope:
    """Put a complete consent in force for the subject, ending the one before (superseded),
    then enrol the subject if its eligibility is already confirmed. The actor runs consents at
    the subject's site; the same consent is never recorded twice."""
    ctx.require(Permission.CONSENT_RUN, subject.site_id)
    session, now, site_code = ctx.session, ctx.now(), subject.site.code  # read before writing
    # Consents of one subject take turns (PostgreSQL): never two in force at once.
    session.execute(select(Subject.id).where(Subject.id == subject.id).with_for_update())
    if session.scalar(select(ConsentScope.id).where(ConsentScope.reference == granted.reference)):
        raise Conflict(_("This consent was already recorded."))
    before = current(ctx, subject)
    if before is not None:
        before.ended_at, before.end_reason = granted.since, "superseded"
        audit.record(
            session, ctx.actor, "consent.scope_ended", target=before,
            site_code=site_code, old={"reference": before.reference},
            new={"end_reason": "superseded", "by": granted.reference},
        )  # fmt: skip
    scope = ConsentScope(
        subject_id=subject.id, reference=granted.reference, document=granted.document,
        title=granted.title[:200],
        version=granted.version, language=granted.language,
        options={k: bool(v) for k, v in sorted(granted.options.items())},
        since=granted.since, valid_until=granted.valid_until, recorded_at=now,
        recorded_by_id=ctx.actor.user_id,
    )  # fmt: skip
    session.add(scope)
    audit.record(
        session, ctx.actor, "consent.scope_granted", target=scope, site_code=site_code,
        new={"subject": subject.study_code, "reference": scope.reference,
             "document": scope.document, "version": scope.version, "options": scope.options,
             "valid_until": scope.valid_until and scope.valid_until.isoformat()},
    )  # fmt: skip
    session.flush()
    enrol_if_ready(ctx, subject)
    return scope


def entry_refusal(
    ctx: Context, subject: Subject, study: forms_dsl.Study | None, form_id: str
) -> str:
    """Why data entry into `form_id` waits for a consent ("" when it may go ahead): a
    withdrawal of all further data collection stops every form; a study that waits for
    consent needs one in force and still valid. One statement."""
    scope, collection_stopped = _entry_facts(ctx, subject)
    if scope is not None:
        for check in _SCOPE_CHECKS.values():
            check(ctx, subject, scope)
    if collection_stopped:
        return _("Consent to further data collection was withdrawn: nothing more can be entered.")
    if study is None:
        return ""
    rule = study.consent
    if not rule.required_for_entry or form_id in rule.before_consent:
        return ""
    if scope is None:
        return _("This form opens once the consent is complete: nothing can be entered before it.")
    if lapsed(ctx, subject, scope):
        return _(
            "The consent on file stopped counting on %(day)s: a new consent is needed before "
            "anything more is entered.",
            day=dates.shown(scope.valid_until, ctx.language),
        )
    return ""


def _entry_facts(ctx: Context, subject: Subject) -> tuple[ConsentScope | None, bool]:
    """The subject's latest consent not ended, and whether all further collection was withdrawn
    under it (or, without one, while none was in force), in one statement: every save asks."""
    latest = (
        select(ConsentScope.id)
        .where(ConsentScope.subject_id == subject.id, ConsentScope.ended_at.is_(None))
        .order_by(ConsentScope.since.desc(), ConsentScope.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    stop_all = (
        exists()
        .where(
            ConsentWithdrawal.subject_id == subject.id,
            ConsentWithdrawal.stops == STOP_ALL,
            ConsentWithdrawal.scope_id.is_not_distinct_from(latest),
        )
        .label("stop_all")
    )
    row = ctx.session.execute(
        select(stop_all, ConsentScope)
        .select_from(Subject)
        .outerjoin(ConsentScope, ConsentScope.id == latest)
        .where(Subject.id == subject.id)
    ).one()
    return row[1], bool(row[0])


def enrol_if_ready(ctx: Context, subject: Subject) -> bool:
    """Enrol a registered subject once a consent is in force and the study's eligibility item
    is true in a completed form; True if it did. Nothing happens without an eligibility item."""
    study = _study(ctx, subject)
    if study is None or study.consent.eligibility is None:
        return False
    if subject.status != subject_status.REGISTERED or current(ctx, subject) is None:
        return False
    form_id, field_id = study.consent.eligibility
    eligible = ctx.session.scalar(
        select(ItemValue.value)
        .join(FormRecord, FormRecord.id == ItemValue.record_id)
        .where(
            FormRecord.subject_id == subject.id,
            FormRecord.form_id == form_id,
            FormRecord.status.in_(DONE),
            ItemValue.path == field_id,
        )
        .limit(1)
    )
    if eligible is not True:
        return False
    subject_status.change_status(
        ctx, subject, subject_status.ENROLLED,
        subjects.site_today(subject.site, ctx.now()),
        _("Consent complete and eligibility confirmed."), ctx.now(),
    )  # fmt: skip
    return True


def _study(ctx: Context, subject: Subject) -> forms_dsl.Study | None:
    return study_model(ctx.session, subject.study_id)


#: What a withdrawal stops, as staff record it (DESIGN §3): nothing already collected is deleted.
STOP_TREATMENT, STOP_VISITS, STOP_ALL, STOP_OPTION = (
    "treatment",
    "visits",
    "all_collection",
    "option",
)
STOPS = {
    STOP_TREATMENT: _l("Study treatment"),
    STOP_VISITS: _l("Study visits"),
    STOP_ALL: _l("All further data collection"),
    STOP_OPTION: _l("One optional item"),
}


def stopped(ctx: Context, subject: Subject, scope: ConsentScope | None) -> set[str]:
    """What withdrawals under this consent (None: made while none was in force, e.g. before
    a paper consent was recorded) stop: the scopes, and `option:<item>` for items."""
    under = (
        ConsentWithdrawal.scope_id.is_(None)
        if scope is None
        else ConsentWithdrawal.scope_id == scope.id
    )
    rows = ctx.session.execute(
        select(ConsentWithdrawal.stops, ConsentWithdrawal.option).where(
            ConsentWithdrawal.subject_id == subject.id, under
        )
    )
    return {stop_name(stops, option) for stops, option in rows}


def stop_name(stops: str, option: str) -> str:
    """How `stopped` names what a withdrawal stops: its scope, or `option:<item>`."""
    return f"{STOP_OPTION}:{option}" if stops == STOP_OPTION else stops


def options_now(ctx: Context, subject: Subject, scope: ConsentScope) -> dict[str, bool]:
    """The consent's optional items as they stand now: granted when signed and not withdrawn
    since (a withdrawal of all further collection withdraws every item)."""
    return granted_now(scope.options, stopped(ctx, subject, scope))


def granted_now(options: Mapping[str, bool], gone: set[str]) -> dict[str, bool]:
    """Options as signed, less what withdrawals (`stopped`'s names) took back."""
    return {
        item: granted and STOP_ALL not in gone and stop_name(STOP_OPTION, item) not in gone
        for item, granted in options.items()
    }


def allows(ctx: Context, subject: Subject, item: str) -> bool:
    """Whether the consent in force now grants an optional item (registry transfer, biobank…):
    what the registry push asks before a subject's data leave the site. The caller checks its
    own access (the push runs as no user)."""
    scope = standing(ctx, subject)
    return scope is not None and options_now(ctx, subject, scope).get(item, False)


def standing(ctx: Context, subject: Subject) -> ConsentScope | None:
    """`in_force` for a caller that checked its own access (the registry worker)."""
    scope = current(ctx, subject)
    return scope if scope is not None and not lapsed(ctx, subject, scope) else None


@dataclass(frozen=True)
class Latest:
    """A subject's consent as an export or the registry reports it: the one in force, else the
    last one they had (ended or lapsed), with its optional items as they stand now."""

    scope: ConsentScope
    in_force: bool
    options: dict[str, bool]  # withdrawals applied
    withdrawn: bool = False  # all further collection withdrawn under it


def latest_by_subject(ctx: Context, subject_ids: Sequence[int]) -> dict[int, Latest]:
    """Each subject's consent in force, else their last one, read in two statements whatever
    the number of subjects. The caller checks its own access."""
    if not subject_ids:
        return {}
    rows = ctx.session.execute(
        select(ConsentScope, Subject)
        .join(Subject, Subject.id == ConsentScope.subject_id)
        .join(Subject.site)
        .options(contains_eager(Subject.site))  # each site's today, without a query each
        .where(ConsentScope.subject_id.in_(sorted(set(subject_ids))))
        .order_by(ConsentScope.since, ConsentScope.id)  # a later row wins below
    ).all()
    chosen: dict[int, tuple[ConsentScope, bool]] = {}  # subject → (consent, in force)
    for scope, subject in rows:  # oldest first: the last one in force wins, else the last one
        live = scope.ended_at is None and not lapsed(ctx, subject, scope)
        kept = chosen.get(subject.id)
        if live or kept is None or not kept[1]:
            chosen[subject.id] = (scope, live)
    gone: dict[int, set[str]] = {}
    withdrawals = ctx.session.execute(
        select(ConsentWithdrawal.scope_id, ConsentWithdrawal.stops, ConsentWithdrawal.option).where(
            ConsentWithdrawal.scope_id.in_(sorted(s.id for s, _live in chosen.values()))
        )
    )
    for scope_id, stops, option in withdrawals:
        gone.setdefault(scope_id, set()).add(stop_name(stops, option))
    return {
        subject_id: Latest(
            scope,
            live,
            granted_now(scope.options, gone.get(scope.id, set())),
            STOP_ALL in gone.get(scope.id, set()),
        )
        for subject_id, (scope, live) in chosen.items()
    }


def subjects_allowing(ctx: Context, study_id: int, item: str) -> set[int]:
    """The ids of the study's subjects whose consent in force now grants `item` (registry
    transfer, biobank…), withdrawals applied: what an export or the registry push keeps, read
    in two statements whatever the number of subjects. The caller checks its own access."""
    scopes = ctx.session.execute(
        select(ConsentScope, Subject)
        .join(Subject, Subject.id == ConsentScope.subject_id)
        .join(Subject.site)
        .options(contains_eager(Subject.site))  # each site's today, without a query each
        .where(Subject.study_id == study_id, ConsentScope.ended_at.is_(None))
        .order_by(ConsentScope.since, ConsentScope.id)  # a later row wins below
    ).all()
    current = {subject.id: (scope, subject) for scope, subject in scopes}
    gone: dict[int | None, set[str]] = {}
    rows = ctx.session.execute(
        select(ConsentWithdrawal.scope_id, ConsentWithdrawal.stops, ConsentWithdrawal.option)
        .join(Subject, Subject.id == ConsentWithdrawal.subject_id)
        .where(Subject.study_id == study_id, ConsentWithdrawal.scope_id.is_not(None))
    )
    for scope_id, stops, option in rows:
        gone.setdefault(scope_id, set()).add(stop_name(stops, option))
    return {
        subject_id
        for subject_id, (scope, subject) in current.items()
        if not lapsed(ctx, subject, scope)
        and granted_now(scope.options, gone.get(scope.id, set())).get(item, False)
    }
