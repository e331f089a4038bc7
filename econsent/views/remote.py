"""Remote consent's pages: staff invite a parent and may withdraw the invitation; the parent
opens the e-mailed link once, types the one-time code, and then signs on the same pages as the
kiosk (econsent/views/kiosk.py), registered here under `/remote/s/<token>` for a browser that
has no staff session. A used, expired, locked or withdrawn link gets a page in plain words."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from flask import Blueprint, flash, redirect, session, url_for
from werkzeug.wrappers import Response as BaseResponse
from wtforms.fields.choices import SelectChoice

from econsent.remote_forms import CodeForm, InviteForm
from econsent.services import invitations, sessions
from econsent.views import kiosk
from econsent.views.common import TEMPLATES, consent_subject, offer_choices
from edc.access import Permission, public, requires
from edc.context import Context
from edc.errors import Conflict, Denied, Invalid
from edc.forms import EmptyForm
from edc.i18n import _
from edc.web import render, request_context

if TYPE_CHECKING:
    from econsent.models import ConsentSession
    from edc.models.subjects import Subject

bp = Blueprint("remote", __name__, url_prefix="/remote", template_folder=TEMPLATES)
staff_bp = Blueprint("consent_remote", __name__, url_prefix="/consent", template_folder=TEMPLATES)
STATE = "remote"  # the signer's token, once link and code are proven
PENDING = "remote_invitation"  # the invitation whose link this browser opened


def _remote_open(token: str) -> tuple[Context, ConsentSession]:
    ctx = request_context()
    cs = invitations.signer_session(ctx, token)
    return invitations.signer_context(ctx, cs), cs


kiosk.FLOWS["remote"] = kiosk.Flow(STATE, _remote_open, "econsent/remote_done.html")


def _shared(view: Any) -> Any:
    """A kiosk view served to a remote signer: the same function, declared public (the token,
    bound to this browser, and the invitation's state decide)."""

    @functools.wraps(view)
    def remote_view(**kwargs: Any) -> Any:
        return view(**kwargs)

    return public(remote_view)


for _rule, _name, _methods in (
    ("/s/<token>", "home", ["GET"]),
    ("/s/<token>/language", "language", ["GET", "POST"]),
    ("/s/<token>/read/<int:number>", "read", ["GET"]),
    ("/s/<token>/pause", "pause", ["GET"]),
    ("/s/<token>/questions", "questions", ["GET", "POST"]),
    ("/s/<token>/sign", "sign", ["GET", "POST"]),
    ("/s/<token>/refuse", "refuse", ["POST"]),
):
    bp.add_url_rule(_rule, _name, _shared(getattr(kiosk, _name)), methods=_methods)
bp.register_error_handler(kiosk._Back, kiosk.back)


def _closed(message: str, status: int) -> BaseResponse:
    return render("econsent/remote_closed.html", status=status, message=message)


@bp.errorhandler(invitations.InvitationClosed)
def _closed_page(exc: invitations.InvitationClosed) -> BaseResponse:
    return _closed(exc.message, 410)


@bp.errorhandler(Denied)
def _unknown(_exc: Denied) -> BaseResponse:
    return _closed(_("This link does not work. Open the link in the e-mail you received."), 404)


@bp.route("/invitation/<link>", methods=["GET", "POST"])
@public
def invitation(link: str) -> BaseResponse:
    """The e-mailed link: a page first (a mail scanner opening it uses nothing), then the
    button uses the link up and this browser is asked for the code."""
    ctx = request_context()
    state, language = invitations.link_state(ctx, link)
    session["lang"] = language
    if state != "waiting":
        raise invitations.closed(state)
    form = EmptyForm()
    if form.validate_on_submit():
        session[PENDING] = invitations.open_link(ctx, link)
        session.pop(STATE, None)
        return redirect(url_for("remote.code"))
    return render("econsent/remote_start.html", form=form, link=link)


@bp.route("/code", methods=["GET", "POST"])
@public
def code() -> BaseResponse:
    """The one-time code the parent received apart from the link; three wrong ones lock it."""
    pending = session.get(PENDING)
    if not isinstance(pending, int):
        raise Denied()
    ctx = request_context()
    form, error = CodeForm(), ""
    if form.validate_on_submit():
        try:
            token = invitations.check_code(ctx, pending, form.code.data or "")
        except invitations.WrongCode as wrong:
            error = wrong.message
        else:
            session.pop(PENDING, None)
            session[STATE] = {"token": token, "role": None, "passed": None}
            return redirect(url_for("remote.home", token=token))
    status = 422 if form.is_submitted() else 200
    return render("econsent/remote_code.html", status=status, form=form, error=error)


def _invite_form(ctx: Context, subject: Subject) -> InviteForm:
    form = InviteForm()
    form.guardian.choices = [
        SelectChoice(str(i), f"{g.name} ({g.email})")
        for i, g in invitations.guardians(ctx, subject)
    ]
    offer_choices(form, subject)
    return form


@staff_bp.route("/subjects/<code>/remote", methods=["GET", "POST"])
@requires(Permission.CONSENT_RUN)
def invite(code: str) -> BaseResponse:
    """Staff invite a parent to consent from home; a code to read out is shown once here."""
    subject = consent_subject(code)
    ctx = request_context()
    form = _invite_form(ctx, subject)
    if form.validate_on_submit():
        choice = invitations.Invite(
            guardian_index=int(form.guardian.data or 0), language=form.language.data or "",
            parent_exception=form.parent_exception.data or "",
        )  # fmt: skip
        try:
            invited = invitations.invite(ctx, subject, choice)
        except Invalid as refused:
            form.guardian.errors = [refused.message]
        else:
            return render(
                "econsent/remote_invited.html", subject=subject, cs=invited.session,
                printed_code=invited.printed_code, channel=invited.invitation.code_channel,
            )  # fmt: skip
    return render(
        "econsent/remote_invite.html", subject=subject, form=form,
        status=422 if form.errors else 200,
    )  # fmt: skip


@staff_bp.route("/sessions/<int:session_id>/invitation/revoke", methods=["POST"])
@requires(Permission.CONSENT_RUN)
def revoke(session_id: int) -> BaseResponse:
    """Staff withdraw a remote invitation: the link, the code and the signer's page stop."""
    ctx = request_context()
    cs = sessions.find_session(ctx, session_id)
    if EmptyForm().validate_on_submit():
        try:
            invitations.revoke(ctx, cs)
        except Conflict as refused:
            flash(refused.message, "error")
        else:
            flash(_("The invitation was withdrawn."))
    return redirect(url_for("consent.session_page", session_id=cs.id))
