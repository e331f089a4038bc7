"""CRF data entry: the form page, live re-evaluation (htmx), saving, conflicts, item history."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, request, url_for
from flask_babel import get_locale

import forms_dsl
from edc import access, forms_bridge
from edc.access import ROLE_LABELS, Permission, requires
from edc.actor import current_actor
from edc.extensions import db
from edc.forms import EmptyForm
from edc.i18n import _
from edc.models.base import utcnow
from edc.services import data_entry, entries
from edc.services.crf_values import posted_from_stored
from edc.services.data_entry import Outcome
from edc.views.subjects import STATUS_LABELS
from edc.web import render

bp = Blueprint("crf", __name__, url_prefix="/subjects/<code>/crf/<event_id>/<int:number>")
#: Set by static/js/app.js on live re-evaluation: the inputs changed since its last reply.
CHANGED = "X-CRF-Changed"


def _entry(
    code: str, event_id: str, number: int, form_id: str, *, identity: bool = False
) -> entries.Entry:
    """The entry, or 404 when the subject is out of scope or the event has no such form."""
    entry = entries.find_entry(
        db.session, current_actor(), code, event_id, number, form_id, identity=identity
    )
    if entry is None:
        access.not_found(
            db.session, current_actor(), "form_record", f"{code}/{event_id}/{number}/{form_id}"
        )
    return entry


def _posted(entry: entries.Entry) -> dict[str, str | list[str]]:
    """The answers from the request; checkbox groups keep all their values."""
    multi = {f.id for f in entry.form if f.type.value == "multichoice"}
    posted: dict[str, str | list[str]] = {}
    for key in request.form:
        if key in ("csrf_token", "row_version", "action") or key.startswith(
            ("reason:", "confirm:")
        ):
            continue
        field_id = key.rsplit("-", 1)[-1]
        posted[key] = request.form.getlist(key) if field_id in multi else request.form.get(key, "")
    return posted


def _page(
    entry: entries.Entry,
    posted: dict,
    *,
    status: int = 200,
    live: bool = False,
    block: str | None = None,
    changes: dict | None = None,
    conflict: data_entry.SaveResult | None = None,
    rows: dict | None = None,
    row_version: int | None = None,
    oob_sections: frozenset[str] = frozenset(),
) -> Response:
    actor, lang = current_actor(), str(get_locale())
    locked = entry.record is not None and entry.record.status in data_entry.READ_ONLY
    read_only = locked or not data_entry.may_enter(db.session, actor, entry.subject)
    stored = entry.stored
    if read_only:  # the record as saved: no vault read, nothing recomputed for a reader
        result = data_entry.as_stored(entry, stored, lang=lang, now=utcnow())
        posted = posted_from_stored(entry.form, stored)
    else:
        sections = oob_sections or None  # a live redraw of a few sections may not need it
        birth = (
            data_entry.date_of_birth(db.session, actor, entry, sections=sections)
            if posted
            else None
        )
        result = data_entry.evaluate(entry, posted, birth=birth, lang=lang, now=utcnow())
    view = forms_bridge.page(
        entry.form, posted, result, lang, live=live, changes=changes,
        history_paths=frozenset(stored), rows=rows,
    )  # fmt: skip
    return render(
        "crf/page.html",
        block=block,
        status=status,
        entry=entry,
        sections=view.sections,
        problems=[] if live else view.problems,
        oob_sections=oob_sections,
        form_title=entry.form.title.get(lang),
        csrf=view.form,
        row_version=entry.row_version if row_version is None else row_version,
        conflict=conflict,
        conflict_rows=_conflict_rows(entry.form, posted, conflict, lang) if conflict else [],
        read_only=read_only,
        locked=locked,
        status_labels=STATUS_LABELS,
    )


def _conflict_rows(
    form: forms_dsl.Form, posted: dict, conflict: data_entry.SaveResult, lang: str
) -> list[tuple[str, str, str]]:
    mine = {k: forms_bridge.item_text(form, k, v, lang) for k, v in posted.items()}
    theirs = {k: forms_bridge.item_text(form, k, v, lang) for k, v in conflict.stored.items()}
    return [
        (path, mine.get(path, ""), theirs.get(path, ""))
        for path in sorted(mine.keys() | theirs.keys())
        if mine.get(path, "") != theirs.get(path, "")
    ]


@bp.route("/<form_id>")
@requires(Permission.SUBJECT_VIEW)
def form_page(code: str, event_id: str, number: int, form_id: str) -> Response:
    entry = _entry(code, event_id, number, form_id)
    stored = entry.stored
    return _page(entry, posted_from_stored(entry.form, stored), live=True)


@bp.route("/<form_id>/evaluate", methods=["POST"])
@requires(Permission.DATA_ENTER)
def form_evaluate(code: str, event_id: str, number: int, form_id: str) -> Response:
    """htmx: re-evaluate on change (branching, calculations, inline errors); stores nothing."""
    entry = _entry(code, event_id, number, form_id, identity=True)  # the age needs the vault
    version = request.form.get("row_version", type=int)
    touched = forms_bridge.sections_touched(entry.form, request.headers.get(CHANGED, ""))
    if touched is None:  # not told which answer changed: the whole form
        return _page(entry, _posted(entry), live=True, block="crf", row_version=version)
    response = _page(
        entry, _posted(entry), live=True, block="crf_oob", row_version=version,
        oob_sections=touched,
    )  # fmt: skip
    response.headers["HX-Reswap"] = "none"  # the sections swap themselves in, by id
    return response


@bp.route("/<form_id>", methods=["POST"])
@requires(Permission.DATA_ENTER)
def form_save(code: str, event_id: str, number: int, form_id: str) -> Response:
    entry = _entry(code, event_id, number, form_id, identity=True)  # the age needs the vault
    if not EmptyForm().validate_on_submit():
        abort(400)  # the CSRF token (the CRF form's own); the answers are judged by forms_dsl
    posted = _posted(entry)
    action = request.form.get("action", "draft")
    expected = request.form.get("row_version", type=int)
    if action.startswith(("add_row:", "remove_row:")):
        return _rows(entry, posted, action, expected)
    result = data_entry.save(
        db.session,
        current_actor(),
        entry,
        posted,
        expected_version=expected if expected is not None else -1,
        complete=action == "complete",
        reasons={k[7:]: v for k, v in request.form.items() if k.startswith("reason:")},
        confirmed={k[8:]: v for k, v in request.form.items() if k.startswith("confirm:") and v},
        lang=str(get_locale()),
        now=utcnow(),
    )
    if result.outcome is Outcome.SAVED:
        flash(_("Form saved.") if action != "complete" else _("Form marked complete."))
        if action == "stay":  # a long form, saved on the way: carry on where you were
            return redirect(url_for("crf.form_page", code=code, event_id=event_id,
                                    number=number, form_id=form_id))  # fmt: skip
        return redirect(url_for("subjects.subject_detail", code=code))
    if result.outcome is Outcome.CONFLICT:
        fresh = _entry(code, event_id, number, form_id)
        return _page(fresh, posted, status=409, conflict=result)
    if result.outcome is Outcome.NEEDS_REASONS:
        lang, form = str(get_locale()), entry.form
        changes = {
            c.path: (
                forms_bridge.item_text(form, c.path, c.old, lang),
                forms_bridge.item_text(form, c.path, c.new, lang),
            )
            for c in result.changes
        }
        return _page(entry, posted, status=422, changes=changes, row_version=expected)
    if result.outcome is Outcome.READ_ONLY:
        abort(403)
    return _page(entry, posted, status=422, row_version=expected)


def _rows(entry: entries.Entry, posted: dict, action: str, expected: int | None) -> Response:
    """Add or remove a row of a repeating section; nothing is stored until the nurse saves."""
    parts = action.split(":")
    section = next((s for s in entry.form.sections if s.id == parts[1] and s.repeat), None)
    if section is None:
        abort(404)
    count = forms_bridge.row_count(section, posted)
    if parts[0] == "add_row":
        count = min(count + 1, section.repeat.max)  # type: ignore[union-attr]
    elif len(parts) == 3 and parts[2].isdigit() and count > 0:
        gone = int(parts[2])
        renumbered: dict = {}
        for key, value in posted.items():
            bits = key.split("-")
            if len(bits) == 3 and bits[0] == section.id and bits[1].isdigit():
                index = int(bits[1])
                if index == gone:
                    continue
                key = f"{section.id}-{index - 1 if index > gone else index}-{bits[2]}"
            renumbered[key] = value
        posted, count = renumbered, count - 1
    return _page(entry, posted, live=True, rows={section.id: count}, row_version=expected)


@bp.route("/<form_id>/history/<path>")
@requires(Permission.SUBJECT_VIEW)
def item_history(code: str, event_id: str, number: int, form_id: str, path: str) -> Response:
    entry = _entry(code, event_id, number, form_id)
    if entry.record is None:
        abort(404)
    events = data_entry.item_history(db.session, entry.record, path)
    if not events:
        abort(404)
    lang = str(get_locale())
    return render(
        "crf/history.html",
        block="history",
        events=events,
        path=path,
        shown=lambda value: forms_bridge.item_text(entry.form, path, value, lang),
        role_labels=ROLE_LABELS,
    )
