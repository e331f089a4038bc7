"""What the signed-in start page shows: the to-do list, notices, alerts, roles and sites.

Gathered here so the view only renders: every read is scoped to the actor, and each part is
asked only of those whose permissions make it theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from edc import access
from edc.access import ROLE_PERMISSIONS, Permission, Role
from edc.context import Context
from edc.models.studies import Site
from edc.models.users import RoleAssignment
from edc.services import auth, notices, role_approval, security, todo
from edc.services.notices import NoticeView


@dataclass(frozen=True)
class RoleLine:
    """One of the user's roles as the page lists it."""

    role: Role
    site_code: str = ""
    site_name: str = ""
    country: str = ""
    study_slug: str = ""  # a study-wide role
    pending: bool = False


@dataclass(frozen=True)
class SiteLine:
    code: str
    name: str
    country: str


@dataclass(frozen=True)
class HomePage:
    todo: todo.TodoList
    notices: list[NoticeView]
    notice_total: int
    alerts: int
    role_requests: int
    previous_sign_in: datetime | None
    roles: list[RoleLine]
    sites: list[SiteLine]


def home_page(ctx: Context, user_session_id: int | None) -> HomePage:
    """Everything the start page shows the actor (signed in)."""
    user = ctx.actor.user
    assert user is not None
    permissions = {p for grant in ctx.grants for p in ROLE_PERMISSIONS[grant.role]}
    alerts = (
        security.alerts_since(ctx.session, ctx.now() - timedelta(hours=24))
        if Permission.SECURITY_AUDIT in permissions
        else 0
    )
    requests = (
        len(role_approval.pending_for(ctx.session, ctx.actor))
        if Permission.ROLES_APPROVE in permissions
        else 0
    )
    unread, unread_total = notices.unread(ctx.session, ctx.actor, ctx.language)
    sites = ctx.session.scalars(
        access.scoped(
            select(Site).order_by(Site.code), ctx.session, user, Permission.SITE_VIEW, Site.id
        )
    )
    return HomePage(
        todo=todo.todo(ctx),
        notices=unread,
        notice_total=unread_total,
        alerts=alerts,
        role_requests=requests,
        previous_sign_in=auth.previous_sign_in(ctx.session, user, user_session_id),
        roles=_roles(ctx),
        sites=[SiteLine(s.code, s.name, s.country) for s in sites],
    )


def _roles(ctx: Context) -> list[RoleLine]:
    """The user's roles, live or waiting for approval (one query with their sites and studies)."""
    assert ctx.actor.user is not None
    rows = ctx.session.scalars(
        select(RoleAssignment)
        .where(RoleAssignment.user_id == ctx.actor.user.id, RoleAssignment.revoked_at.is_(None))
        .options(selectinload(RoleAssignment.site), selectinload(RoleAssignment.study))
    ).all()
    lines = [
        RoleLine(
            Role(r.role),
            r.site.code if r.site else "",
            r.site.name if r.site else "",
            r.site.country if r.site else "",
            r.study.slug if r.study and not r.site else "",
            r.pending,
        )
        for r in rows
    ]
    return sorted(lines, key=lambda line: (line.role, line.site_code))
