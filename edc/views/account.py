"""The single-use links mailed to a user: choose a password, or set up a new authenticator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, abort, flash, redirect, url_for
from werkzeug.wrappers import Response as BaseResponse

from edc import login, passwords
from edc.access import public
from edc.forms import LinkEnrolForm, LinkPasswordForm
from edc.i18n import _
from edc.services import auth, links
from edc.web import render, request_context

if TYPE_CHECKING:
    from edc.models.users import AccountLink

bp = Blueprint("account", __name__, url_prefix="/account")


def _gone(message: str = "") -> BaseResponse:
    return render("account/link_gone.html", message=message, status=410)


def _acceptable(form: LinkPasswordForm | LinkEnrolForm, link: AccountLink) -> bool:
    """The new password is checked before the link is used, so a refused one does not waste it."""
    if not isinstance(form, LinkPasswordForm):
        return True
    if form.password.data != form.confirm.data:
        form.confirm.errors = [_("The two passwords are not the same.")]
        return False
    found = passwords.problems(form.password.data or "", link.user.email, link.user.full_name)
    form.password.errors = found
    return not found


def _after_use(link: AccountLink) -> BaseResponse:
    """A new authenticator next if the account has none; otherwise sign in as usual."""
    user = link.user
    if not user.totp_enrolled:
        login.set_pending(user, factor_passed=True, now=request_context().now(), via_link=True)
        return redirect(url_for("auth.enrol"))
    flash(_("Your new password is saved. Sign in with it."))
    return redirect(url_for("auth.login_page"))


@bp.route("/activate/<token>", methods=["GET", "POST"])
@public
def activate(token: str) -> BaseResponse:
    ctx = request_context()
    now = ctx.now()
    link = links.lookup(ctx, token)
    if link is None:
        abort(404)  # never a link of ours: like any unknown address
    if not links.alive(link, now):
        return _gone()
    user = link.user
    choose = user.must_change_password  # invitation or reset: no usable password yet
    form = LinkPasswordForm() if choose else LinkEnrolForm()
    if form.validate_on_submit() and _acceptable(form, link):
        ctx = ctx.acting_as(ctx.actor.claiming(user))
        try:
            if isinstance(form, LinkEnrolForm):
                auth.check_password(ctx, user.email, form.current.data or "", now)
            links.consume(ctx, link, form.code.data or "", now)
        except auth.LoginRefusedError as refused:
            form.current.errors = [refused.message]
            return _page(form, link, refused.status)
        except links.LinkError as refused:
            if refused.final:
                return _gone(refused.message)
            form.code.errors = [refused.message]
        else:
            if isinstance(form, LinkPasswordForm):
                auth.set_password(ctx, user, form.password.data or "")
            return _after_use(link)
    return _page(form, link, 422 if form.errors else 200)


def _page(form: LinkPasswordForm | LinkEnrolForm, link: AccountLink, status: int) -> BaseResponse:
    return render(
        "account/activate.html",
        form=form,
        link=link,
        choose=isinstance(form, LinkPasswordForm),
        status=status,
    )
