"""Sign-in (password, second factor, first-time password and enrolment), sign-out, language."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, redirect, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from edc import login, totp
from edc.access import public, signed_in
from edc.forms import CodeForm, EnrolForm, LanguageForm, LoginForm, NewPasswordForm
from edc.i18n import _
from edc.services import auth, users
from edc.web import render, request_context

if TYPE_CHECKING:
    from edc.models.users import User

bp = Blueprint("auth", __name__)

STAGE_ENDPOINT = {
    auth.Stage.SECOND_FACTOR: "auth.code",
    auth.Stage.NEW_PASSWORD: "auth.new_password",
    auth.Stage.ENROL: "auth.enrol",
}


def _advance(user: User, factor_passed: bool) -> BaseResponse:
    stage = auth.next_stage(user, factor_passed)
    if stage is auth.Stage.ENROL and not login.pending_via_link():
        return _enrol_needs_link()
    if stage is auth.Stage.DONE:
        next_url = login.safe_next(session.get("next"))
        login.complete(user)
        return redirect(next_url)
    login.set_pending(user, factor_passed, request_context().now())
    return redirect(url_for(STAGE_ENDPOINT[stage]))


def _restart() -> BaseResponse:
    return redirect(url_for("auth.login_page"))


def _enrol_needs_link() -> BaseResponse:
    """A new authenticator is set up only from the link mailed to the account's owner: whoever
    learnt the password alone (or reset it) cannot bind their own phone to the account."""
    session.pop("pending", None)
    form = LoginForm()
    form.password.errors = [
        _(
            "Two-step sign-in is set up only from the link e-mailed to you. "
            "Ask your study administrator for a new link."
        )
    ]
    return render("auth/login.html", form=form, status=403)


@bp.route("/login", methods=["GET", "POST"])
@public
def login_page() -> BaseResponse:
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if request.method == "GET" and request.args.get("next"):
        session["next"] = login.safe_next(request.args["next"])
    if form.validate_on_submit():
        ctx = request_context()
        try:
            user = auth.check_password(
                ctx, form.email.data or "", form.password.data or "", ctx.now()
            )
        except auth.LoginRefusedError as refused:
            form.password.errors = [refused.message]
            return render("auth/login.html", form=form, status=refused.status)
        return _advance(user, factor_passed=False)
    return render("auth/login.html", form=form, status=422 if form.errors else 200)


@bp.route("/login/code", methods=["GET", "POST"])
@public
def code() -> BaseResponse:
    pending = login.pending_user()
    if pending is None:
        return _restart()
    user, _factor = pending
    form = CodeForm()
    if form.validate_on_submit():
        ctx = request_context()
        try:
            auth.check_second_factor(ctx, user, form.code.data or "", ctx.now())
        except auth.LoginRefusedError as refused:
            form.code.errors = [refused.message]
            return render("auth/code.html", form=form, status=refused.status)
        return _advance(user, factor_passed=True)
    return render("auth/code.html", form=form, status=422 if form.errors else 200)


@bp.route("/login/password", methods=["GET", "POST"])
@public
def new_password() -> BaseResponse:
    pending = login.pending_user()
    if pending is None:
        return _restart()
    user, factor = pending
    if auth.next_stage(user, factor) is not auth.Stage.NEW_PASSWORD:
        return _restart()
    form = NewPasswordForm()
    if form.validate_on_submit():
        if form.password.data != form.confirm.data:
            form.confirm.errors = [_("The two passwords are not the same.")]
        else:
            try:
                auth.set_password(request_context(), user, form.password.data or "")
            except auth.PasswordRejectedError as rejected:
                form.password.errors = rejected.problems
            else:
                return _advance(user, factor)
    return render("auth/new_password.html", form=form, status=422 if form.errors else 200)


@bp.route("/login/enrol", methods=["GET", "POST"])
@public
def enrol() -> BaseResponse:
    pending = login.pending_user()
    if pending is None:
        return _restart()
    user, factor = pending
    if auth.next_stage(user, factor) is not auth.Stage.ENROL:
        return _restart()
    if not login.pending_via_link():
        return _enrol_needs_link()
    secret = login.enrol_secret()
    if secret is None or request.method == "GET":
        secret = totp.new_secret()
        login.remember_enrol_secret(secret)
    form = EnrolForm()
    if form.validate_on_submit():
        ctx = request_context()
        try:
            codes = auth.confirm_enrolment(ctx, user, secret, form.code.data or "", ctx.now())
        except auth.LoginRefusedError as refused:
            form.code.errors = [refused.message]
        else:
            login.complete(user)
            return render("auth/recovery_codes.html", codes=codes)
    uri = totp.provisioning_uri(secret, user.email)
    return render(
        "auth/enrol.html",
        form=form,
        qr=totp.qr_svg_data_uri(uri),
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        status=422 if form.errors else 200,
    )


@bp.route("/logout", methods=["POST"])
@signed_in
def logout() -> BaseResponse:
    login.end_current()
    return redirect(url_for("auth.login_page"))


@bp.route("/language", methods=["POST"])
@public
def language() -> BaseResponse:
    form = LanguageForm()
    form.lang.choices = list(login.settings().languages)
    if form.validate_on_submit():
        session["lang"] = form.lang.data
        if current_user.is_authenticated:
            users.set_locale(
                request_context(),
                current_user._get_current_object(),
                form.lang.data or "",
            )
    return redirect(login.safe_next(form.next.data))
