"""Role requests: investigators and data managers approve or refuse the clinical roles that an
administrator asked for at their site or study (edc.services.role_approval)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for
from werkzeug.wrappers import Response as BaseResponse

from edc import access
from edc.access import Permission, requires
from edc.forms import EmptyForm, ReasonForm
from edc.i18n import _
from edc.services import role_approval
from edc.web import render, request_context

bp = Blueprint("roles", __name__, url_prefix="/roles")


def _page(status: int = 200) -> BaseResponse:
    return render(
        "roles/requests.html",
        requests=role_approval.pending_for(request_context()),
        approve_form=EmptyForm(),
        reason_form=ReasonForm(),
        status=status,
    )


@bp.route("/requests")
@requires(Permission.ROLES_APPROVE)
def requests() -> BaseResponse:
    return _page()


@bp.route("/requests/<int:assignment_id>/approve", methods=["POST"])
@requires(Permission.ROLES_APPROVE)
def approve(assignment_id: int) -> BaseResponse:
    if not EmptyForm().validate_on_submit():
        return _page(status=422)
    ctx = request_context()
    try:
        done = role_approval.approve(ctx, assignment_id, ctx.now())
    except role_approval.ApprovalError as refused:
        flash(refused.message, "error")
        return _page(status=409)
    if done is None:
        access.not_found(ctx.session, ctx.actor, "role_assignment", str(assignment_id))
    flash(_("Role approved: it takes effect now."))
    return redirect(url_for("roles.requests"))


@bp.route("/requests/<int:assignment_id>/refuse", methods=["POST"])
@requires(Permission.ROLES_APPROVE)
def refuse(assignment_id: int) -> BaseResponse:
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Give a reason."), "error")
        return _page(status=422)
    ctx = request_context()
    try:
        done = role_approval.refuse(ctx, assignment_id, form.reason.data or "", ctx.now())
    except role_approval.ApprovalError as refused:
        flash(refused.message, "error")
        return _page(status=409)
    if done is None:
        access.not_found(ctx.session, ctx.actor, "role_assignment", str(assignment_id))
    flash(_("Role request refused."))
    return redirect(url_for("roles.requests"))
