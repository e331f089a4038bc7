"""Signing in: password, second factor (TOTP or recovery code), enrolment, sessions, throttling."""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from edc import audit, crypto, passwords, totp
from edc.actor import Actor
from edc.context import Context
from edc.i18n import _
from edc.models.audit import AuditEvent
from edc.models.base import rows_changed
from edc.models.notices import Notice
from edc.models.users import RecoveryCode, User, UserSession
from edc.services import notify
from edc.settings import Settings

FAILURES = (
    "auth.login_failed",
    "auth.totp_failed",
    "auth.totp_replay",
    "auth.password_check_failed",  # the current password of a password change
)
RECOVERY_CODES = 10
LAST_SEEN_GRANULARITY = timedelta(seconds=60)
#: The entity of failures on an address that names no account: counted like an account's.
UNKNOWN_ACCOUNT = "unknown_account"

_log = logging.getLogger(__name__)


class LoginRefusedError(Exception):
    """Shown to the person signing in; `status` is 422 for a wrong entry, 429 when throttled."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class Stage(enum.StrEnum):
    """What a half-signed-in person must do next."""

    SECOND_FACTOR = "code"
    NEW_PASSWORD = "password"  # noqa: S105 - a stage name, not a secret
    ENROL = "enrol"
    DONE = "done"


def next_stage(user: User, factor_passed: bool) -> Stage:
    if user.totp_enrolled and not factor_passed:
        return Stage.SECOND_FACTOR
    if user.must_change_password:
        return Stage.NEW_PASSWORD
    if not user.totp_enrolled:
        return Stage.ENROL
    return Stage.DONE


def _as(actor: Actor, user: User | None) -> Actor:
    """During sign-in the person is known by the account they claim: events name it, with the
    role "anonymous" and that account's sites, until the sign-in is complete."""
    if user is None or actor.user is not None:
        return actor
    return actor.claiming(user)


def _signed_in(actor: Actor, user: User) -> Actor:
    """The person who has just completed signing in: from now on events name their roles."""
    if actor.user is not None:
        return actor
    return Actor(user=user, ip=actor.ip, user_agent=actor.user_agent)


def _user_event(session: Session, actor: Actor, action: str, user: User | None, **kw: Any) -> None:
    audit.record(
        session,
        _as(actor, user),
        action,
        entity_type="user_account",
        entity_id=user.id if user is not None else "",
        durable=True,
        **kw,
    )


def _name_key(settings: Settings, email: str) -> str:
    """The typed address, normalised and keyed with the server's secret: enough to count the
    attempts on an address that names no account, and nothing anyone can read back."""
    normal = email.strip().lower().encode()
    mac = hmac.new(settings.secret_key.encode(), b"sign-in name\x00" + normal, hashlib.sha256)
    return mac.hexdigest()[:32]


@dataclass(frozen=True)
class _Attempt:
    """Who is tried (an account, or the key of an address that names none) and from where."""

    user: User | None
    name: str  # _name_key of the typed (or the account's) address
    ip: str

    def entity(self) -> tuple[str, str]:
        if self.user is not None:
            return "user_account", str(self.user.id)
        return UNKNOWN_ACCOUNT, self.name


