"""Audit review: the clinical trail of the reader's sites with filters, its CSV, review reports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from flask import Blueprint, Response, request, stream_with_context
from werkzeug.wrappers import Response as BaseResponse

from edc import dates
from edc.access import Permission, requires
from edc.errors import Invalid
from edc.exports import csv_writer
from edc.i18n import _
from edc.services import audit_review, review_reports
from edc.services.audit_review import TrailFilter
from edc.web import page_arg, render, request_context

bp = Blueprint("audit_review", __name__, url_prefix="/audit")
#: Longer than any date a reader types in any language (the rest is not read).
MAX_DAY = 32
FILTER_NAMES = ("user", "subject", "form", "item", "action", "since", "until")


def _day(name: str, errors: list[str]) -> date | None:
    """A day typed in the reader's format (or ISO); a clear message for anything else."""
    text = request.args.get(name, "").strip()
    if not text:
        return None
    lang = dates.language()
    if len(text) > MAX_DAY:
        errors.append(_("Enter the date as %(format)s.", format=dates.placeholder(lang)))
        return None
    try:
        return dates.parse_date(text, lang)
    except dates.DateError as error:
        errors.append(dates.message(error, lang))
        return None


def _filter() -> tuple[TrailFilter, list[str]]:
    """The filters asked, and what is wrong with them (the service checks the rest)."""
    errors: list[str] = []
    args = request.args
    since, until = _day("since", errors), _day("until", errors)
    f = TrailFilter(
        user=args.get("user", "").strip(),
        subject=args.get("subject", "").strip(),
        form=args.get("form", "").strip(),
        item=args.get("item", "").strip(),
        action=args.get("action", "").strip(),
        since=since,
        until=until,
    )
    if not errors:
        try:
            audit_review.check_filter(f)
        except Invalid as refused:
            errors.append(refused.message)
    return f, errors


def _args() -> dict[str, str]:
    """The filters as given, to keep in the form and the links (bounded: shown back as typed)."""
    return {n: request.args.get(n, "")[:300] for n in FILTER_NAMES if request.args.get(n)}


@bp.route("/")
@requires(Permission.AUDIT_READ)
def trail() -> BaseResponse:
    page, ctx = page_arg(), request_context()
    f, errors = _filter()
    shown = None
    if not errors:
        try:
            shown = audit_review.trail_page(ctx, f, page)
        except Invalid as refused:
            errors.append(refused.message)
    return render(
        "audit_review/trail.html",
        block="results",
        shown=shown,
        errors=errors,
        page=page,
        args=_args(),
        actions=audit_review.action_choices(),
        status=422 if errors else 200,
    )


@bp.route("/trail.csv")
@requires(Permission.AUDIT_READ)
def trail_csv() -> BaseResponse:
    ctx = request_context()
    f, errors = _filter()
    if not errors:
        try:
            _count, rows = audit_review.export_trail(ctx, f)
        except Invalid as refused:
            errors.append(refused.message)
    if errors:
        return render(
            "audit_review/trail.html",
            shown=None,
            errors=errors,
            page=1,
            args=_args(),
            actions=audit_review.action_choices(),
            status=422,
        )
    stamp = ctx.now().strftime("%Y%m%dT%H%MZ")
    return _csv_response(
        csv_writer.rows(audit_review.CSV_COLUMNS, rows), f"audit-trail-{stamp}.csv"
    )


def _csv_response(body: Iterator[str], name: str) -> BaseResponse:
    response = Response(stream_with_context(body), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.route("/reports")
@requires(Permission.AUDIT_READ)
def reports() -> BaseResponse:
    ctx = request_context()
    f, errors = _filter()
    shown = None
    if not errors:
        try:
            shown = review_reports.reports(ctx, f)
        except Invalid as refused:
            errors.append(refused.message)
    return render(
        "audit_review/reports.html",
        shown=shown,
        errors=errors,
        args=_args(),
        hours=review_reports.OFFICE_HOURS,
        status=422 if errors else 200,
    )
