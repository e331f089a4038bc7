"""The signed-in start page and the user's own account (sessions, password)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from edc.access import signed_in
from edc.forms import ChangePasswordForm, EmptyForm
from edc.i18n import _
from edc.services import auth, home, notices
from edc.web import render, request_context

bp = Blueprint("home", __name__)


@bp.route("/")
@signed_in
def index() -> BaseResponse:
    """The start page: the user's to-do list first, then notices, alerts, roles and sites."""
    page = home.home_page(request_context(), g.get("user_session_id"))
    return render("home/index.html", page=page, read_form=EmptyForm())


@bp.route("/notices/<int:notice_id>/read", methods=["POST"])
@signed_in
def notice_read(notice_id: int) -> BaseResponse:
    """Dismiss one of the user's own notices (anyone else's answers 404, like a missing one)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    if not notices.mark_read(request_context(), notice_id, request_context().now()):
        abort(404)
    flash(_("The notice was marked as read."))
    return redirect(url_for("home.index"))


def _account(form: ChangePasswordForm, status: int = 200) -> BaseResponse:
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
def account() -> BaseResponse:
    return _account(ChangePasswordForm())


@bp.route("/account/sessions/<int:session_id>/end", methods=["POST"])
@signed_in
def end_session(session_id: int) -> BaseResponse:
    if not EmptyForm().validate_on_submit():
        abort(400)
    ctx = request_context()
    if not auth.end_session(ctx, session_id, "ended by user", ctx.now()):
        abort(404)  # not one of the user's live sessions
    flash(_("The session was ended."))
    return redirect(url_for("home.account"))


@bp.route("/account/password", methods=["POST"])
@signed_in
def change_password() -> BaseResponse:
    user = current_user._get_current_object()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            auth.check_current_password(
                request_context(),
                user,
                form.current.data or "",
                request_context().now(),
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
                        request_context().now(),
                        keep=g.get("user_session_id"),
                    )
                flash(_("Your password was changed."))
                return redirect(url_for("home.account"))
    return _account(form, status=422)
