"""Staff pages of a consent: prepare a session, hand the tablet over, let a stopped signer go
on, countersign, and give the signer the sealed copy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, flash, make_response, redirect, session, url_for
from werkzeug.wrappers import Response as BaseResponse

from econsent.forms import EXCEPTION_LABELS, IDENTITY_LABELS, CountersignForm, PrepareForm
from econsent.models import ConsentSession, Status
from econsent.services import countersign, invitations, sealing, sessions, signing
from econsent.views.common import (
    BLOCKED_LABELS,
    STATUS_LABELS,
    TEMPLATES,
    consent_subject,
    offer_choices,
    role_labels,
)
from econsent.views.kiosk import STATE
from edc.access import Permission, requires
from edc.errors import Conflict, Invalid
from edc.forms import EmptyForm
from edc.i18n import LANGUAGE_NAMES, _
from edc.services import consent_scope
from edc.web import render, request_context

if TYPE_CHECKING:
    from edc.models.subjects import Subject

bp = Blueprint("consent", __name__, url_prefix="/consent", template_folder=TEMPLATES)


def _prepare_form(subject: Subject) -> PrepareForm:
    form = PrepareForm()
    offer_choices(form, subject)
    return form


@bp.route("/subjects/<code>", methods=["GET", "POST"])
@requires(Permission.CONSENT_RUN)
def subject_sessions(code: str) -> BaseResponse:
    """The subject's consent sessions, and a new one prepared for the tablet."""
    subject = consent_subject(code)
    ctx = request_context()
    form = _prepare_form(subject)
    if form.validate_on_submit():
        prep = sessions.Preparation(
            language=form.language.data or "", identity_document=form.identity_document.data or "",
            parent_exception=form.parent_exception.data or "",
            signer_cannot_read=bool(form.signer_cannot_read.data),
        )  # fmt: skip
        try:
            cs = sessions.prepare(ctx, subject, prep)
        except Invalid as refused:
            form.language.errors = [refused.message]
        else:
            return redirect(url_for("consent.session_page", session_id=cs.id))
    found = sessions.sessions_for(ctx, subject)
    return render(
        "econsent/staff/subject.html", subject=subject, form=form, sessions=found,
        sessions_titles={s.id: sessions.titles(s, ctx.language)[0] for s in found},
        language_names=LANGUAGE_NAMES, status_labels=STATUS_LABELS,
        status=422 if form.errors else 200,
    )  # fmt: skip


@bp.route("/sessions/<int:session_id>")
@requires(Permission.CONSENT_RUN)
def session_page(session_id: int) -> BaseResponse:
    """Where the consent stands, who signed, and what staff can do next."""
    cs = sessions.find_session(request_context(), session_id)
    return _session_page(cs)


def _session_page(cs: ConsentSession, status: int = 200) -> BaseResponse:
    ctx = request_context()
    return render(
        "econsent/staff/session.html", status=status, cs=cs,
        required=sessions.required_roles(cs), signed={s.role: s for s in cs.signatures},
        role_labels=role_labels(), status_labels=STATUS_LABELS, blocked_labels=BLOCKED_LABELS,
        identity_labels=IDENTITY_LABELS, exception_labels=EXCEPTION_LABELS,
        form=EmptyForm(), open=cs.status in sessions.OPEN,
        may_countersign=cs.status == Status.SIGNED.value
        and ctx.holds(Permission.CONSENT_COUNTERSIGN, cs.site_id),
        options=signing.granted_options(cs), language_names=LANGUAGE_NAMES,
        option_labels=consent_scope.OPTION_LABELS, titles=sessions.titles(cs, ctx.language),
        invitation=invitations.for_session(ctx, cs),
    )  # fmt: skip


@bp.route("/sessions/<int:session_id>/handover", methods=["POST"])
@requires(Permission.CONSENT_RUN)
def handover(session_id: int) -> BaseResponse:
    """This browser becomes the kiosk for the session, until staff take it back."""
    ctx = request_context()
    cs = sessions.find_session(ctx, session_id)
    if not EmptyForm().validate_on_submit():
        return _session_page(cs, 422)
    token = sessions.hand_over(ctx, cs)
    session[STATE] = {"token": token, "role": None, "passed": None}
    session["kiosk_lang"] = cs.language
    return redirect(url_for("kiosk.home", token=token))


@bp.route("/sessions/<int:session_id>/resume", methods=["POST"])
@requires(Permission.CONSENT_RUN)
def resume(session_id: int) -> BaseResponse:
    """After a wrong answer, staff explained again: the signer may go on."""
    ctx = request_context()
    cs = sessions.find_session(ctx, session_id)
    if EmptyForm().validate_on_submit():
        sessions.resume(ctx, cs)
        if cs.mode == "remote":
            flash(_("The parent may go on from their own device."))
        else:
            flash(_("The signer may go on. Hand the tablet over again."))
    return redirect(url_for("consent.session_page", session_id=cs.id))


@bp.route("/sessions/<int:session_id>/countersign", methods=["GET", "POST"])
@requires(Permission.CONSENT_COUNTERSIGN)
def countersign_page(session_id: int) -> BaseResponse:
    """The investigator countersigns (password and a new TOTP code); the copy is then sealed."""
    ctx = request_context()
    cs = sessions.find_session(ctx, session_id)
    form, error = CountersignForm(), ""
    if form.validate_on_submit():
        posted = signing.Signing(
            printed_name=form.printed_name.data or "", strokes_json=form.strokes.data or "",
            png_data_url=form.image.data or "",
        )  # fmt: skip
        try:
            countersign.countersign(
                ctx, cs, password=form.password.data or "", code=form.code.data or "",
                signature=posted, confirm_exception=bool(form.confirm_exception.data),
            )  # fmt: skip
        except (Invalid, Conflict) as refused:
            error = refused.message
        else:
            flash(_("Countersigned. The consent is sealed and in force."))
            return redirect(url_for("consent.session_page", session_id=cs.id))
    return render(
        "econsent/staff/countersign.html", cs=cs, form=form, error=error,
        role_labels=role_labels(), exception_labels=EXCEPTION_LABELS,
        status=422 if form.is_submitted() else 200,
    )  # fmt: skip


@bp.route("/sessions/<int:session_id>/copy")
@requires(Permission.CONSENT_RUN)
def signer_copy(session_id: int) -> BaseResponse:
    """The sealed PDF for the signer to keep (site staff only; central roles never)."""
    ctx = request_context()
    cs = sessions.find_session(ctx, session_id)
    filename, data = sealing.signer_copy(ctx, cs)
    response = make_response(data)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
