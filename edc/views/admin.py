"""Administration: accounts, role assignments, security events, the access review."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING

from flask import Blueprint, Response, abort, flash, redirect, request, stream_with_context, url_for
from werkzeug.wrappers import Response as BaseResponse

from edc import dates
from edc.access import APPROVERS, ROLE_LABELS, Permission, Role, requires
from edc.exports import csv_writer
from edc.forms import AssignRoleForm, CreateUserForm, EmptyForm, EndDateForm, ReasonForm
from edc.i18n import _
from edc.login import settings
from edc.services import event_text, links, role_approval, security, users
from edc.web import page_arg, page_count, render, request_context

if TYPE_CHECKING:
    from edc.models.users import User

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _user_or_404(user_id: int) -> User:
    return users.user(request_context(), user_id)


def _end_of_day(value: date | None) -> datetime | None:
    return users.end_of_day(value, settings()) if value is not None else None


def _scope_choices() -> list[tuple[str, str]]:
    choices: list[tuple[str, str]] = [("system", str(_("Whole system")))]
    for study in users.studies(request_context()):
        choices.append((f"study:{study.id}", str(_("Study %(slug)s (all sites)", slug=study.slug))))
        choices.extend((f"site:{site.id}", f"{study.slug} · {site}") for site in study.sites)
    return choices


def _role_form() -> AssignRoleForm:
    form = AssignRoleForm()
    form.role.choices = [(role.value, str(ROLE_LABELS[role])) for role in Role]
    form.scope.choices = _scope_choices()
    return form


@bp.route("/users")
@requires(Permission.USERS_MANAGE)
def user_list() -> BaseResponse:
    search = request.args.get("q", "").strip().lower()
    found = users.search(request_context(), search)
    return render("admin/users.html", block="results", users=found, q=search)


@bp.route("/users/new", methods=["GET", "POST"])
@requires(Permission.USERS_MANAGE)
def user_new() -> BaseResponse:
    form = CreateUserForm()
    if form.validate_on_submit():
        ctx = request_context()
        try:
            user, issued = users.create_user(
                ctx,
                email=form.email.data or "",
                full_name=form.full_name.data or "",
                identity_check=form.identity_check.data or "",
                ends_at=_end_of_day(form.ends_at.data),
                now=ctx.now(),
            )
        except users.UserAdminError as refused:
            form.email.errors = [refused.message]
        else:
            return _issued(user, issued)
    return render(
        "admin/user_new.html",
        form=form,
        account_zone=settings().account_timezone,
        status=422 if form.errors else 200,
    )


def _issued(user: User, issued: links.Issued) -> BaseResponse:
    """After an invitation or a reset: the mail is on its way (told once it left), or, without
    mail, the requester's half of the secret, shown once, while a second administrator approves."""
    if issued.requester_code:
        return render("admin/link_requested.html", user=user, code=issued.requester_code)
    return redirect(url_for("admin.user_detail", user_id=user.id))


def _detail(user: User, role_form: AssignRoleForm | None = None, status: int = 200) -> BaseResponse:
    ctx = request_context()
    return render(
        "admin/user_detail.html",
        user=user,
        role_form=role_form or _role_form(),
        reason_form=ReasonForm(),
        end_form=EndDateForm(ends_at=users.end_day(user.ends_at, settings())),
        end_day=users.end_day(user.ends_at, settings()),
        account_zone=settings().account_timezone,
        history=users.assignment_history(ctx, user),
        needs_approval=APPROVERS,
        link=links.latest(ctx, user),
        now=ctx.now(),
        status=status,
    )


@bp.route("/users/<int:user_id>")
@requires(Permission.USERS_MANAGE)
def user_detail(user_id: int) -> BaseResponse:
    return _detail(_user_or_404(user_id))


