"""Investigators' e-signatures: sign a form, a visit or a whole casebook (password and a fresh
TOTP code every time; the certification before the first signature)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for
from werkzeug.wrappers import Response as BaseResponse

from edc import access, lifecycle
from edc.access import Permission, requires
from edc.errors import Conflict, Invalid
from edc.forms import SignForm
from edc.i18n import _
from edc.services import signing, subjects
from edc.web import render, request_context

bp = Blueprint("signing", __name__, url_prefix="/subjects/<code>/sign")


def _target(
    code: str, event_id: str | None = None, number: int | None = None, form_id: str | None = None
) -> signing.Target:
    """What is to be signed; 404 (like a missing subject) outside the signer's sites."""
    ctx = request_context()
    subject = subjects.find(ctx, code[:64])
    if subject is None or not signing.may_sign(ctx, subject):
        access.not_found(ctx.session, ctx.actor, "subject", code[:64])
    return signing.target(ctx, subject, event_id, number, form_id)


def _back(t: signing.Target) -> str:
    """Where a signature leads back to: the form signed, or the subject's page."""
    code = t.subject.study_code
    if t.level == signing.Level.FORM:
        return url_for("crf.form_page", code=code, event_id=t.event.id if t.event else "",
                       number=t.number, form_id=t.form_id)  # fmt: skip
    return url_for("subjects.subject_detail", code=code)


def _sign_page(t: signing.Target) -> BaseResponse:
    """Show what the signature would cover and ask for it; sign when it is posted."""
    ctx = request_context()
    form = SignForm()
    form.meaning.choices = [(code, str(label)) for code, label in signing.MEANINGS.items()]
    error, status = "", 200
    if form.is_submitted():
        status = 422
    if form.validate_on_submit():
        try:
            signing.sign(
                ctx, t, meaning=form.meaning.data or "", password=form.password.data or "",
                code=form.code.data or "", certify=bool(form.certify.data),
            )  # fmt: skip
        except Conflict as refused:
            error, status = refused.message, 409
        except Invalid as refused:
            error = refused.message
        else:
            flash(_("Signed."))
            return redirect(_back(t))
    form.code.data = ""  # a code is used once: never offered again
    return render(
        "signing/sign.html",
        review=signing.review(ctx, t),
        form=form,
        error=error,
        statement=signing.STATEMENT,
        status_labels=lifecycle.LABELS,
        back=_back(t),
        status=status,
    )


@bp.route("", methods=["GET", "POST"])
@requires(Permission.CASEBOOK_SIGN)
def sign_casebook(code: str) -> BaseResponse:
    """Sign the subject's whole casebook: every record entered must be complete or verified."""
    return _sign_page(_target(code))


@bp.route("/<event_id>/<int:number>", methods=["GET", "POST"])
@requires(Permission.CASEBOOK_SIGN)
def sign_event(code: str, event_id: str, number: int) -> BaseResponse:
    """Sign one visit: all its records."""
    return _sign_page(_target(code, event_id, number))


@bp.route("/<event_id>/<int:number>/<form_id>", methods=["GET", "POST"])
@requires(Permission.CASEBOOK_SIGN)
def sign_form(code: str, event_id: str, number: int, form_id: str) -> BaseResponse:
    """Sign one form record."""
    return _sign_page(_target(code, event_id, number, form_id))
