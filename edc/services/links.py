"""Single-use links that let only the account's owner set a password or a new authenticator.

An invitation, a password reset and a second-factor reset each end in a link mailed to the user:
the administrator sees only "sent to <address>", the audit trail only the link's id and expiry,
the database only a SHA-256 of the link's 256-bit token. The link works once: using it is one
conditional UPDATE (`used_at IS NULL`), so of two requests racing with it exactly one wins.

Without mail (EDC_MAIL_BACKEND=none) nobody can be reached in private, so a link takes two
administrators: the one who asks for it is shown a short code, once; a different administrator
approves, and is shown the link, once. The user needs both (the link page asks for the code), so
neither administrator alone holds a working secret of the account; only the two together could
take it over, which is what two-person approval accepts. Three wrong codes void the link.

At the command line the operator, who already holds the database and its keys, is given the
link directly (`flask users create`), so a first administrator can be made without mail.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from edc import audit, mail
from edc.actor import Actor
from edc.context import Context
from edc.errors import Invalid, NotFound
from edc.i18n import _
from edc.models.audit import AuditEvent
from edc.models.base import rows_changed
from edc.models.users import AccountLink, User
from edc.settings import Settings

INVITATION = "invitation"
RESET = "reset"
ENROL = "enrol"
PURPOSES = (INVITATION, RESET, ENROL)
CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
CODE_ATTEMPTS = 3  # wrong requester codes before the link stops working


class LinkError(Invalid):
    """A refused approval or use of a link, with a message for the person."""

    def __init__(self, message: str, final: bool = True) -> None:
        super().__init__(message)
        self.final = final  # the link is dead: nothing the person types can help


@dataclass(frozen=True)
class Issued:
    """What the administrator may be told: that a mail left, or (without mail) their half."""

    link: AccountLink
    mailed: bool = False
    requester_code: str = ""  # without mail: shown once to the requesting administrator
    url: str = ""  # only for the operator at the command line


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _normal_code(code: str) -> str:
    return code.replace("-", "").replace(" ", "").strip().lower()


def url(settings: Settings, token: str) -> str:
    return f"{settings.base_url}/account/activate/{token}"


def _revoke_live(session: Session, user: User, now: datetime) -> None:
    """A new link replaces the user's earlier ones: only the latest works."""
    session.execute(
        update(AccountLink)
        .where(
            AccountLink.user_id == user.id,
            AccountLink.used_at.is_(None),
            AccountLink.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


def _record(session: Session, actor: Actor, action: str, link: AccountLink, **kw: Any) -> None:
    audit.record(
        session,
        actor,
        action,
        entity_type="account_link",
        entity_id=link.id,
        new={
            "user_id": link.user_id,
            "purpose": link.purpose,
            "expires_at": link.expires_at,
        },
        **kw,
    )


def issue(
    ctx: Context,
    user: User,
    purpose: str,
    now: datetime,
    *,
    reason: str = "",
) -> Issued:
    """A new link for `user`: mailed; or handed to the CLI operator; or, without mail, requested
    for a second administrator's approval."""
    settings = ctx.config
    session, actor = ctx.session, ctx.actor
    assert purpose in PURPOSES
    _revoke_live(session, user, now)
    link = AccountLink(
        user_id=user.id,
        purpose=purpose,
        created_at=now,
        created_by_id=actor.user_id,
        expires_at=now + settings.activation_lifetime,
    )
    session.add(link)
    if mail.enabled(settings) or actor.is_cli:
        token = secrets.token_urlsafe(32)
        link.token_hash = _hash(token)
        link.approved_at = now
        session.flush()
        if not mail.enabled(settings):
            _record(session, actor, "auth.link_handed_over", link, reason=reason)
            return Issued(link, url=url(settings, token))
        _record(session, actor, "auth.link_sent", link, reason=reason)
        mail.send_after_commit(
            session,
            mail.render(
                settings,
                user,
                purpose,
                announce=not actor.is_cli,
                url=url(settings, token),
                expires_at=link.expires_at,
                reason=reason,
            ),
        )
        return Issued(link, mailed=True)
    code = "".join(secrets.choice(CODE_ALPHABET) for _n in range(10))
    link.code_hash = _hash(code)
    session.flush()
    _record(session, actor, "auth.link_requested", link, reason=reason)
    return Issued(link, requester_code=f"{code[:5]}-{code[5:]}")


def pending_approval(ctx: Context, now: datetime) -> list[AccountLink]:
    """Links asked for without mail that a second administrator has not approved yet."""
    session = ctx.session
    return list(
        session.scalars(
            select(AccountLink)
            .where(
                AccountLink.token_hash.is_(None),
                AccountLink.revoked_at.is_(None),
                AccountLink.expires_at > now,
            )
            .order_by(AccountLink.created_at)
        )
    )


def approve(ctx: Context, link_id: int, now: datetime) -> tuple[AccountLink, str]:
    """The second administrator's approval: the link, shown to them once, to hand over. The
    row is locked, so of two administrators approving at once only one is given a link."""
    settings = ctx.config
    session, actor = ctx.session, ctx.actor
    link = session.scalar(
        select(AccountLink)
        .where(AccountLink.id == link_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if link is None:
        raise NotFound()
    if link.token_hash is not None or link.revoked_at is not None:
        raise LinkError(_("This request is no longer waiting for approval."))
    if link.expires_at <= now:
        raise LinkError(_("This request has expired. Ask for a new one."))
    if actor.user_id is None or actor.user_id == link.created_by_id:
        raise LinkError(_("Another administrator must approve a request you made."))
    if actor.user_id == link.user_id:
        raise LinkError(_("You cannot approve a request for your own account."))
    token = secrets.token_urlsafe(32)
    link.token_hash = _hash(token)
    link.approved_at = now
    link.approved_by_id = actor.user_id
    link.expires_at = now + settings.activation_lifetime
    session.flush()
    _record(session, actor, "auth.link_approved", link)
    return link, url(settings, token)


def lookup(ctx: Context, token: str) -> AccountLink | None:
    """The link behind `token`, whatever its state (None: no such link was ever made)."""
    session = ctx.session
    if not token or len(token) > 100:
        return None
    return session.scalar(select(AccountLink).where(AccountLink.token_hash == _hash(token)))


def alive(link: AccountLink, now: datetime) -> bool:
    """Approved, not used, not replaced, not expired, and the account may still sign in."""
    return (
        link.used_at is None
        and link.revoked_at is None
        and link.expires_at > now
        and link.user.may_log_in(now)
    )


def find(ctx: Context, token: str, now: datetime) -> AccountLink | None:
    """The live link behind `token`, or None."""
    link = lookup(ctx, token)
    return link if link is not None and alive(link, now) else None


def _check_code(session: Session, actor: Actor, link: AccountLink, code: str) -> None:
    """The requester's code, tried in turns: the link's row is locked from the count of wrong
    codes to the wrong code recorded and committed, so parallel guesses cannot all pass a count
    none of them has raised yet (SQLite: the transaction already holds the write lock)."""
    session.execute(select(AccountLink.id).where(AccountLink.id == link.id).with_for_update())
    refused = session.scalar(
        select(func.count()).where(
            AuditEvent.action == "auth.link_refused",
            AuditEvent.entity_type == "account_link",
            AuditEvent.entity_id == str(link.id),
        )
    )
    if (refused or 0) >= CODE_ATTEMPTS:
        raise LinkError(_("Too many wrong codes: this link no longer works."))
    if hmac.compare_digest(_hash(_normal_code(code)), link.code_hash or ""):
        return
    audit.record(
        session,
        actor,
        "auth.link_refused",
        entity_type="account_link",
        entity_id=link.id,
        reason="wrong code",
    )
    session.commit()  # counted before the turn is let go, though the refusal page rolls back
    raise LinkError(_("Wrong code. Check it with the administrator who gave it."), final=False)


def consume(ctx: Context, link: AccountLink, code: str, now: datetime) -> None:
    """Use the link, once. The requester's code is checked first when the link needs one; three
    wrong codes void the link. Of two simultaneous uses exactly one gets past the UPDATE."""
    session, actor = ctx.session, ctx.actor
    if link.code_hash is not None:
        _check_code(session, actor, link, code)
    won = rows_changed(
        session.execute(
            update(AccountLink)
            .where(
                AccountLink.id == link.id,
                AccountLink.used_at.is_(None),
                AccountLink.revoked_at.is_(None),
                AccountLink.expires_at > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    if won != 1:
        raise LinkError(_("This link has already been used or has expired."))
    session.refresh(link)
    audit.record(
        session,
        actor,
        "auth.link_used",
        entity_type="account_link",
        entity_id=link.id,
        new={"user_id": link.user_id, "purpose": link.purpose},
    )


def latest(ctx: Context, user: User) -> AccountLink | None:
    """The user's most recent link, for the administrator's page (state only, never a token)."""
    session = ctx.session
    return session.scalar(
        select(AccountLink)
        .where(AccountLink.user_id == user.id)
        .order_by(AccountLink.created_at.desc(), AccountLink.id.desc())
        .limit(1)
    )