def _parse_scope(role: Role, raw: str) -> users.RoleScope:
    kind, _sep, ident = raw.partition(":")
    number = int(ident) if ident.isdigit() else None
    return users.RoleScope(
        role,
        site_id=number if kind == "site" else None,
        study_id=number if kind == "study" else None,
    )


@bp.route("/users/<int:user_id>/roles", methods=["POST"])
@requires(Permission.USERS_MANAGE)
def role_assign(user_id: int) -> BaseResponse:
    user = _user_or_404(user_id)
    form = _role_form()
    if form.validate_on_submit():
        ctx = request_context()
        try:
            assignment = users.assign_role(
                ctx, user, _parse_scope(Role(form.role.data), form.scope.data or ""), ctx.now()
            )
        except users.UserAdminError as refused:
            form.scope.errors = [refused.message]
        else:
            if assignment.pending:
                flash(_("Role requested.") + " " + role_approval.who_approves(assignment.role))
            else:
                flash(_("Role granted."))
            return redirect(url_for("admin.user_detail", user_id=user.id))
    return _detail(user, form, status=422)


@bp.route("/users/<int:user_id>/roles/<int:assignment_id>/revoke", methods=["POST"])
@requires(Permission.USERS_MANAGE)
def role_revoke(user_id: int, assignment_id: int) -> BaseResponse:
    user = _user_or_404(user_id)
    assignment = users.assignment(request_context(), user, assignment_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Give a reason."), "error")
        return _detail(user, status=422)
    try:
        ctx = request_context()
        users.revoke_role(ctx, assignment, form.reason.data or "", ctx.now())
    except users.UserAdminError as refused:
        flash(refused.message, "error")
        return _detail(user, status=422)
    flash(_("Role revoked."))
    return redirect(url_for("admin.user_detail", user_id=user.id))


def _reasoned(user_id: int, action: str) -> BaseResponse:
    user = _user_or_404(user_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Give a reason."), "error")
        return _detail(user, status=422)
    ctx = request_context()
    reason, now = form.reason.data or "", ctx.now()
    try:
        if action in ("deactivate", "reactivate"):
            users.set_active(ctx, user, action == "reactivate", reason, now)
            flash(
                _("Account deactivated.") if action == "deactivate" else _("Account reactivated.")
            )
        elif action == "reset-2fa":
            issued = users.reset_second_factor(ctx, user, reason, now)
            flash(_("Two-step sign-in was reset: the user sets it up again from a link."))
            return _issued(user, issued)
        else:
            issued = users.reset_password(ctx, user, reason, now)
            flash(_("The password was reset: the user chooses a new one from a link."))
            return _issued(user, issued)
    except users.UserAdminError as refused:
        flash(refused.message, "error")
        return _detail(user, status=422)
    return redirect(url_for("admin.user_detail", user_id=user.id))


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@requires(Permission.USERS_MANAGE)
def user_deactivate(user_id: int) -> BaseResponse:
    return _reasoned(user_id, "deactivate")


@bp.route("/users/<int:user_id>/reactivate", methods=["POST"])
@requires(Permission.USERS_MANAGE)
def user_reactivate(user_id: int) -> BaseResponse:
    return _reasoned(user_id, "reactivate")


@bp.route("/users/<int:user_id>/reset-2fa", methods=["POST"])
@requires(Permission.USERS_MANAGE)
def user_reset_factor(user_id: int) -> BaseResponse:
    return _reasoned(user_id, "reset-2fa")


@bp.route("/users/<int:user_id>/reset-password", methods=["POST"])
@requires(Permission.USERS_MANAGE)
def user_reset_password(user_id: int) -> BaseResponse:
    return _reasoned(user_id, "reset-password")


@bp.route("/users/<int:user_id>/end-date", methods=["POST"])
@requires(Permission.USERS_MANAGE)
def user_end_date(user_id: int) -> BaseResponse:
    user = _user_or_404(user_id)
    form = EndDateForm()
    if not form.validate_on_submit():
        flash(_("Give a reason."), "error")
        return _detail(user, status=422)
    users.set_end_date(
        request_context(), user, _end_of_day(form.ends_at.data), form.reason.data or ""
    )
    flash(_("End date saved."))
    return redirect(url_for("admin.user_detail", user_id=user.id))


@bp.route("/links")
@requires(Permission.USERS_MANAGE)
def link_requests() -> BaseResponse:
    """Without mail: links another administrator asked for, waiting for a second one."""
    ctx = request_context()
    return render(
        "admin/link_requests.html",
        requests=links.pending_approval(ctx, ctx.now()),
        form=EmptyForm(),
    )


@bp.route("/links/<int:link_id>/approve", methods=["POST"])
@requires(Permission.USERS_MANAGE)
def link_approve(link_id: int) -> BaseResponse:
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        ctx = request_context()
        link, url = links.approve(ctx, link_id, ctx.now())
    except links.LinkError as refused:
        flash(refused.message, "error")
        return redirect(url_for("admin.link_requests"))
    return render("admin/link_approved.html", user=link.user, url=url, link=link)


def _event_filter() -> security.EventFilter:
    def day(name: str) -> datetime | None:
        """A day typed in the reader's format (or ISO); anything else filters nothing."""
        try:
            typed = dates.parse_date(request.args.get(name, "")[:32], dates.language())
        except dates.DateError:
            return None
        return datetime.combine(typed, time.min, tzinfo=UTC)

    until = day("until")
    if until is not None:
        until = until.replace(hour=23, minute=59, second=59)
    return security.EventFilter(
        action=request.args.get("action", "")[:64],
        actor=request.args.get("actor", "")[:254],
        ip=request.args.get("ip", "")[:64],
        since=day("since"),
        until=until,
    )


@bp.route("/security")
@requires(Permission.SECURITY_AUDIT)
def security_events() -> BaseResponse:
    page, ctx = page_arg(), request_context()
    events, total = security.security_page(ctx, _event_filter(), page)
    return render(
        "admin/security.html",
        block="results",
        events=events,
        total=total,
        page=page,
        pages=page_count(total, security.PAGE_SIZE),
        actions=security.security_actions(ctx),
        action_labels=event_text.ACTIONS,
        args=request.args,
    )


CSV_COLUMNS = [
    "seq",
    "at",
    "action",
    "actor_email",
    "role",
    "site_code",
    "entity_type",
    "entity_id",
    "old_value",
    "new_value",
    "reason",
    "ip",
    "user_agent",
]


def _csv_response(body: Iterator[str], name: str) -> BaseResponse:
    response = Response(stream_with_context(body), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.route("/security.csv")
@requires(Permission.SECURITY_AUDIT)
def security_csv() -> BaseResponse:
    ctx = request_context()
    _count, events = security.export_security_events(ctx, _event_filter())
    rows = ([getattr(e, c) for c in CSV_COLUMNS] for e in events)
    stamp = ctx.now().strftime("%Y%m%dT%H%MZ")
    return _csv_response(csv_writer.rows(CSV_COLUMNS, rows), f"security-events-{stamp}.csv")


@bp.route("/access-review")
@requires(Permission.USERS_MANAGE)
def access_review() -> BaseResponse:
    return render("admin/access_review.html", rows=security.access_review(request_context()))


@bp.route("/access-review.csv")
@requires(Permission.USERS_MANAGE)
def access_review_csv() -> BaseResponse:
    header = [
        "email",
        "full_name",
        "active",
        "ends_at",
        "role",
        "scope",
        "granted_at",
        "granted_by",
        "last_login_at",
    ]
    rows = (
        [
            r.user.email,
            r.user.full_name,
            r.user.is_active,
            r.user.ends_at,
            r.role,
            r.scope,
            r.granted_at,
            r.granted_by,
            r.user.last_login_at,
        ]
        for r in security.export_access_review(request_context())
    )
    return _csv_response(csv_writer.rows(header, rows), "access-review.csv")
