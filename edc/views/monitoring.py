"""Review of entered data: queries and their threads, source data verification, locks and the
sites' SDV plans. Thin: parse, call one service, render or go back to the form."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from edc import access
from edc.access import Permission, requires
from edc.errors import Conflict, DomainError, Invalid
from edc.i18n import _, ngettext
from edc.registry import outbox, overview
from edc.services import entries, locks, queries, review_targets, sdv
from edc.web import render, request_context

bp = Blueprint("monitoring", __name__)
FORM_URL = "/subjects/<code>/crf/<event_id>/<int:number>/<form_id>"
#: The longest item key or text field a request may hold here (the services bound them too).
MAX_FIELD = 4000


def _entry(code: str, event_id: str, number: int, form_id: str) -> entries.Entry:
    ctx = request_context()
    entry = entries.find_entry(ctx, code, event_id, number, form_id)
    if entry is None:
        access.not_found(
            ctx.session, ctx.actor, "form_record", f"{code}/{event_id}/{number}/{form_id}"
        )
    return entry


def _field(name: str) -> str:
    value = request.form.get(name, "")
    if len(value) > MAX_FIELD:
        raise Invalid(_("This is too long."))
    return value


def _back(entry: entries.Entry, anchor: str = "review") -> BaseResponse:
    url = url_for(
        "crf.form_page", code=entry.subject.study_code, event_id=entry.event_id,
        number=entry.number, form_id=entry.form.id,
    )  # fmt: skip
    return redirect(f"{url}#{anchor}")


def _kept(title: str, action: str, text: str, error: DomainError, back: str) -> Response:
    """A refused message, kept: the page says why and holds the text to send again."""
    status = 409 if isinstance(error, Conflict) else 422
    return render(
        "monitoring/message_form.html", status=status, title=title, action=action,
        text=text, error=error.message or _("This cannot be done now."), back=back,
        item=request.form.get("item", ""),
    )  # fmt: skip


@bp.post(FORM_URL + "/queries")
@requires(Permission.QUERY_RAISE)
def raise_query(code: str, event_id: str, number: int, form_id: str) -> BaseResponse:
    entry = _entry(code, event_id, number, form_id)
    ctx, text = request_context(), _field("text")
    try:
        query = queries.raise_query(ctx, entry, _field("item"), text)
    except (Conflict, Invalid) as refused:
        back = url_for(
            "crf.form_page", code=code, event_id=event_id, number=number, form_id=form_id
        )
        return _kept(_("Raise a query"), request.path, text, refused, back)
    flash(_("Query raised."))
    return _back(entry, f"query-{query.id}")


@bp.post(FORM_URL + "/sdv")
@requires(Permission.SDV_VERIFY)
def verify(code: str, event_id: str, number: int, form_id: str) -> BaseResponse:
    entry = _entry(code, event_id, number, form_id)
    whole = request.form.get("whole") == "1"
    keys = None if whole else request.form.getlist("item")
    version = request.form.get("row_version", "")
    if not version.isdigit() or len(version) > 9:
        raise Invalid()
    try:
        marked = sdv.verify(request_context(), entry, keys, int(version))
    except (Conflict, Invalid) as refused:
        flash(refused.message or _("This cannot be done now."), "error")
    else:
        flash(
            _("%(num)d items verified.", num=len(marked))
            if marked
            else _("Nothing left to verify.")
        )
    return _back(entry)


@bp.get("/queries")
@requires(Permission.SUBJECT_VIEW)
def query_list() -> Response:
    ctx = request_context()
    filters = queries.parse_filters(request.args.to_dict())
    found = queries.listing(ctx, filters)
    return render(
        "monitoring/queries.html", listing=found, filters=filters, now=ctx.now(),
        status_labels=queries.STATUS_LABELS, status_filters=list(queries.STATUS_FILTERS),
    )  # fmt: skip


@bp.get("/queries/<int:query_id>")
@requires(Permission.SUBJECT_VIEW)
def query_thread(query_id: int) -> Response:
    ctx = request_context()
    thread = review_targets.thread(ctx, queries.find(ctx, query_id))
    return render("monitoring/thread.html", thread=thread, status_labels=queries.STATUS_LABELS,
                  kind_labels=queries.KIND_LABELS)  # fmt: skip


@bp.post("/queries/<int:query_id>/<kind>")
@requires(Permission.SUBJECT_VIEW)
def query_step(query_id: int, kind: str) -> BaseResponse:
    ctx, text = request_context(), _field("text")
    query = queries.find(ctx, query_id)
    thread = review_targets.thread(ctx, query)
    try:
        queries.step(ctx, thread.entry, query, kind, text)
    except (Conflict, Invalid) as refused:
        back = url_for("monitoring.query_thread", query_id=query_id)
        return _kept(str(queries.KIND_LABELS.get(kind, kind)), request.path, text, refused, back)
    flash(_("Query %(status)s.", status=queries.STATUS_LABELS[queries.Status(query.status)]))
    if request.form.get("back") == "form":
        return _back(thread.entry, f"query-{query.id}")
    return redirect(url_for("monitoring.query_thread", query_id=query_id))


@bp.get("/locks")
@requires(Permission.DATA_LOCK)
def lock_list() -> Response:
    ctx = request_context()
    found = review_targets.lock_page(ctx)
    return render("monitoring/locks.html", page=found, level_labels=locks.LEVEL_LABELS)


@bp.post("/locks")
@requires(Permission.DATA_LOCK)
def place_lock() -> BaseResponse:
    ctx = request_context()
    target = review_targets.lock_target(ctx, {k: _field(k) for k in review_targets.LOCK_FIELDS})
    try:
        locks.place(ctx, target, _field("reason"))
    except (Conflict, Invalid) as refused:
        flash(refused.message, "error")
    else:
        flash(_("Locked: %(what)s.", what=review_targets.describe(target)))
    return redirect(_safe_next() or url_for("monitoring.lock_list"))


@bp.post("/locks/<int:lock_id>/lift")
@requires(Permission.DATA_LOCK)
def lift_lock(lock_id: int) -> BaseResponse:
    ctx, reason = request_context(), _field("reason")
    try:
        locks.lift(ctx, lock_id, reason)
    except (Conflict, Invalid) as refused:
        return _kept(
            _("Lift the lock"), request.path, reason, refused, url_for("monitoring.lock_list")
        )
    flash(_("Lock lifted."))
    return redirect(_safe_next() or url_for("monitoring.lock_list"))


@bp.get("/registry")
@requires(Permission.REGISTRY_WATCH)
def registry_outbox() -> Response:
    return render("monitoring/registry.html", studies=overview.page(request_context()))


@bp.post("/registry/<slug>/retry")
@requires(Permission.REGISTRY_WATCH)
def registry_retry(slug: str) -> BaseResponse:
    ctx = request_context()
    raw = request.form.getlist("item")[: outbox.MAX_RETRY + 1]
    ids = [int(v) if v.isdigit() and len(v) <= 12 else -1 for v in raw]  # -1 matches nothing
    study = overview.study(ctx, slug)
    try:
        if request.form.get("every") == "parked":
            count = outbox.retry_all(ctx, study)
        else:
            count = outbox.retry(ctx, study, ids)
    except Invalid as refused:
        flash(refused.message, "error")
    else:
        flash(
            ngettext(
                "%(num)d item will be sent again now.",
                "%(num)d items will be sent again now.",
                count,
            )
        )
    return redirect(url_for("monitoring.registry_outbox"))


def _safe_next() -> str | None:
    """Back to the page the form was on: a local path only."""
    target = request.form.get("next", "")
    if target.startswith("/") and not target.startswith("//") and len(target) < 500:
        return target
    return None


@bp.route("/sites/<site_code>/sdv-plan", methods=["GET", "POST"])
@requires(Permission.SDV_PLAN)
def sdv_plan(site_code: str) -> Response | BaseResponse:
    ctx = request_context()
    site = review_targets.site_for(ctx, site_code, Permission.SDV_PLAN)
    error, status = "", 200
    if request.method == "POST":
        given = _field("percent")
        percent = int(given) if given.isdigit() and len(given) < 4 else 0
        try:
            sdv.set_plan(ctx, site, _field("mode"), percent, _field("reason"))
        except Invalid as refused:
            error, status = refused.message, 422
        else:
            flash(_("The SDV plan of %(site)s is recorded.", site=site.code))
            return redirect(url_for("monitoring.sdv_plan", site_code=site.code))
    page = review_targets.plan_page(ctx, site)
    return render(
        "monitoring/sdv_plan.html", status=status, page=page, error=error, form=request.form,
        mode_labels=sdv.MODE_LABELS,
    )  # fmt: skip
