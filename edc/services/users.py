"""Administration of staff accounts and role assignments; every change is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from edc import access, audit, passwords
from edc.access import ROLE_SCOPE, Role, Scope
from edc.context import Context
from edc.errors import Invalid, NotFound
from edc.i18n import _
from edc.models.studies import Site, Study
from edc.models.users import RecoveryCode, RoleAssignment, User
from edc.services import auth, links, notify, role_approval
from edc.settings import Settings


class UserAdminError(Invalid):
    """A refused administrative change, with a message for the administrator."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class RoleScope:
    """Where a role applies: a site, a whole study, or the system."""

    role: Role
    site_id: int | None = None
    study_id: int | None = None


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(
    ctx: Context,
    *,
    email: str,
    full_name: str,
    identity_check: str,
    ends_at: datetime | None,
    now: datetime,
) -> tuple[User, links.Issued]:
    """A new personal account whose owner alone sets its password, from an invitation link
    mailed to them (see edc/services/links.py): no administrator ever knows a working secret."""
    settings = ctx.config
    session, actor = ctx.session, ctx.actor
    email = normalise_email(email)
    if session.scalar(select(func.count()).select_from(User).where(User.email == email)):
        raise UserAdminError(_("An account with this e-mail address already exists."))
    if not identity_check.strip():
        raise UserAdminError(_("Record how the person's identity was checked."))
    user = User(
        email=email,
        full_name=full_name.strip(),
        password_hash=passwords.hash_password(passwords.unusable_secret()),
        must_change_password=True,
        activation_expires_at=now + settings.activation_lifetime,
        identity_check=identity_check.strip(),
        ends_at=ends_at,
        created_at=now,
        created_by_id=actor.user_id,
        is_active=True,
    )
    session.add(user)
    audit.record(
        session,
        actor,
        "user.created",
        target=user,
        new={
            "email": email,
            "full_name": user.full_name,
            "identity_check": user.identity_check,
            "ends_at": ends_at,
        },
    )
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent creation won the race
        raise UserAdminError(_("An account with this e-mail address already exists.")) from exc
    return user, links.issue(ctx, user, links.INVITATION, now)


def _check_scope(session: Session, scope: RoleScope) -> tuple[Site | None, Study | None]:
    kind = ROLE_SCOPE[scope.role]
    site = session.get(Site, scope.site_id) if scope.site_id is not None else None
    study = session.get(Study, scope.study_id) if scope.study_id is not None else None
    if kind is Scope.SITE and (site is None or study is not None):
        raise UserAdminError(_("This role is given for one site: choose the site."))
    if kind is Scope.STUDY and (study is None or site is not None):
        raise UserAdminError(_("This role is given for a whole study: choose the study."))
    if kind is Scope.SYSTEM and (site is not None or study is not None):
        raise UserAdminError(_("This role applies to the whole system: choose no site or study."))
    return site, study


def assign_role(ctx: Context, user: User, scope: RoleScope, now: datetime) -> RoleAssignment:
    """Grant a role; an administrator cannot change their own roles (segregation of duties).

    A clinical role is only requested here: it grants nothing until approved (role_approval)."""
    session, actor = ctx.session, ctx.actor
    if actor.user_id == user.id:
        raise UserAdminError(_("You cannot change your own roles. Ask another administrator."))
    site, study = _check_scope(session, scope)
    duplicate = session.scalar(
        select(RoleAssignment).where(
            RoleAssignment.user_id == user.id,
            RoleAssignment.role == scope.role.value,
            RoleAssignment.site_id.is_(scope.site_id)
            if scope.site_id is None
            else RoleAssignment.site_id == scope.site_id,
            RoleAssignment.study_id.is_(scope.study_id)
            if scope.study_id is None
            else RoleAssignment.study_id == scope.study_id,
            RoleAssignment.revoked_at.is_(None),
        )
    )
    if duplicate is not None:
        raise UserAdminError(_("The user already has this role here."))
    assignment = RoleAssignment(
        user_id=user.id,
        role=scope.role.value,
        site_id=scope.site_id,
        study_id=scope.study_id,
        granted_at=now,
        granted_by_id=actor.user_id,
        approved_at=None if role_approval.needs_approval(scope.role) else now,
    )
    session.add(assignment)
    audit.record(  # the event's role is the granting administrator's; the granted one is in `new`
        session,
        actor,
        "role.granted",
        target=assignment,
        site_code=access.scope_name(site, study),
        new={
            "user_id": user.id,
            "email": user.email,
            "role": scope.role.value,
            "site": site.code if site else None,
            "study": study.slug if study else None,
            "pending_approval": assignment.approved_at is None,
        },
    )
    session.flush()
    if assignment.approved_at is not None:  # a pending role is told when it is approved
        where = access.scope_name(site, study)
        notify.role_changed(ctx, user, scope.role.value, where, granted=True)
    return assignment


def revoke_role(ctx: Context, assignment: RoleAssignment, reason: str, now: datetime) -> None:
    session, actor = ctx.session, ctx.actor
    if actor.user_id == assignment.user_id:
        raise UserAdminError(_("You cannot change your own roles. Ask another administrator."))
    if assignment.revoked_at is not None:
        return
    site_code = access.scope_name(assignment.site, assignment.study)
    assignment.revoked_at = now
    assignment.revoked_by_id = actor.user_id
    audit.record(  # the event's role is the revoking administrator's; the revoked one in `old`
        session,
        actor,
        "role.revoked",
        target=assignment,
        site_code=site_code,
        old={
            "user_id": assignment.user_id,
            "role": assignment.role,
            "site": assignment.site.code if assignment.site else None,
            "study": assignment.study.slug if assignment.study else None,
        },
        reason=reason,
    )
    session.flush()
    notify.role_changed(ctx, assignment.user, assignment.role, site_code, granted=False)


