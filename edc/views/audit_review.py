"""Audit review: the clinical trail of the reader's sites with filters, its CSV, review reports."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime

from flask import Blueprint, Response, request, stream_with_context
from werkzeug.wrappers import Response as BaseResponse

from edc import dates, forms_bridge, lifecycle
from edc.access import Permission, requires
from edc.errors import Invalid
from edc.exports import csv_writer
from edc.i18n import _, _l
from edc.services import audit_review, review_reports
from edc.services.audit_review import TrailFilter, TrailRow
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


#: The details of a non-item event a reviewer reads on the page (the CSV keeps them all): the
#: others are machine values (hashes, session numbers, document codes).
DETAIL_KEYS = {
    "status": _l("Status"),
    "changes": _l("Items changed"),
    "remote": _l("Remote visit"),
    "started_at": _l("Started"),
    "ended_at": _l("Ended"),
    "visit_date": _l("Visit date"),
    "rows": _l("Rows"),
}


def _detail(key: str, value: object, lang: str) -> str:
    if key == "status" and isinstance(value, str):
        return str(lifecycle.LABELS.get(value, value))
    if key.endswith("_at") and isinstance(value, str):
        try:
            return dates.shown(datetime.fromisoformat(value), lang)
        except ValueError:
            return value
    if key.endswith("_date") and isinstance(value, str):
        return dates.as_written(value, lang)
    return forms_bridge.display_text(value, None, lang)


def _value_text(row: TrailRow, value: object, lang: str) -> str:
    """A stored value as the reviewer reads it: an item's in its form's words (choice labels,
    dates as the reader writes them), an event's details labelled, masked ones as masked."""
    if value is None or row.masked:
        return "" if value is None else str(value)
    if isinstance(value, dict):
        return "; ".join(
            f"{DETAIL_KEYS[k]}: {_detail(k, v, lang)}"
            for k, v in sorted(value.items())
            if k in DETAIL_KEYS and v not in (None, "")
        )
    if row.item and row.form is not None:
        return forms_bridge.item_text(row.form, row.item, value, lang)
    return forms_bridge.display_text(value, None, lang)


def shown_rows(rows: list[TrailRow]) -> list[TrailRow]:
    """The rows with their values as text, for the page."""
    lang = dates.language()
    return [
        replace(r, old=_value_text(r, r.old, lang), new=_value_text(r, r.new, lang)) for r in rows
    ]


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
            found = audit_review.trail_page(ctx, f, page)
            shown = replace(found, rows=shown_rows(found.rows))
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
            found = review_reports.reports(ctx, f)
            shown = replace(
                found,
                after_review=shown_rows(found.after_review),
                out_of_hours=shown_rows(found.out_of_hours),
            )
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
