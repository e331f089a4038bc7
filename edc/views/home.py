"""The signed-in start page and the user's own account (sessions, password)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, abort, flash, g, redirect, url_for
from flask_babel import get_locale
from flask_login import current_user
from sqlalchemy import select

from edc import access, login
from edc.access import ROLE_PERMISSIONS, Permission, signed_in
from edc.extensions import db
from edc.forms import ChangePasswordForm, EmptyForm
from edc.i18n import _
from edc.models.base import utcnow
from edc.models.studies import Site
from edc.services import auth, notices, role_approval, security
from edc.web import render, request_context

bp = Blueprint("home", __name__)


@bp.route("/")
@signed_in
def index() -> Response:
    user = current_user._get_current_object()
    grants = access.grants(db.session, user)
    sites = db.session.scalars(
        access.scoped(
            select(Site).order_by(Site.code), db.session, user, Permission.SITE_VIEW, Site.id
        )
    ).all()
    permissions = sorted({p for grant in grants for p in ROLE_PERMISSIONS[grant.role]})
    alerts = (
        security.alerts_since(request_context(), utcnow() - timedelta(hours=24))
        if Permission.SECURITY_AUDIT in permissions
        else 0
    )
    unread, unread_total = notices.unread(request_context(), str(get_locale()))
    role_requests = (
        len(role_approval.pending_for(request_context()))
        if Permission.ROLES_APPROVE in permissions
        else 0
    )
    return render(
        "home/index.html",
        alerts=alerts,
        notices=unread,
        notice_total=unread_total,
        role_requests=role_requests,
        previous_sign_in=auth.previous_sign_in(request_context(), user, g.get("user_session_id")),
        read_form=EmptyForm(),
        roles=sorted(user.roles, key=lambda r: (r.role, r.site_id or 0)),
        sites=sites,
        permissions=permissions,
    )


@bp.route("/notices/<int:notice_id>/read", methods=["POST"])
@signed_in
def notice_read(notice_id: int) -> Response:
    """Dismiss one of the user's own notices (anyone else's answers 404, like a missing one)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    if not notices.mark_read(request_context(), notice_id, utcnow()):
        abort(404)
    flash(_("The notice was marked as read."))
    return redirect(url_for("home.index"))


def _account(form: ChangePasswordForm, status: int = 200) -> Response:
    user = current_user._get_current_object()
    return render(
        "home/account.html",
        block="content",
        form=form,
        end_form=EmptyForm(),
        sessions=auth.live_sessions(request_context(), user),
        current_session=g.get("user_session_id"),
        status=status,
    )


@bp.route("/account")
@signed_in
def account() -> Response:
    return _account(ChangePasswordForm())


@bp.route("/account/sessions/<int:session_id>/end", methods=["POST"])
@signed_in
def end_session(session_id: int) -> Response:
    if not EmptyForm().validate_on_submit():
        abort(400)
    if not auth.end_session(request_context(), session_id, "ended by user", utcnow()):
        abort(404)  # not one of the user's live sessions
    flash(_("The session was ended."))
    return redirect(url_for("home.account"))


@bp.route("/account/password", methods=["POST"])
@signed_in
def change_password() -> Response:
    user = current_user._get_current_object()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            auth.check_current_password(
                request_context(),
                login.settings(),
                user,
                form.current.data or "",
                utcnow(),
            )
        except auth.LoginRefusedError as refused:
            form.current.errors = [refused.message]
            return _account(form, status=refused.status)
        if form.password.data != form.confirm.data:
            form.confirm.errors = [_("The two passwords are not the same.")]
        else:
            try:
                auth.set_password(request_context(), user, form.password.data or "")
            except auth.PasswordRejectedError as rejected:
                form.password.errors = rejected.problems
            else:
                if form.end_others.data:
                    auth.end_all_sessions(
                        request_context(),
                        user,
                        "password changed",
                        utcnow(),
                        keep=g.get("user_session_id"),
                    )
                flash(_("Your password was changed."))
                return redirect(url_for("home.account"))
    return _account(form, status=422)
