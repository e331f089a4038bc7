"""THE access policy: roles, permissions, endpoint declarations, the gate, and site scoping.

Every endpoint declares `@requires(...)`, `@signed_in` or `@public`; the gate refuses anything
undeclared. Objects outside the actor's scope answer exactly like missing ones (404).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn, TypeVar

from flask import Flask, abort, current_app, request
from flask_login import current_user
from sqlalchemy import ColumnElement, Connection, Select, bindparam, event, func, select
from sqlalchemy.orm import QueryableAttribute, Session

from edc import audit
from edc.actor import Actor, current_actor
from edc.errors import Denied, NotFound
from edc.extensions import db
from edc.i18n import _l
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.models.studies import Site, Study
from edc.models.users import RoleAssignment, User


class Role(enum.StrEnum):
    NURSE = "nurse"
    INVESTIGATOR = "investigator"
    MONITOR = "monitor"
    DATA_MANAGER = "data_manager"
    ADMIN = "admin"


ROLE_LABELS = {
    Role.NURSE: _l("Research nurse"),
    Role.INVESTIGATOR: _l("Investigator"),
    Role.MONITOR: _l("Monitor"),
    Role.DATA_MANAGER: _l("Data manager"),
    Role.ADMIN: _l("Administrator"),
}


class Scope(enum.Enum):
    SITE = "site"
    STUDY = "study"
    SYSTEM = "system"


ROLE_SCOPE: dict[Role, Scope] = {
    Role.NURSE: Scope.SITE,
    Role.INVESTIGATOR: Scope.SITE,
    Role.MONITOR: Scope.SITE,
    Role.DATA_MANAGER: Scope.STUDY,
    Role.ADMIN: Scope.SYSTEM,
}


class Permission(enum.StrEnum):
    SITE_VIEW = "site.view"
    SUBJECT_VIEW = "subject.view"
    SUBJECT_REGISTER = "subject.register"
    IDENTITY_VIEW = "identity.view"
    IDENTITY_EDIT = "identity.edit"
    DATA_ENTER = "data.enter"
    CONSENT_RUN = "consent.run"
    CONSENT_COUNTERSIGN = "consent.countersign"
    CASEBOOK_SIGN = "casebook.sign"
    AUDIT_READ = "audit.read"
    SDV_VERIFY = "sdv.verify"
    QUERY_ANSWER = "query.answer"
    QUERY_RAISE = "query.raise"
    QUERY_CLOSE = "query.close"
    DATA_LOCK = "data.lock"
    DATA_EXPORT = "data.export"
    SDV_PLAN = "sdv.plan"
    REGISTRY_WATCH = "registry.watch"
    USERS_MANAGE = "users.manage"
    ROLES_APPROVE = "roles.approve"
    SECURITY_AUDIT = "security.audit"


P = Permission
_log = logging.getLogger(__name__)
_NURSE = {
    P.SITE_VIEW,
    P.SUBJECT_VIEW,
    P.SUBJECT_REGISTER,
    P.IDENTITY_VIEW,
    P.IDENTITY_EDIT,
    P.DATA_ENTER,
    P.CONSENT_RUN,
    P.QUERY_ANSWER,
    P.AUDIT_READ,
}
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.NURSE: frozenset(_NURSE),
    # An investigator exports their own site's data (a site role: never another site's), so
    # that the sponsor never holds the data alone (checklist 43).
    Role.INVESTIGATOR: frozenset(
        _NURSE | {P.CONSENT_COUNTERSIGN, P.CASEBOOK_SIGN, P.ROLES_APPROVE, P.DATA_EXPORT}
    ),
    Role.MONITOR: frozenset(
        {P.SITE_VIEW, P.SUBJECT_VIEW, P.AUDIT_READ, P.SDV_VERIFY, P.QUERY_RAISE, P.QUERY_CLOSE}
    ),
    Role.DATA_MANAGER: frozenset(
        {
            P.SITE_VIEW,
            P.SUBJECT_VIEW,
            P.AUDIT_READ,
            P.QUERY_RAISE,
            P.QUERY_CLOSE,
            P.DATA_LOCK,
            P.SDV_PLAN,
            P.DATA_EXPORT,
            P.REGISTRY_WATCH,
            P.ROLES_APPROVE,
        }
    ),
    # Segregation of duties: an administrator manages accounts and never sees clinical data.
    Role.ADMIN: frozenset({P.USERS_MANAGE, P.SECURITY_AUDIT}),
}


#: Who approves a request for each clinical role (edc.services.role_approval): those accountable
#: for the data it opens, in their own scope: an investigator of the site, or a data manager of
#: the study (for investigators, so a site's first one can be approved, and for data managers).
#: Roles missing here (administrator) open no clinical data and take effect when granted.
APPROVERS: dict[Role, frozenset[Role]] = {
    Role.NURSE: frozenset({Role.INVESTIGATOR}),
    Role.MONITOR: frozenset({Role.INVESTIGATOR}),
    Role.INVESTIGATOR: frozenset({Role.INVESTIGATOR, Role.DATA_MANAGER}),
    Role.DATA_MANAGER: frozenset({Role.DATA_MANAGER}),
}


#: Permissions a role holds only at the sites that opted in, by the `site` column that says so.
#: Whether monitors may open identities depends on national rules and the consent form's wording.
SITE_OPT_INS: dict[Role, dict[Permission, str]] = {
    Role.MONITOR: {P.IDENTITY_VIEW: "monitors_see_identity"},
}


class _Marker(enum.Enum):
    PUBLIC = "public"
    SIGNED_IN = "signed_in"


ACCESS_ATTR = "__access__"
F = TypeVar("F", bound=Callable[..., Any])


def public(view: F) -> F:
    """Anyone may call this endpoint (login, static files, error pages)."""
    setattr(view, ACCESS_ATTR, _Marker.PUBLIC)
    return view


def signed_in(view: F) -> F:
    """Any signed-in staff member may call this endpoint (their own account pages)."""
    setattr(view, ACCESS_ATTR, _Marker.SIGNED_IN)
    return view


def requires(permission: Permission) -> Callable[[F], F]:
    """Only staff holding `permission` in at least one of their scopes may call this endpoint."""

    def mark(view: F) -> F:
        setattr(view, ACCESS_ATTR, permission)
        return view

    return mark


def declaration(view: Callable[..., Any]) -> Permission | _Marker | None:
    return getattr(view, ACCESS_ATTR, None)


def is_public(view: Callable[..., Any]) -> bool:
    return declaration(view) is _Marker.PUBLIC


def declare_public(app: Flask, endpoint: str) -> None:
    """Mark an endpoint we did not write (Flask's static view) as public."""
    public(app.view_functions[endpoint])


@dataclass(frozen=True)
class Grant:
    """One live role assignment, resolved to the site ids it covers (None = no sites)."""

    role: Role
    site_ids: frozenset[int]
    study_id: int | None
    opted_in: frozenset[tuple[Permission, int]] = frozenset()  # (permission, site id)
    site_codes: frozenset[str] = frozenset()  # the codes of `site_ids`, for the audit trail
    scope: str = ""  # where it was granted, as the audit trail names it: site code, study, system


_CACHE = "access_grants"


def grants(session: Session, user: User) -> list[Grant]:
    """The user's live, approved role assignments with their sites.

    Read once per session (a session lives for one request or one command): the gate, the views,
    the services and the page frame all ask, and the answer cannot change unless roles or sites
    are written, which empties the cache (see `_forget_grants`).
    """
    cache: dict[int, list[Grant]] = session.info.setdefault(_CACHE, {})
    if user.id not in cache:
        cache[user.id] = _load_grants(session, user)
    return cache[user.id]


@event.listens_for(Session, "after_flush")
def _forget_grants(session: Session, _ctx: object) -> None:
    changed = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(obj, RoleAssignment | Site) for obj in changed):
        session.info.pop(_CACHE, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_grants_on_rollback(session: Session, _previous: object) -> None:
    session.info.pop(_CACHE, None)


def _load_grants(session: Session, user: User) -> list[Grant]:
    rows = session.execute(
        select(RoleAssignment, Site, Study.slug)
        .outerjoin(
            Site,
            (Site.id == RoleAssignment.site_id)
            | ((RoleAssignment.site_id.is_(None)) & (Site.study_id == RoleAssignment.study_id)),
        )
        .outerjoin(Study, Study.id == RoleAssignment.study_id)
        .where(
            RoleAssignment.user_id == user.id,
            RoleAssignment.revoked_at.is_(None),
            RoleAssignment.approved_at.is_not(None),  # a request waiting for approval: nothing
        )
    ).all()
    by_assignment: dict[int, tuple[RoleAssignment, str, dict[int, str], set[Any]]] = {}
    for assignment, site, slug in rows:
        _, _slug, sites, opted = by_assignment.setdefault(
            assignment.id, (assignment, slug or "", {}, set())
        )
        if site is None:
            continue
        sites[site.id] = site.code
        for permission, column in SITE_OPT_INS.get(Role(assignment.role), {}).items():
            if getattr(site, column):
                opted.add((permission, site.id))
    grant_list = []
    for a, slug, sites, opted in by_assignment.values():
        scope = sites.get(a.site_id, NO_SCOPE) if a.site_id is not None else slug or SYSTEM_SCOPE
        grant_list.append(
            Grant(
                Role(a.role),
                frozenset(sites),
                a.study_id,
                frozenset(opted),
                site_codes=frozenset(sites.values()),
                scope=scope,
            )
        )
    return grant_list


def holds(grant_list: Iterable[Grant], permission: Permission, site_id: int | None = None) -> bool:
    """True if any grant gives `permission` (at `site_id`, when one is named)."""
    for grant in grant_list:
        if permission not in ROLE_PERMISSIONS[grant.role]:
            if any(p is permission and site_id in (None, s) for p, s in grant.opted_in):
                return True
            continue
        if site_id is None or ROLE_SCOPE[grant.role] is Scope.SYSTEM or site_id in grant.site_ids:
            return True
    return False


def holds_study(grant_list: Iterable[Grant], permission: Permission, study_id: int) -> bool:
    """True if a study-wide grant gives `permission` over the whole study (a lock of the study
    is a data manager's, never a site's: holding it at every site is not enough)."""
    return any(
        permission in ROLE_PERMISSIONS[g.role]
        and ROLE_SCOPE[g.role] is Scope.STUDY
        and g.study_id == study_id
        for g in grant_list
    )


def site_ids_for(grant_list: Iterable[Grant], permission: Permission) -> frozenset[int]:
    ids: set[int] = set()
    for grant in grant_list:
        if permission in ROLE_PERMISSIONS[grant.role]:
            ids |= grant.site_ids
        ids |= {s for p, s in grant.opted_in if p is permission}
    return frozenset(ids)


def require(session: Session, user: User, permission: Permission, site_id: int | None) -> None:
    """Refuse (`Denied`: a 404, like a missing object) unless `user` holds `permission` at
    `site_id`."""
    if not holds(grants(session, user), permission, site_id):
        raise Denied()


def permissions(grant_list: Iterable[Grant]) -> frozenset[Permission]:
    """Every permission the grants' roles hold somewhere (what the page frame offers; a site's
    opt-ins are asked of `holds` with the site)."""
    return frozenset(p for grant in grant_list for p in ROLE_PERMISSIONS[grant.role])


def acting_role(grant_list: Iterable[Grant], permission: Permission, site_id: int) -> str:
    """The role in which `permission` is held at the site (site opt-ins included), for the
    audit trail; "" if none."""
    for grant in grant_list:
        if holds([grant], permission, site_id):
            return grant.role.value
    return ""


def scope_name(site: Site | None, study: Study | None) -> str:
    """Where a role applies, as the audit trail names it: a site code, a study, or the system."""
    if site is not None:
        return site.code
    return study.slug if study is not None else SYSTEM_SCOPE


def scoped(
    query: Select[Any],
    session: Session,
    user: User,
    permission: Permission,
    site_column: ColumnElement[Any] | QueryableAttribute[Any],
) -> Select[Any]:
    """Restrict a query of site-bound rows to the sites where `user` holds `permission`."""
    return scoped_statement(query, site_column).params(scope_params(session, user, permission))


#: The bound parameter of `scoped_statement`: the site ids, given at each execution.
SCOPE_PARAMETER = "scope_site_ids"


def scoped_statement(
    query: Select[Any], site_column: ColumnElement[Any] | QueryableAttribute[Any]
) -> Select[Any]:
    """`query` kept to the sites bound at execution with `scope_params`; for a statement built
    once and run many times (SQLAlchemy then keys its compiled form without walking it again).
    Executed without those parameters it fails, rather than seeing every site."""
    return query.where(site_column.in_(bindparam(SCOPE_PARAMETER, expanding=True)))


def scope_params(session: Session, user: User, permission: Permission) -> dict[str, list[int]]:
    """The sites where `user` holds `permission`, for a `scoped_statement` (none: no rows)."""
    return {SCOPE_PARAMETER: sorted(site_ids_for(grants(session, user), permission))}


def gate() -> Any:
    """before_request: every endpoint must declare its access; unknown → refused (fail closed)."""
    if request.endpoint is None:
        return None  # routing already failed: 404/405 follow
    view = current_app.view_functions.get(request.endpoint)
    decl = declaration(view) if view is not None else None
    if decl is None:
        current_app.logger.error("endpoint %s declares no access rule", request.endpoint)
        abort(404)
    if decl is _Marker.PUBLIC:
        return None
    if not current_user.is_authenticated:
        # Flask-Login sets `login_manager` on the app; Flask's types do not declare it.
        return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
    if decl is _Marker.SIGNED_IN:
        return None
    if not holds(grants(db.session(), current_user), decl):
        trace_denial(
            db.session(),
            current_actor(),
            "endpoint",
            request.endpoint,
            {"permission": str(decl), "path": request.path[:200]},
        )
        abort(404)
    return None


# --- Who acted, in which role, for which site: what every audit event names -----------------

OPERATOR = "operator"  # the command line
ANONYMOUS = "anonymous"  # not signed in (a sign-in still under way included)
SYSTEM = "system"  # the application itself (a session ending on its own)
NO_ROLE = "none"  # a signed-in account holding no live role
SYSTEM_SCOPE = "system"  # an administrator's grant, and the command line
NO_SCOPE = "-"  # no site, study or system is known
ROLE_WIDTH, SCOPE_WIDTH = 64, 128  # the audit_event columns


def _compact(names: Iterable[str], width: int) -> str:
    """Sorted, comma-separated names; "+n" stands for those that do not fit the column."""
    names = sorted(set(names))
    shown = ",".join(names)
    kept = len(names)
    while len(shown) > width and kept > 1:
        kept -= 1
        shown = ",".join(names[:kept]) + f",+{len(names) - kept}"
    return shown[:width]


def audit_context(session: Session, actor: Actor, site_code: str = "") -> tuple[str, str]:
    """The role and the site (or study, or system) an audit event names for `actor`.

    At a named site: the roles the actor holds there; otherwise every live role and where it was
    granted (one grant: its role and its site code, study slug or "system"). The grants are read
    once per session, so this costs no query per event. See docs/security.md (audit trail).
    """
    user = actor.user
    if user is None:
        if actor.is_cli:
            return OPERATOR, site_code or SYSTEM_SCOPE
        return ANONYMOUS, site_code or NO_SCOPE
    with session.no_autoflush:  # the caller may hold new objects its event has yet to cover
        own = grants(session, user)
    if site_code:
        here = [g for g in own if site_code in g.site_codes or ROLE_SCOPE[g.role] is Scope.SYSTEM]
        own = here or own
    if actor.signing_in:
        role = ANONYMOUS
    elif actor.label == SYSTEM:
        role = SYSTEM
    else:
        role = _compact((g.role.value for g in own), ROLE_WIDTH) or NO_ROLE
    scope = site_code or _compact((g.scope for g in own), SCOPE_WIDTH) or NO_SCOPE
    return role, scope


# --- Refusals leave a trace, but a crawler cannot flood the trail ----------------------------


def _denials_recorded(
    conn: Connection, actor: Actor, since: datetime, limit: int, action: str = "access.denied"
) -> int:
    """How many `action` events the actor left since `since`, counted up to `limit`
    (one indexed query: by actor and time, or by address for someone not signed in)."""
    who = (
        AuditEvent.actor_id == actor.user_id
        if actor.user_id is not None
        else (AuditEvent.actor_id.is_(None) & (AuditEvent.ip == actor.ip))
    )
    recent = (
        select(AuditEvent.seq)
        .where(who, AuditEvent.at >= since, AuditEvent.action == action)
        .limit(limit)
    )
    return conn.scalar(select(func.count()).select_from(recent.subquery())) or 0


def trace_denial(
    session: Session,
    actor: Actor,
    entity_type: str,
    key: str,
    details: dict[str, Any],
    action: str = "access.denied",
) -> bool:
    """Record a durable `access.denied` event (or another refusal's `action`, counted apart)
    unless the actor already left the allowed number of them in the window (settings); beyond
    it, refusals are only counted in the application log.
    True if an event was recorded (or will be, if parallel refusals leave room).

    The count is checked once here (no event, no chain lock, for a crawler past its limit) and
    again under the audit chain's lock when the event is written, where writers take turns: so
    parallel requests never leave more than the limit."""
    settings = current_app.config["EDC_SETTINGS"]
    limit = settings.denial_trace_limit
    since = utcnow() - settings.denial_trace_window

    def room(conn: Connection) -> bool:
        return _denials_recorded(conn, actor, since, limit, action) < limit

    if not room(session.connection()):
        _log.info(
            "%s not recorded (more than %d in %s): actor=%s ip=%s %s %s",
            action, limit, settings.denial_trace_window, actor.email or "-", actor.ip,
            entity_type, key,
        )  # fmt: skip
        return False
    audit.record(
        session,
        actor,
        action,
        entity_type=entity_type,
        entity_id=key[:64],
        new=details,
        durable=True,  # the 404 rolls the request back; the trace stays
        keep_if=room,
    )
    return True


def not_found(session: Session, actor: Actor, entity_type: str, key: str) -> NoReturn:
    """Answer 404 for a subject or record the actor cannot see (out of scope or missing: the
    caller cannot tell which), leaving a throttled `access.denied` trace of what was asked."""
    trace_denial(session, actor, entity_type, key, {"path": request.path[:200]})
    raise NotFound()
