"""Notices mailed to an account's owner about changes to their access, so they can object:
a role given or withdrawn, a sign-in from a new device (resets are told by their link's mail)."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from edc import mail
from edc.access import ROLE_LABELS, SYSTEM_SCOPE, Role
from edc.actor import Actor
from edc.i18n import _l
from edc.models.users import User
from edc.settings import Settings


def _settings() -> Settings | None:
    """The app's settings when mail can go out; None outside the app (a bare service call)."""
    if not has_app_context():
        return None
    settings: Settings = current_app.config["EDC_SETTINGS"]
    return settings if mail.enabled(settings) else None


def role_changed(session: Session, user: User, role: str, where: str, *, granted: bool) -> None:
    """Tell the user a role was given or withdrawn (sent when the change commits)."""
    settings = _settings()
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


def new_device(session: Session, user: User, actor: Actor, now: datetime) -> None:
    """Tell the user their account was signed in to from a browser it had not used before."""
    settings = _settings()
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