def _take_turns(session: Session, attempt: _Attempt) -> None:
    """Attempts on one account (or typed address) and from one address take turns, from the
    count of failures to the failure recorded (committed while the turn is held): parallel
    guesses cannot all pass a count that none of them has raised yet.

    PostgreSQL: advisory locks of the transaction, the account's first (always in this order,
    so two attempts never wait for each other). SQLite: every transaction already holds the
    database's write lock from its start (BEGIN IMMEDIATE)."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return
    for key in (f"sign-in name {attempt.name}", f"sign-in address {attempt.ip}"):
        lock = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock})


def _count_failures(
    session: Session, since: datetime, entity: tuple[str, str] | None = None, ip: str | None = None
) -> tuple[int, datetime | None]:
    query = select(func.count(), func.min(AuditEvent.at)).where(
        AuditEvent.action.in_(FAILURES), AuditEvent.at >= since
    )
    if entity is not None:
        query = query.where(AuditEvent.entity_type == entity[0], AuditEvent.entity_id == entity[1])
    if ip is not None:
        query = query.where(AuditEvent.ip == ip)
    count, oldest = session.execute(query).one()
    return count, oldest


def _failure_event(
    session: Session, actor: Actor, action: str, attempt: _Attempt, **kw: Any
) -> None:
    entity_type, entity_id = attempt.entity()
    audit.record(
        session,
        _as(actor, attempt.user),
        action,
        entity_type=entity_type,
        entity_id=entity_id,
        durable=True,
        **kw,
    )


def _throttle(
    session: Session, settings: Settings, actor: Actor, attempt: _Attempt, now: datetime
) -> None:
    """Take this attempt's turn, then refuse while the account (or the typed address) or the
    client's address has too many recent failures. Unknown addresses lock out like accounts,
    with the same answer: a lockout tells nobody whether an account exists."""
    _take_turns(session, attempt)
    since = now - settings.lockout_window
    entity = attempt.entity()
    by_account = _count_failures(session, since, entity=entity)
    by_address = _count_failures(session, since, ip=attempt.ip)
    for threshold, (count, oldest), shown in (
        (settings.lockout_threshold, by_account, {"account": entity[1]}),
        (settings.address_threshold, by_address, {"ip": attempt.ip}),
    ):
        if count >= threshold and oldest is not None:
            wait = max(1, int((oldest + settings.lockout_window - now).total_seconds() // 60) + 1)
            try:
                _failure_event(
                    session, actor, "auth.throttled", attempt, new={"failures": count, **shown}
                )
            except Exception:  # refused all the same: only the trace is lost
                _log.exception("auth.throttled could not be recorded")
                _forget(session)
            raise LoginRefusedError(
                _(
                    "Too many failed attempts. Sign-in is paused for %(minutes)d minutes.",
                    minutes=wait,
                ),
                status=429,
            )


def _forget(session: Session) -> None:
    """After a write failed: the transaction and the events held for the error response go."""
    session.rollback()
    audit.forget_durable(session)


def _refuse(
    session: Session,
    settings: Settings,
    actor: Actor,
    action: str,
    attempt: _Attempt,
    message: str,
    now: datetime,
    **kw: Any,
) -> LoginRefusedError:
    """Record a failed attempt, and the lockout the moment it crosses the threshold (the alert
    for security), committed before this attempt's turn is let go so that the next one counts
    it. Fails closed: if the failure cannot be recorded the attempt is refused all the same
    (logged, never a server error that would skip the count and answer differently)."""
    try:
        _failure_event(session, actor, action, attempt, **kw)
        entity = attempt.entity()
        count, _oldest = _count_failures(session, now - settings.lockout_window, entity)
        if count == settings.lockout_threshold:
            _failure_event(session, actor, "auth.lockout", attempt, new={"failures": count})
        session.commit()
        audit.forget_durable(session)  # stored: the error response must not write them again
    except Exception:  # whatever failed (a stored value, the database): refused all the same
        _log.exception("%s could not be recorded: refused all the same", action)
        _forget(session)
    return LoginRefusedError(message)


def check_password(ctx: Context, email: str, password: str, now: datetime) -> User:
    """First step: the password. Unknown e-mail and wrong password look the same, lock out
    alike, and what was typed for an unknown address is not kept (it may be a password)."""
    settings = ctx.config
    session, actor = ctx.session, ctx.actor
    email = email.strip().lower()
    user = session.scalar(select(User).where(User.email == email))
    attempt = _Attempt(user, _name_key(settings, email), actor.ip)
    _throttle(session, settings, actor, attempt, now)
    wrong = _("Wrong e-mail address or password.")
    if user is None:
        passwords.burn_time(password)
        raise _refuse(
            session, settings, actor, "auth.login_failed", attempt, wrong, now,
            new={"account": "unknown"},
        )  # fmt: skip
    if not passwords.verify(user.password_hash, password):
        raise _refuse(
            session, settings, actor, "auth.login_failed", attempt, wrong, now,
            new={"email": email},
        )  # fmt: skip
    if not user.may_log_in(now):
        _user_event(session, actor, "auth.login_refused", user, reason="account inactive")
        raise LoginRefusedError(_("This account is not active. Contact your study administrator."))
    if user.must_change_password and (
        user.activation_expires_at is None or user.activation_expires_at < now
    ):
        _user_event(session, actor, "auth.login_refused", user, reason="activation expired")
        raise LoginRefusedError(
            _("Your one-time password has expired. Ask your study administrator for a new one.")
        )
    return user


def check_current_password(ctx: Context, user: User, password: str, now: datetime) -> None:
    """The current password asked before a change: a way to guess it like the sign-in, so
    throttled, counted and locked like a sign-in (and the same lockout applies to both)."""
    settings = ctx.config
    session, actor = ctx.session, ctx.actor
    attempt = _Attempt(user, _name_key(settings, user.email), actor.ip)
    _throttle(session, settings, actor, attempt, now)
    if not passwords.verify(user.password_hash, password):
        raise _refuse(
            session, settings, actor, "auth.password_check_failed", attempt,
            _("Your current password is not correct."), now,
        )  # fmt: skip


def _looks_like_recovery_code(code: str) -> bool:
    return "-" in code or any(c.isalpha() for c in code)


def check_second_factor(ctx: Context, user: User, code: str, now: datetime) -> None:
    """Second step: a TOTP code, accepted once, or one of the user's recovery codes."""
    settings = ctx.config
    session, actor = ctx.session, ctx.actor
    attempt = _Attempt(user, _name_key(settings, user.email), actor.ip)
    _throttle(session, settings, actor, attempt, now)
    code = code.strip()
    wrong = _("Wrong code.")
    if _looks_like_recovery_code(code):
        if _use_recovery_code(session, user, code, now):
            _user_event(session, actor, "auth.recovery_code_used", user)
            return
        raise _refuse(
            session, settings, actor, "auth.totp_failed", attempt, wrong, now,
            new={"kind": "recovery"},
        )  # fmt: skip
    outcome = _check_totp(session, user, code, now)
    if outcome is totp.TotpOutcome.OK:
        audit.record(
            session,
            _as(actor, user),
            "auth.totp_accepted",
            target=user,
            new={"step": user.totp_last_step},
        )
        return
    if outcome is totp.TotpOutcome.REPLAY:
        raise _refuse(
            session, settings, actor, "auth.totp_replay", attempt,
            _("This code has already been used. Wait for the next code in your app."), now,
        )  # fmt: skip
    raise _refuse(session, settings, actor, "auth.totp_failed", attempt, wrong, now)


