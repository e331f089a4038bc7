"""A site's monitoring page: the monitor's visits (start, end) and what changed since the last."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from edc.access import Permission, requires
from edc.errors import Conflict
from edc.forms import EmptyForm
from edc.i18n import _
from edc.services import monitor_visits
from edc.web import page_arg, page_count, render, request_context

bp = Blueprint("monitor_visits", __name__, url_prefix="/monitoring/sites")
#: Changed items listed per page.
PAGE_SIZE = 50


@bp.route("/")
@requires(Permission.AUDIT_READ)
def site_list() -> BaseResponse:
    sites = monitor_visits.readable_sites(request_context())
    return render("audit_review/sites.html", sites=sites)


def _site_page(site_code: str, refusal: str = "", status: int = 200) -> BaseResponse:
    ctx, page = request_context(), page_arg()
    site = monitor_visits.site_by_code(ctx, site_code)
    may_visit = monitor_visits.may_visit(ctx, site)
    changed = monitor_visits.changed_since_last_visit(ctx, site)
    return render(
        "audit_review/site.html",
        block="changed",
        site=site,
        may_visit=may_visit,
        open_visit=monitor_visits.open_visit(ctx, site) if may_visit else None,
        visits=monitor_visits.visits(ctx, site) if may_visit else [],
        since=monitor_visits.last_visit_end(ctx, site),
        changed=changed[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        total=len(changed),
        page=page,
        pages=page_count(len(changed), PAGE_SIZE),
        form=EmptyForm(),
        refusal=refusal,
        status=status,
    )


@bp.route("/<site_code>")
@requires(Permission.AUDIT_READ)
def site_page(site_code: str) -> BaseResponse:
    return _site_page(site_code)


@bp.route("/<site_code>/visits/start", methods=["POST"])
@requires(Permission.SDV_VERIFY)
def visit_start(site_code: str) -> BaseResponse:
    ctx = request_context()
    site = monitor_visits.site_by_code(ctx, site_code)
    if not EmptyForm().validate_on_submit():
        return _site_page(site_code, _("The form expired: try again."), 400)
    try:
        monitor_visits.start_visit(ctx, site, remote=request.form.get("remote") == "1")
    except Conflict as refused:
        return _site_page(site_code, refused.message, 409)
    flash(_("Visit started."))
    return redirect(url_for("monitor_visits.site_page", site_code=site.code))


@bp.route("/<site_code>/visits/end", methods=["POST"])
@requires(Permission.SDV_VERIFY)
def visit_end(site_code: str) -> BaseResponse:
    ctx = request_context()
    site = monitor_visits.site_by_code(ctx, site_code)
    if not EmptyForm().validate_on_submit():
        return _site_page(site_code, _("The form expired: try again."), 400)
    try:
        monitor_visits.end_visit(ctx, site)
    except Conflict as refused:
        return _site_page(site_code, refused.message, 409)
    flash(_("Visit ended."))
    return redirect(url_for("monitor_visits.site_page", site_code=site.code))
