"""In-app notices: investigators hear of it when a decision about their subject changes.

A risk group or a response computed from saved data can change without anyone opening the form
(a corrected birth date moves the age across a cut-off), so the people who act on it are told.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

import forms_dsl
from edc.access import Role
from edc.context import Context
from edc.models.base import rows_changed
from edc.models.notices import Notice
from edc.models.subjects import Subject
from edc.models.users import RoleAssignment, User
from edc.services import subjects
from edc.services.crf_values import Stored, typed_values
from forms_dsl.text import Text

DECISION_CHANGED = "decision_changed"
#: Unread notices shown at once; older ones wait until these are read.
SHOWN = 20


def _texts(text: Text) -> dict[str, str]:
    """Every language of a text: the reader's language is known only when the notice is read."""
    return dict(text.items)


def _changes(
    form: forms_dsl.Form, old_stored: Mapping[str, Stored], new_stored: Mapping[str, Stored]
) -> list[dict[str, Any]]:
    """The decision tables whose outputs differ between the two states of a record, from a
    decision that had been made (the first classification of a new form is news to nobody)."""
    tables = [
        table
        for table in form.decision_tables.values()
        if any(old_stored.get(i.id) != new_stored.get(i.id) for i in table.inputs)
    ]  # a table none of whose inputs changed answers as before
    if not tables:
        return []
    old_values, new_values = typed_values(form, old_stored), typed_values(form, new_stored)
    changed = []
    for table in tables:
        before = forms_dsl.decide(table, old_values)
        after = forms_dsl.decide(table, new_values)
        if not before.classifiable or before.outputs == after.outputs:
            continue
        outputs = []
        for output in table.outputs:
            old, new = before.outputs.get(output.id), after.outputs.get(output.id)
            labels = {code: _texts(text) for code, text in output.values or () if text}
            outputs.append(
                {
                    "id": output.id,
                    "label": _texts(output.label),
                    "old": old,
                    "new": new,
                    "old_label": labels.get(old or "", {}),
                    "new_label": labels.get(new or "", {}),
                }
            )
        changed.append({"id": table.id, "title": _texts(table.title), "outputs": outputs})
    return changed


_user_table, _role_table = User.__table__, RoleAssignment.__table__
#: Built once: a save that changes a decision runs it (building costs more than running).
_INVESTIGATORS = (
    select(_role_table.c.user_id)
    .join(_user_table, _user_table.c.id == _role_table.c.user_id)
    .where(
        _role_table.c.role == Role.INVESTIGATOR.value,
        _role_table.c.site_id == bindparam("site_id"),
        _role_table.c.revoked_at.is_(None),
        _role_table.c.approved_at.is_not(None),
        _user_table.c.is_active.is_(True),
    )
    .distinct()
    .order_by(_role_table.c.user_id)
)


def _investigators(session: Session, subject: Subject) -> list[int]:
    """Active users holding the investigator role at the subject's site (one query)."""
    return list(session.execute(_INVESTIGATORS, {"site_id": subject.site_id}).scalars())


def decisions_changed(
    ctx: Context,
    subject: Subject,
    form: forms_dsl.Form,
    old_stored: Mapping[str, Stored],
    new_stored: Mapping[str, Stored],
    now: datetime,
    *,
    cause: int | None = None,
) -> list[Notice]:
    """Tell the subject's investigators when a decision table of `form` answers differently.

    Call it after a record of `form` was written, with its items before and after. `cause` is
    the seq of the audit event that made the change when it came from outside the form (e.g. an
    identity correction). One notice per investigator, naming every table that changed.
    """
    session, actor = ctx.session, ctx.actor
    if not form.decision_tables:
        return []
    changed = _changes(form, old_stored, new_stored)
    if not changed:
        return []
    payload = {
        "form": form.id,
        "form_title": _texts(form.title),
        "tables": changed,
        "cause": cause,
        "by": actor.email,
    }
    notices = [
        Notice(
            user_id=user_id,
            subject_id=subject.id,
            kind=DECISION_CHANGED,
            payload=payload,
            created_at=now,
        )
        for user_id in _investigators(session, subject)
    ]
    if notices:
        session.add_all(notices)
        session.flush()
    return notices


@dataclass(frozen=True)
class Change:
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class TableChange:
    title: str
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class NoticeView:
    """A notice as its reader sees it, in the reader's language."""

    id: int
    study_code: str
    created_at: datetime
    form_title: str
    tables: tuple[TableChange, ...]


def _pick(texts: Mapping[str, str], lang: str, fallback: str = "") -> str:
    return texts.get(lang) or texts.get("en") or next(iter(texts.values()), fallback)


def _view(notice: Notice, study_code: str, lang: str) -> NoticeView:
    payload = notice.payload or {}
    tables = tuple(
        TableChange(
            _pick(table.get("title", {}), lang, table.get("id", "")),
            tuple(
                Change(
                    _pick(o.get("label", {}), lang, o.get("id", "")),
                    _pick(o.get("old_label", {}), lang, o.get("old") or "–"),
                    _pick(o.get("new_label", {}), lang, o.get("new") or "–"),
                )
                for o in table.get("outputs", [])
                if o.get("old") != o.get("new")
            ),
        )
        for table in payload.get("tables", [])
    )
    return NoticeView(
        notice.id,
        study_code,
        notice.created_at,
        _pick(payload.get("form_title", {}), lang, payload.get("form", "")),
        tables,
    )


def unread(ctx: Context, lang: str) -> tuple[list[NoticeView], int]:
    """The actor's newest unread notices about subjects they may still see, and how many in all
    (two queries, however many notices)."""
    session, actor = ctx.session, ctx.actor
    assert actor.user is not None
    query = subjects.visible_statement(
        select(Notice, Subject.study_code)
        .join(Subject, Subject.id == Notice.subject_id)
        .where(Notice.user_id == actor.user_id, Notice.read_at.is_(None))
    )
    params = subjects.visible_params(ctx)
    total = session.scalar(select(func.count()).select_from(query.subquery()), params) or 0
    rows = session.execute(
        query.order_by(Notice.created_at.desc(), Notice.id.desc()).limit(SHOWN), params
    )
    return [_view(notice, code, lang) for notice, code in rows], total


def mark_read(ctx: Context, notice_id: int, now: datetime) -> bool:
    """Dismiss one of the actor's own notices; False when it is not theirs (or already read)."""
    session, actor = ctx.session, ctx.actor
    done = rows_changed(
        session.execute(
            update(Notice)
            .where(
                Notice.id == notice_id, Notice.user_id == actor.user_id, Notice.read_at.is_(None)
            )
            .values(read_at=now)
        )
    )
    return bool(done)