def _check_totp(session: Session, user: User, code: str, now: datetime) -> totp.TotpOutcome:
    """A code is accepted once: its time step is claimed by a conditional update whose row
    count decides, so of parallel requests with the same code (each having read the previous
    step) exactly one moves the step forward; the others see a replay."""
    if user.totp_secret is None:
        return totp.TotpOutcome.WRONG
    outcome, step = totp.check(crypto.decrypt(user.totp_secret), code, now, user.totp_last_step)
    if outcome is not totp.TotpOutcome.OK:
        return outcome
    accounts = cast(Table, User.__table__)  # a declared table: typed as FromClause
    claimed = rows_changed(
        session.execute(
            update(accounts)
            .where(accounts.c.id == user.id, accounts.c.totp_last_step < step)
            .values(totp_last_step=step)
        )
    )
    if not claimed:
        return totp.TotpOutcome.REPLAY
    set_committed_value(user, "totp_last_step", step)
    return outcome


def _hash_recovery(code: str, salt: str) -> str:
    normal = code.replace("-", "").replace(" ", "").lower()
    return salt + "$" + hashlib.sha256((salt + normal).encode()).hexdigest()


def _use_recovery_code(session: Session, user: User, code: str, now: datetime) -> bool:
    codes = session.scalars(
        select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ).all()
    for stored in codes:
        salt = stored.code_hash.split("$", 1)[0]
        if hmac.compare_digest(_hash_recovery(code, salt), stored.code_hash):
            # Used once, also by parallel requests: the row count of the update decides.
            used = rows_changed(
                session.execute(
                    update(RecoveryCode)
                    .where(RecoveryCode.id == stored.id, RecoveryCode.used_at.is_(None))
                    .values(used_at=now)
                    .execution_options(synchronize_session=False)
                )
            )
            if used:
                set_committed_value(stored, "used_at", now)
            return bool(used)
    return False


