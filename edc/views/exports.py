"""Data exports from the web: choose what and in which format, follow the job, download the
file. Thin: parse, call one service, render. The job runs once the request has committed
(`edc.export_worker`), so the worker sees the job this request queued."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, request, send_file, url_for
from werkzeug.wrappers import Response as BaseResponse

from edc import export_worker
from edc.access import Permission, requires
from edc.errors import Conflict, Invalid
from edc.i18n import _l
from edc.services import export_jobs
from edc.web import render, request_context

bp = Blueprint("exports", __name__, url_prefix="/exports")
#: Longer than any scope key or format name (`site:<id>`, `odm`): the rest is not read.
MAX_FIELD = 40
FORMAT_LABELS = {
    "csv": _l("CSV files with a codebook (ZIP)"),
    "odm": _l("CDISC ODM 1.3.2 with audit trail and signatures (XML)"),
    "fhir": _l("FHIR R4 Bundle: questionnaires and responses (JSON)"),
    "certified": _l("Certified copy: data, audit trail and signatures, with a certificate (ZIP)"),
}


def _page(error: str = "", status: int = 200) -> Response:
    ctx = request_context()
    jobs = export_jobs.shown(ctx, export_jobs.listed(ctx))
    return render(
        "exports/page.html", status=status, choices=export_jobs.choices(ctx), jobs=jobs,
        formats=[(f, FORMAT_LABELS[f]) for f in export_jobs.WEB_FORMATS], error=error,
    )  # fmt: skip


@bp.get("")
@requires(Permission.DATA_EXPORT)
def export_page() -> Response:
    return _page()


@bp.post("")
@requires(Permission.DATA_EXPORT)
def export_ask() -> Response | BaseResponse:
    key = request.form.get("scope", "")[:MAX_FIELD]
    fmt = request.form.get("format", "")[:MAX_FIELD]
    try:
        job = export_jobs.request_export(request_context(), key, fmt)
    except (Invalid, Conflict) as refused:
        return _page(refused.message, refused.status)
    # The job starts once this request commits (edc.web's commit point): the worker sees it.
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    export_worker.start_after_commit(app, job.id)
    return redirect(url_for(".export_job", job_id=job.id), 303)


@bp.get("/<int:job_id>")
@requires(Permission.DATA_EXPORT)
def export_job(job_id: int) -> Response:
    ctx = request_context()
    (job,) = export_jobs.shown(ctx, [export_jobs.job(ctx, job_id)])
    block = "status" if request.headers.get("HX-Request") else None
    return render("exports/job.html", block=block, job=job)


@bp.get("/<int:job_id>/download")
@requires(Permission.DATA_EXPORT)
def export_download(job_id: int) -> Response:
    found = export_jobs.download(request_context(), job_id)
    response = send_file(found.path, as_attachment=True, download_name=found.name, max_age=0)
    response.headers["Cache-Control"] = "no-store"
    return response
