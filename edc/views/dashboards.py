"""Dashboards for those who read subjects: the record status grid and the study's charts."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from flask import Blueprint, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from edc import lifecycle
from edc.access import Permission, requires
from edc.services import record_dashboard, study_dashboard, subject_status
from edc.services.dashboard_scope import bounded_int
from edc.web import page_arg, render, request_context

bp = Blueprint("dashboards", __name__, url_prefix="/dashboards")


#: Stand-ins no study code, event or form id can hold (url_for writes them escaped).
_MARKERS = ("\x01", "\x02", "\x03")
_NUMBER = 2**31 - 1


def _form_addresses() -> Callable[[str, str, int, str], str]:
    """The address of a CRF page (crf.form_page) for each cell: url_for once per request, then
    filled in per cell, since a page of the grid holds thousands of links."""
    codes, events, forms = _MARKERS
    built = url_for("crf.form_page", code=codes, event_id=events, number=_NUMBER, form_id=forms)
    markers = (*(quote(m) for m in _MARKERS), str(_NUMBER))
    if any(built.count(marker) != 1 for marker in markers):  # written otherwise: one by one
        return lambda c, e, n, f: url_for("crf.form_page", code=c, event_id=e, number=n, form_id=f)
    pattern = built.replace("{", "{{").replace("}", "}}")
    for i, marker in enumerate(markers):
        pattern = pattern.replace(marker, f"{{{i}}}")

    def address(code: str, event_id: str, number: int, form_id: str) -> str:
        return pattern.format(
            quote(code, safe=""), quote(event_id, safe=""), quote(form_id, safe=""), number
        )

    return address


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
        form_address=_form_addresses(),
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