def new_recovery_codes(ctx: Context, user: User) -> list[str]:
    """Replace the user's recovery codes with ten fresh ones, shown once and stored hashed."""
    session = ctx.session
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    codes = []
    for _n in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(alphabet) for _i in range(10))
        code = f"{raw[:5]}-{raw[5:]}"
        session.add(
            RecoveryCode(user_id=user.id, code_hash=_hash_recovery(code, secrets.token_hex(8)))
        )
        codes.append(code)
    return codes


def confirm_enrolment(ctx: Context, user: User, secret: str, code: str, now: datetime) -> list[str]:
    """Keep the new TOTP seed once the user proves their app shows the right code."""
    session, actor = ctx.session, ctx.actor
    outcome, step = totp.check(secret, code, now, 0)
    if outcome is not totp.TotpOutcome.OK:
        _user_event(session, actor, "auth.totp_enrol_failed", user)
        raise LoginRefusedError(
            _("That code does not match. Check the time on your device and try again.")
        )
    user.totp_secret = crypto.encrypt(secret)
    user.totp_last_step = step
    audit.record(session, _as(actor, user), "auth.totp_enrolled", target=user)
    return new_recovery_codes(ctx, user)


class PasswordRejectedError(Exception):
    """The new password breaks the policy; `problems` says why, one sentence each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def set_password(ctx: Context, user: User, new_password: str) -> None:
    """Replace the password (first sign-in or a change); the policy decides, not the form."""
    session, actor = ctx.session, ctx.actor
    found = passwords.problems(new_password, user.email, user.full_name)
    if found:
        raise PasswordRejectedError(found)
    user.password_hash = passwords.hash_password(new_password)
    user.must_change_password = False
    user.activation_expires_at = None
    audit.record(session, _as(actor, user), "auth.password_changed", target=user)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(ctx: Context, user: User, now: datetime, device: str = "") -> tuple[str, int]:
    """A new server-side session: (token for the cookie, session id). `device` is the browser's
    long-lived device cookie: the owner is mailed when it has not signed in to them before."""
    session, actor = ctx.session, ctx.actor
    token = secrets.token_urlsafe(32)
    device_hash = _token_hash(device) if device else None
    if device_hash is not None and _new_device(session, user, device_hash):
        notify.new_device(ctx, user, now)
    user.last_login_at = now
    audit.record(session, _signed_in(actor, user), "auth.login", target=user)
    us = UserSession(
        token_hash=_token_hash(token),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        ip=actor.ip[:64],
        user_agent=actor.user_agent[:300],
        device_hash=device_hash,
    )
    session.add(us)
    session.flush()
    return token, us.id


def _new_device(session: Session, user: User, device_hash: str) -> bool:
    """A device this account never signed in from, while it has signed in before elsewhere."""
    seen = session.execute(
        select(
            func.count(), func.count(UserSession.id).filter(UserSession.device_hash == device_hash)
        ).where(UserSession.user_id == user.id)
    ).one()
    return seen[0] > 0 and seen[1] == 0


@dataclass(frozen=True)
class Notices:
    """What happened to an account since its previous sign-in, told to its owner."""

    failures: int = 0
    replays: int = 0
    factor_reset: bool = False
    lockouts: int = 0


def notices_since(ctx: Context, user: User, since: datetime | None) -> Notices:
    """Failed attempts, replayed codes and factor resets on the account since `since`."""
    session = ctx.session
    rows = session.execute(
        select(AuditEvent.action, func.count())
        .where(
            AuditEvent.entity_type == "user_account",
            AuditEvent.entity_id == str(user.id),
            AuditEvent.action.in_(
                (*FAILURES, "auth.lockout", "auth.totp_revoked", "auth.password_reset")
            ),
            AuditEvent.at > since if since is not None else AuditEvent.seq > 0,
        )
        .group_by(AuditEvent.action)
    ).all()
    counts: dict[str, int] = {action: n for action, n in rows}
    return Notices(
        failures=counts.get("auth.login_failed", 0) + counts.get("auth.totp_failed", 0),
        replays=counts.get("auth.totp_replay", 0),
        factor_reset=bool(counts.get("auth.totp_revoked") or counts.get("auth.password_reset")),
        lockouts=counts.get("auth.lockout", 0),
    )


@dataclass(frozen=True)
class Resumed:
    user: User | None
    session_id: int | None = None
    ended: str = ""
    unread_notices: int = 0  # read with the session: the page frame shows it on every page


def resume_session(session: Session, settings: Settings, token: str, now: datetime) -> Resumed:
    """The user behind a session token, or why the session no longer counts. Takes no context:
    it runs while the request's user, hence its actor, is being found."""
    unread = (
        select(func.count(Notice.id))
        .where(Notice.user_id == User.id, Notice.read_at.is_(None))
        .correlate(User)
        .scalar_subquery()
    )
    found = session.execute(
        select(UserSession, User, unread)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == _token_hash(token))
    ).first()
    if found is None:
        return Resumed(None, ended="unknown")
    us, user, unread_notices = found
    if us.ended_at is not None:
        return Resumed(None, ended=us.end_reason or "ended")
    reason = ""
    if now - us.last_seen_at > settings.idle_timeout:
        reason = "idle"
    elif now - us.created_at > settings.absolute_timeout:
        reason = "expired"
    elif not user.may_log_in(now):
        reason = "deactivated"
    if reason:
        _end(session, Actor(user=user, label="system"), us, reason, now)
        return Resumed(None, ended=reason)
    if now - us.last_seen_at > LAST_SEEN_GRANULARITY:
        us.last_seen_at = now
    return Resumed(user, us.id, unread_notices=unread_notices or 0)


