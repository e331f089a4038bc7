"""CRF data entry: the form page, live re-evaluation (htmx), saving, conflicts, item history."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Blueprint, Response, abort, flash, redirect, request, url_for
from flask_babel import get_locale
from werkzeug.wrappers import Response as BaseResponse

import forms_dsl
from edc import access, dates, forms_bridge, lifecycle
from edc.access import ROLE_LABELS, Permission, requires
from edc.forms import EmptyForm
from edc.i18n import _
from edc.item_address import field_of, version_entered
from edc.services import (
    crf_page,
    data_entry,
    derived_events,
    entries,
    event_text,
    identifiers,
    queries,
    reasons,
    repeat_rows,
    review_panel,
    signing,
)
from edc.services.crf_values import posted_from_stored
from edc.services.data_entry import Outcome
from edc.web import render, request_context

bp = Blueprint("crf", __name__, url_prefix="/subjects/<code>/crf/<event_id>/<int:number>")
#: Set by static/js/app.js on live re-evaluation: the inputs changed since its last reply.
CHANGED = "X-CRF-Changed"


def _entry(
    code: str, event_id: str, number: int, form_id: str, *, identity: bool = False
) -> entries.Entry:
    """The entry, or 404 when the subject is out of scope or the event has no such form."""
    ctx = request_context()
    entry = entries.find_entry(ctx, code, event_id, number, form_id, identity=identity)
    if entry is None:
        access.not_found(
            ctx.session, ctx.actor, "form_record", f"{code}/{event_id}/{number}/{form_id}"
        )
    return entry


def _posted(entry: entries.Entry) -> dict[str, str | list[str]]:
    """The answers from the request; checkbox groups keep all their values. Reasons,
    confirmations and row markers (names with a colon) are not answers."""
    multi = {f.id for f in entry.form if f.type.value == "multichoice"}
    posted: dict[str, str | list[str]] = {}
    for key in request.form:
        if key in ("csrf_token", "row_version", "action") or ":" in key:
            continue
        field_id = field_of(key)
        posted[key] = request.form.getlist(key) if field_id in multi else request.form.get(key, "")
    return posted


def _posted_rows(entry: entries.Entry, posted: dict) -> dict[str, list[int]]:
    """The rows of each repeating section in the request; more than a section allows is refused
    before anything is evaluated or read."""
    markers = {
        key[len(repeat_rows.MARKER) :]: request.form.getlist(key)
        for key in request.form
        if key.startswith(repeat_rows.MARKER)
    }
    return repeat_rows.posted_rows(entry.form, posted, markers)  # too many rows: Invalid (422)


def _typed_reasons() -> dict[str, reasons.Typed]:
    return reasons.typed(request.form.items(multi=True))


def _page(
    entry: entries.Entry,
    posted: dict,
    rows: dict[str, list[int]],
    *,
    status: int = 200,
    live: bool = False,
    block: str | None = None,
    conflict: data_entry.SaveResult | None = None,
    evaluation: forms_dsl.Evaluation | None = None,
    row_version: int | None = None,
    oob_sections: frozenset[str] = frozenset(),
    echo: bool = False,
    from_store: bool = False,
) -> Response:
    """The CRF page; `echo`: it answers a post of the whole form, so it holds what was typed;
    `from_store`: it shows the record as stored (not what the browser sent); `evaluation`: the
    one a refused save made, shown as it is."""
    ctx, lang = request_context(), str(get_locale())
    page = crf_page.state(
        ctx, entry, posted, rows, evaluation=evaluation, sections=oob_sections or None,
        shown=conflict.stored if conflict else (), from_store=from_store,
    )  # fmt: skip
    changes, removed = _pending(entry.form, page.pending, lang)
    as_read = page.posted  # stored dates as the reader writes them; typed ones exactly as typed
    if from_store or page.read_only:
        as_read = dates.posted_as_written(entry.form, page.posted, lang)
    view = forms_bridge.page(
        entry.form, as_read, page.evaluation, lang, live=live, changes=changes,
        removed=removed, reasons=_typed_reasons(),
        standard_reasons=reasons.standard(entry.study, lang),
        history_paths=frozenset(entry.stored), rows=rows, masked=page.hidden,
        mask=identifiers.masked_text() if page.hidden else "", warning_key=data_entry.warning_key,
    )  # fmt: skip
    return render(
        "crf/page.html",
        block=block,
        status=status,
        entry=entry,
        sections=view.sections,
        pending=view.reasons,
        decisions=view.decisions,
        decision_sections=view.decision_sections,
        problems=[] if live else view.problems,
        oob_sections=oob_sections,
        form_title=entry.form.title.get(lang),
        csrf=view.form,
        row_version=entry.row_version if row_version is None else row_version,
        conflict=conflict,
        conflict_rows=(
            _conflict_rows(entry.form, page.posted, conflict, lang, page.hidden) if conflict else []
        ),
        read_only=page.read_only,
        locked=page.locked,
        waiting=page.waiting,
        status_labels=lifecycle.LABELS,
        echo=echo,
        **_signed(entry, whole=block is None, locked=page.locked),
        **_review(entry, lang, whole=block is None),
    )


def _review(entry: entries.Entry, lang: str, *, whole: bool) -> dict[str, object]:
    """The review part of a whole page (a fragment has none): SDV, queries, the lock."""
    ctx = request_context()
    item_queries = queries.open_by_item(ctx, entry.record)  # badges: on redraws too
    if not whole:
        return {"review": None, "item_queries": item_queries}
    paths = frozenset(entry.stored)
    return {
        "item_queries": item_queries,
        "review": review_panel.panel(ctx, entry),
        "item_label": lambda key: forms_bridge.item_label(entry.form, key, paths, lang),
        "item_text": lambda key, value: forms_bridge.item_text(entry.form, key, value, lang),
        "kind_labels": queries.KIND_LABELS,
        "query_status_labels": queries.STATUS_LABELS,
    }


def _signed(entry: entries.Entry, *, whole: bool, locked: bool) -> dict[str, object]:
    """The signatures covering the record, whether the reader may sign it now (signable, not
    yet validly signed), and its status as every page shows it (a lock first, then a valid
    signature: `lifecycle.shown`), for a whole page (a fragment shows none of them)."""
    ctx, record = request_context(), entry.record
    status = record.status if record is not None else None
    if not whole:
        return {"signatures": [], "may_sign": False, "shown_status": status}
    signatures = signing.shown_for_record(ctx, entry.subject, record)
    signed = any(s.valid for s in signatures)
    signable = record is not None and lifecycle.status_of(record.status) in lifecycle.SIGNABLE
    return {
        "signatures": signatures,
        "may_sign": signable and signing.may_sign(ctx, entry.subject) and not signed,
        "shown_status": lifecycle.shown(status, locked=locked, signed=signed).value,
    }


def _pending(
    form: forms_dsl.Form, pending: list[data_entry.Change], lang: str
) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """A complete record's changes that need a reason, as shown: changed items (old, new) and
    removed ones (old), so the reasons are asked as the nurse goes, and kept."""
    changed: dict[str, tuple[str, str]] = {}
    removed: dict[str, str] = {}
    for c in pending:
        old = forms_bridge.item_text(form, c.path, c.old, lang)
        if c.removed:
            removed[c.path] = old
        else:
            changed[c.path] = (old, forms_bridge.item_text(form, c.path, c.new, lang))
    return changed, removed


def _conflict_rows(
    form: forms_dsl.Form,
    posted: Mapping[str, object],
    conflict: data_entry.SaveResult,
    lang: str,
    hidden: frozenset[str] = frozenset(),
) -> list[tuple[str, str, str]]:
    """(item, your input, stored now) for every answer that differs, items named as the page
    names them: the field's label, and its row's number on the page; masked items (`hidden`)
    are named but not shown."""
    stored = posted_from_stored(form, conflict.stored)
    mine = {k: forms_bridge.item_answer(form, k, v, lang) for k, v in posted.items()}
    theirs = {k: forms_bridge.item_answer(form, k, v, lang) for k, v in stored.items()}

    def shown(path: str, text: str) -> str:
        return identifiers.masked_text() if field_of(path) in hidden else text

    return [
        (forms_bridge.item_label(form, path, mine.keys() | theirs.keys(), lang),
         shown(path, mine.get(path, "")), shown(path, theirs.get(path, "")))
        for path in forms_bridge.in_page_order(form, mine.keys() | theirs.keys())
        if mine.get(path, "") != theirs.get(path, "")
    ]  # fmt: skip


@bp.route("/<form_id>")
@requires(Permission.SUBJECT_VIEW)
def form_page(code: str, event_id: str, number: int, form_id: str) -> Response:
    entry = _entry(code, event_id, number, form_id)
    posted, rows = crf_page.opening(entry)
    return _page(entry, posted, rows, live=True, from_store=True)


@bp.route("/<form_id>/evaluate", methods=["POST"])
@requires(Permission.DATA_ENTER)
def form_evaluate(code: str, event_id: str, number: int, form_id: str) -> Response:
    """htmx: re-evaluate on change (branching, calculations, inline errors); stores nothing."""
    entry = _entry(code, event_id, number, form_id, identity=True)  # the age needs the vault
    posted = _posted(entry)
    rows = _posted_rows(entry, posted)
    version = request.form.get("row_version", type=int)
    touched = forms_bridge.sections_touched(entry.form, request.headers.get(CHANGED, ""))
    if touched is None:  # not told which answer changed: the whole form
        return _page(entry, posted, rows, live=True, block="crf", row_version=version)
    response = _page(
        entry, posted, rows, live=True, block="crf_oob", row_version=version,
        oob_sections=touched,
    )  # fmt: skip
    response.headers["HX-Reswap"] = "none"  # the sections swap themselves in, by id
    return response


@bp.route("/<form_id>", methods=["POST"])
@requires(Permission.DATA_ENTER)
def form_save(code: str, event_id: str, number: int, form_id: str) -> BaseResponse:
    """Parse the request, save (one service), show what came of it. A refused save's page
    shows the evaluation the save made: nothing is evaluated or read from the vault again."""
    entry = _entry(code, event_id, number, form_id, identity=True)  # the age needs the vault
    if not EmptyForm().validate_on_submit():
        abort(400)  # the CSRF token (the CRF form's own); the answers are judged by forms_dsl
    posted = _posted(entry)
    rows = _posted_rows(entry, posted)
    action = request.form.get("action", "draft")
    expected = request.form.get("row_version", type=int)
    if action.startswith(("add_row:", "remove_row:")):
        posted, rows = repeat_rows.changed_rows(entry.form, entry.record, posted, rows, action)
        return _page(entry, posted, rows, live=True, row_version=expected, echo=True)
    asked = data_entry.SaveRequest(
        posted,
        expected_version=expected if expected is not None else -1,
        complete=action == "complete",
        reasons=reasons.given(_typed_reasons(), entry.study),
        confirmed={k[8:]: v for k, v in request.form.items() if k.startswith("confirm:") and v},
        rows=rows,
    )
    result = data_entry.save(request_context(), entry, asked)
    if result.outcome is Outcome.SAVED:
        flash(_("Form saved.") if action != "complete" else _("Form marked complete."))
        if action == "stay":  # a long form, saved on the way: carry on where you were
            return redirect(url_for("crf.form_page", code=code, event_id=event_id,
                                    number=number, form_id=form_id))  # fmt: skip
        return redirect(url_for("subjects.subject_detail", code=code))
    if result.outcome is Outcome.CONFLICT:
        fresh = _entry(code, event_id, number, form_id)
        return _page(fresh, posted, rows, status=409, conflict=result, echo=True)
    if result.outcome is Outcome.READ_ONLY:
        abort(403)
    return _page(
        entry, posted, rows, status=422, row_version=expected, echo=True,
        evaluation=result.evaluation,
    )  # fmt: skip


@bp.route("/<form_id>/history/<path>")
@requires(Permission.SUBJECT_VIEW)
def item_history(code: str, event_id: str, number: int, form_id: str, path: str) -> Response:
    entry = _entry(code, event_id, number, form_id)
    ctx, lang = request_context(), str(get_locale())
    history = data_entry.item_history(ctx, entry, path)

    def shown(value: object) -> str:
        if history.masked:
            return identifiers.masked_text()
        return forms_bridge.item_text(entry.form, path, value, lang)

    return render(
        "crf/history.html",
        block="history",
        events=history.events,
        causes=history.causes,
        action_label=event_text.action_label,
        label=forms_bridge.item_label(entry.form, path, {path}, lang),
        shown=shown,
        value_of=derived_events.value_of,
        cause_of=derived_events.cause_of,
        version_entered=version_entered,
        role_labels=ROLE_LABELS,
    )
