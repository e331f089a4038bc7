"""Dashboards for those who read subjects: the record status grid and the study's charts."""

from __future__ import annotations

from flask import Blueprint, request
from werkzeug.wrappers import Response as BaseResponse

from edc import lifecycle
from edc.access import Permission, requires
from edc.services import record_dashboard, study_dashboard, subject_status
from edc.services.dashboard_scope import bounded_int
from edc.web import page_arg, render, request_context

bp = Blueprint("dashboards", __name__, url_prefix="/dashboards")


@bp.route("/records")
@requires(Permission.SUBJECT_VIEW)
def records() -> BaseResponse:
    """Subjects × events × forms with each record's status, filtered and paginated."""
    filters = record_dashboard.parse_filters(
        study=request.args.get("study", ""),
        site=request.args.get("site", ""),
        subject_status=request.args.get("subject_status", ""),
        status=request.args.get("status", ""),
        event=request.args.get("event", ""),
    )
    board = record_dashboard.record_dashboard(request_context(), filters, page_arg())
    return render(
        "dashboards/records.html",
        board=board,
        icons=lifecycle.ICONS,
        status_labels={key: str(label) for key, label in lifecycle.LABELS.items()},
        subject_status_labels=subject_status.LABELS,
    )


@bp.route("/study")
@requires(Permission.SUBJECT_VIEW)
def study() -> BaseResponse:
    """Enrolment, form completion, open queries and source data verification, as charts."""
    shown = study_dashboard.study_dashboard(
        request_context(), bounded_int(request.args.get("study", ""))
    )
    return render("dashboards/study.html", board=shown)
