"""Clinical roles take effect once someone accountable for the site's data approves them.

An administrator manages accounts and never sees clinical data; without this step one could
create a second account for themselves, give it a nurse role and read identities. So a request
for a role listed in `access.APPROVERS` (every role that opens subject data) grants nothing
(`access._load_grants` skips it) until an investigator of its site, or a data manager of its
study, approves it. Never the grantee, never the person who asked, and never by virtue of the
administrator role: the authority comes from the approver's own live, approved clinical role.
The very first data manager of a study has nobody above them: the operator at the server's
command line approves it (`flask users approve`), and the audit trail names the OS account.
See docs/security.md ("Clinical roles need the approval of the site").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select
from sqlalchemy.orm import Session, joinedload

from edc import access, audit
from edc.access import APPROVERS, Role
from edc.actor import Actor
from edc.context import Context
from edc.errors import Conflict
from edc.i18n import _
from edc.models.studies import Site
from edc.models.users import RoleAssignment
from edc.services import notify


class ApprovalError(Conflict):
    """A refused decision, with a message for the person deciding."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


def needs_approval(role: Role | str) -> bool:
    """True for the roles that open subject data (administrator does not)."""
    return Role(role) in APPROVERS


def who_approves(role: Role | str) -> str:
    """Who may approve a request for `role`, said to the administrator who asked for it."""
    approvers = APPROVERS.get(Role(role), frozenset())
    if approvers == {Role.INVESTIGATOR}:
        return _("It takes effect once an investigator of the site approves it.")
    if approvers == {Role.DATA_MANAGER}:
        return _("It takes effect once a data manager of the study approves it.")
    return _(
        "It takes effect once an investigator of the site or a data manager of the study "
        "approves it."
    )


@dataclass(frozen=True)
class _Authority:
    """Where the actor decides: the sites they are investigator of, the studies they manage."""

    sites: frozenset[int]
    studies: frozenset[int]


def _authority(session: Session, actor: Actor) -> _Authority:
    if actor.user is None:
        return _Authority(frozenset(), frozenset())
    own = access.grants(session, actor.user)  # live and approved only
    return _Authority(
        frozenset(s for g in own if g.role is Role.INVESTIGATOR for s in g.site_ids),
        frozenset(
            g.study_id for g in own if g.role is Role.DATA_MANAGER and g.study_id is not None
        ),
    )


def _decidable(authority: _Authority, actor: Actor) -> ColumnElement[bool]:
    """SQL: role requests within the actor's authority, not their own and not asked by them
    (whether still pending or not). Needs `Site` outer-joined on the assignment's site."""
    study_of = func.coalesce(RoleAssignment.study_id, Site.study_id)
    per_role = []
    for role, approvers in APPROVERS.items():
        if Role.INVESTIGATOR in approvers and authority.sites:
            per_role.append(
                (RoleAssignment.role == role.value) & RoleAssignment.site_id.in_(authority.sites)
            )
        if Role.DATA_MANAGER in approvers and authority.studies:
            per_role.append((RoleAssignment.role == role.value) & study_of.in_(authority.studies))
    if not per_role or actor.user_id is None:
        return false()
    return and_(
        or_(*per_role),
        RoleAssignment.user_id != actor.user_id,
        or_(RoleAssignment.granted_by_id.is_(None), RoleAssignment.granted_by_id != actor.user_id),
    )


def _query(session: Session, actor: Actor) -> Select[tuple[RoleAssignment]]:
    return (
        select(RoleAssignment)
        .outerjoin(Site, Site.id == RoleAssignment.site_id)
        .where(_decidable(_authority(session, actor), actor))
    )


