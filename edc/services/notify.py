"""Notices mailed to an account's owner about changes to their access, so they can object:
a role given or withdrawn, a sign-in from a new device (resets are told by their link's mail)."""

from __future__ import annotations

from datetime import datetime

from edc import mail
from edc.access import ROLE_LABELS, SYSTEM_SCOPE, Role
from edc.context import Context
from edc.i18n import _l
from edc.models.users import User
from edc.settings import Settings


def _settings(ctx: Context) -> Settings | None:
    """The portal's settings when mail can go out; None for a context without them (a bare
    service call)."""
    settings = ctx.settings
    return settings if settings is not None and mail.enabled(settings) else None


def role_changed(ctx: Context, user: User, role: str, where: str, *, granted: bool) -> None:
    """Tell the user a role was given or withdrawn (sent when the change commits)."""
    session = ctx.session
    settings = _settings(ctx)
    if settings is None:
        return
    label = ROLE_LABELS.get(Role(role), role) if role in Role._value2member_map_ else role
    mail.send_after_commit(
        session,
        mail.render(
            settings,
            user,
            "role_changed",
            role=label,
            where=_l("whole system") if where == SYSTEM_SCOPE else where,
            granted=granted,
        ),
    )


def new_device(ctx: Context, user: User, now: datetime) -> None:
    """Tell the user their account was signed in to from a browser it had not used before."""
    session, actor = ctx.session, ctx.actor
    settings = _settings(ctx)
    if settings is None:
        return
    mail.send_after_commit(
        session,
        mail.render(
            settings,
            user,
            "new_device",
            at=now,
            ip=actor.ip or "?",
            agent=(actor.user_agent or "?")[:120],
        ),
    )