def _end(session: Session, actor: Actor, us: UserSession, reason: str, now: datetime) -> None:
    us.ended_at = now
    us.end_reason = reason
    audit.record(
        session,
        actor,
        "auth.session_ended",
        entity_type="user_session",
        entity_id=us.id,
        new={"reason": reason, "user_id": us.user_id},
    )


def end_session(ctx: Context, session_id: int, reason: str, now: datetime) -> bool:
    """End one of the actor's own sessions (logout, or from the sessions list)."""
    session, actor = ctx.session, ctx.actor
    us = session.get(UserSession, session_id)
    if us is None or actor.user is None or us.user_id != actor.user.id or us.ended_at is not None:
        return False
    _end(session, actor, us, reason, now)
    return True


def end_all_sessions(
    ctx: Context, user: User, reason: str, now: datetime, keep: int | None = None
) -> int:
    """End every live session of `user` (deactivation, reset, password change)."""
    session, actor = ctx.session, ctx.actor
    query = update(UserSession).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None)
    )
    if keep is not None:
        query = query.where(UserSession.id != keep)
    count = rows_changed(session.execute(query.values(ended_at=now, end_reason=reason)))
    if count:
        audit.record(
            session,
            actor,
            "auth.sessions_ended",
            entity_type="user_account",
            entity_id=user.id,
            new={"reason": reason, "count": count},
        )
    return count


def live_sessions(ctx: Context, user: User) -> list[UserSession]:
    session = ctx.session
    return list(
        session.scalars(
            select(UserSession)
            .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
            .order_by(UserSession.last_seen_at.desc())
        )
    )


def previous_sign_in(ctx: Context, user: User, current: int | None) -> datetime | None:
    """When the user signed in before the session they are using now (None: never), so the
    start page can show it: the account's own last sign-in is this one."""
    session = ctx.session
    query = select(func.max(UserSession.created_at)).where(UserSession.user_id == user.id)
    if current is not None:
        query = query.where(UserSession.id != current)
    return session.scalar(query)