def set_active(ctx: Context, user: User, active: bool, reason: str, now: datetime) -> None:
    """Deactivate (ending every session at once) or reactivate an account."""
    session, actor = ctx.session, ctx.actor
    if actor.user_id == user.id:
        raise UserAdminError(_("You cannot deactivate your own account."))
    if not reason.strip():
        raise UserAdminError(_("Give a reason."))
    if user.is_active == active:
        return
    user.is_active = active
    audit.record(
        session,
        actor,
        "user.activated" if active else "user.deactivated",
        target=user,
        item_path="is_active",
        old=not active,
        new=active,
        reason=reason,
    )
    if not active:
        auth.end_all_sessions(ctx, user, "deactivated", now)
    session.flush()


def set_locale(ctx: Context, user: User, locale: str) -> None:
    """Remember the language a user chose, so it follows them to other devices."""
    session, actor = ctx.session, ctx.actor
    if user.locale == locale:
        return
    old = user.locale
    user.locale = locale
    audit.record(
        session, actor, "user.preference", target=user, item_path="locale", old=old, new=locale
    )


def account_zone(settings: Settings) -> ZoneInfo:
    """The one zone in which account end dates are days (settings: EDC_ACCOUNT_TIMEZONE)."""
    return ZoneInfo(settings.account_timezone)


def end_of_day(day: date, settings: Settings) -> datetime:
    """The UTC instant `day` ends in the accounts' zone: an account ending on 31 March works all
    of 31 March there, whether it was set on the admin page or with `flask users create --ends`.
    Sign-in is refused from this instant on (`User.may_log_in`)."""
    midnight_after = datetime.combine(
        day + timedelta(days=1), time(), tzinfo=account_zone(settings)
    )
    return midnight_after.astimezone(UTC)


def end_day(ends_at: datetime | None, settings: Settings) -> date | None:
    """The last day an account works, in the accounts' zone (the day `end_of_day` was given)."""
    if ends_at is None:
        return None
    return (ends_at.astimezone(account_zone(settings)) - timedelta(microseconds=1)).date()


def set_end_date(ctx: Context, user: User, ends_at: datetime | None, reason: str) -> None:
    session, actor = ctx.session, ctx.actor
    old = user.ends_at
    user.ends_at = ends_at
    audit.record(
        session,
        actor,
        "user.end_date",
        target=user,
        item_path="ends_at",
        old=old,
        new=ends_at,
        reason=reason,
    )
    session.flush()


def reset_second_factor(ctx: Context, user: User, reason: str, now: datetime) -> links.Issued:
    """Revoke a lost or compromised authenticator: the user enrols a new one only through the
    link mailed to them (their password alone is not enough)."""
    session, actor = ctx.session, ctx.actor
    if not reason.strip():
        raise UserAdminError(_("Give a reason."))
    user.totp_secret = None
    user.totp_last_step = 0
    audit.record(session, actor, "auth.totp_revoked", target=user, reason=reason)
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    auth.end_all_sessions(ctx, user, "factor reset", now)
    session.flush()
    return links.issue(ctx, user, links.ENROL, now, reason=reason)


def reset_password(ctx: Context, user: User, reason: str, now: datetime) -> links.Issued:
    """The old password stops working and a reset link goes to the user, who alone chooses the
    new one; the second factor is still asked at sign-in."""
    session, actor = ctx.session, ctx.actor
    if not reason.strip():
        raise UserAdminError(_("Give a reason."))
    user.password_hash = passwords.hash_password(passwords.unusable_secret())
    user.must_change_password = True
    user.activation_expires_at = None
    audit.record(session, actor, "auth.password_reset", target=user, reason=reason)
    auth.end_all_sessions(ctx, user, "password reset", now)
    session.flush()
    return links.issue(ctx, user, links.RESET, now, reason=reason)


def user(ctx: Context, user_id: int) -> User:
    """The account with this id (`NotFound` if none)."""
    found = ctx.session.get(User, user_id)
    if found is None:
        raise NotFound()
    return found


def assignment(ctx: Context, user: User, assignment_id: int) -> RoleAssignment:
    """One of the user's role assignments (`NotFound` if it is not theirs)."""
    found = ctx.session.get(RoleAssignment, assignment_id)
    if found is None or found.user_id != user.id:
        raise NotFound()
    return found


def search(ctx: Context, text: str) -> list[User]:
    """Accounts whose e-mail or name contains `text` (all when empty), with their roles."""
    query = (
        select(User)
        .options(selectinload(User.roles).joinedload(RoleAssignment.site))
        .order_by(User.email)
    )
    if text:
        query = query.where(User.email.contains(text) | User.full_name.ilike(f"%{text}%"))
    return list(ctx.session.scalars(query))


def studies(ctx: Context) -> list[Study]:
    """Every study with its sites: where a role can be given."""
    return list(ctx.session.scalars(select(Study).order_by(Study.slug)))


def assignment_history(ctx: Context, user: User) -> list[RoleAssignment]:
    """Every role the user ever held, live and revoked, for the printable access history."""
    session = ctx.session
    return list(
        session.scalars(
            select(RoleAssignment)
            .where(RoleAssignment.user_id == user.id)
            .order_by(RoleAssignment.granted_at, RoleAssignment.id)
        )
    )