def pending_for(ctx: Context) -> list[RoleAssignment]:
    """The requests waiting for a decision that `actor` may take, oldest first (one query)."""
    session, actor = ctx.session, ctx.actor
    return list(
        session.scalars(
            _query(session, actor)
            .where(RoleAssignment.approved_at.is_(None), RoleAssignment.revoked_at.is_(None))
            .options(
                joinedload(RoleAssignment.user),
                joinedload(RoleAssignment.site),
                joinedload(RoleAssignment.study),
                joinedload(RoleAssignment.granted_by),
            )
            .order_by(RoleAssignment.granted_at, RoleAssignment.id)
        ).unique()
    )


def _scope_name(assignment: RoleAssignment) -> str:
    return access.scope_name(assignment.site, assignment.study)


def _summary(assignment: RoleAssignment) -> dict[str, object]:
    return {
        "user_id": assignment.user_id,
        "email": assignment.user.email,
        "role": assignment.role,
        "site": assignment.site.code if assignment.site else None,
        "study": assignment.study.slug if assignment.study else None,
        "requested_by_id": assignment.granted_by_id,
    }


def _locked(session: Session, actor: Actor, assignment_id: int) -> RoleAssignment | None:
    """The request if it is the actor's to decide, locked against a parallel decision or
    revocation; None when it is missing or not theirs (answered like a missing one)."""
    found = session.scalar(
        _query(session, actor)
        .where(RoleAssignment.id == assignment_id)
        .with_for_update(of=RoleAssignment)
        .execution_options(populate_existing=True)  # as committed, not as this session cached
    )
    if found is not None and not found.pending:
        raise ApprovalError(_("This request was already decided or withdrawn."))
    return found


def approve(ctx: Context, assignment_id: int, now: datetime) -> RoleAssignment | None:
    """Approve a pending request the actor may decide: from now on it grants its role."""
    session, actor = ctx.session, ctx.actor
    assignment = _locked(session, actor, assignment_id)
    if assignment is None:
        return None
    _grant(ctx, assignment, now)
    return assignment


def _grant(ctx: Context, assignment: RoleAssignment, now: datetime, reason: str = "") -> None:
    """The approval itself, whoever gives it: the role takes effect, is audited and told."""
    session, actor = ctx.session, ctx.actor
    where, summary = _scope_name(assignment), _summary(assignment)  # loaded before the change
    assignment.approved_at = now
    assignment.approved_by_id = actor.user_id
    audit.record(
        session,
        actor,
        "role.approved",
        target=assignment,
        site_code=where,
        new=summary,
        reason=reason,
    )
    session.flush()
    notify.role_changed(ctx, assignment.user, assignment.role, where, granted=True)


def refuse(ctx: Context, assignment_id: int, reason: str, now: datetime) -> RoleAssignment | None:
    """Refuse a pending request the actor may decide: it is closed and never grants anything
    (a new request can be made)."""
    session, actor = ctx.session, ctx.actor
    if not reason.strip():
        raise ApprovalError(_("Give a reason."))
    assignment = _locked(session, actor, assignment_id)
    if assignment is None:
        return None
    where, summary = _scope_name(assignment), _summary(assignment)  # loaded before the change
    assignment.refused_at = assignment.revoked_at = now
    assignment.refused_by_id = assignment.revoked_by_id = actor.user_id
    assignment.refusal_reason = reason.strip()
    audit.record(
        session,
        actor,
        "role.refused",
        target=assignment,
        site_code=where,
        old=summary,
        reason=reason.strip(),
    )
    session.flush()
    return assignment


def approve_as_operator(
    ctx: Context, assignment: RoleAssignment, reason: str, now: datetime
) -> None:
    """The operator at the command line approves a request: for a study's first data manager,
    or a site nobody can approve for yet. Audited with the OS account and the reason."""
    actor = ctx.actor
    if not actor.is_cli:
        raise ApprovalError(_("Only the operator at the command line may approve this way."))
    if not reason.strip():
        raise ApprovalError(_("Give a reason."))
    if not assignment.pending:
        raise ApprovalError(_("This request was already decided or withdrawn."))
    _grant(ctx, assignment, now, reason.strip())
