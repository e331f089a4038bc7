"""The data manager's registry page: per study, how many items are pending, sent, parked,
withheld and cancelled, and the ones that need a look (parked, or failing), each named by its
subject and form, with the last error."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from edc import access
from edc.access import Permission
from edc.context import Context
from edc.errors import NotFound
from edc.models.crf import EventOccurrence, FormRecord
from edc.models.studies import Study
from edc.models.subjects import Subject
from edc.registry import outbox


@dataclass(frozen=True)
class StudyOutbox:
    study: Study
    summary: outbox.Summary
    #: outbox row id → what it is ("NB-FR01-0007 · diagnosis/1 · diagnosis", or the consent).
    names: dict[int, str]


def page(ctx: Context) -> list[StudyOutbox]:
    """Every study whose registry push the actor watches, in slug order."""
    ids = sorted({g.study_id for g in ctx.grants if g.study_id is not None})
    studies = [
        s
        for s in ctx.session.scalars(select(Study).where(Study.id.in_(ids)).order_by(Study.slug))
        if access.holds_study(ctx.grants, Permission.REGISTRY_WATCH, s.id)
    ]
    found = []
    for study in studies:
        summary = outbox.summary(ctx, study)
        found.append(StudyOutbox(study, summary, _names(ctx, summary)))
    return found


def study(ctx: Context, slug: str) -> Study:
    """The study named in a URL, for a watcher of its push (others: NotFound, as for anyone)."""
    found = ctx.session.scalar(select(Study).where(Study.slug == slug[:64]))
    if found is None or not access.holds_study(ctx.grants, Permission.REGISTRY_WATCH, found.id):
        raise NotFound()
    return found


def _names(ctx: Context, summary: outbox.Summary) -> dict[int, str]:
    rows = summary.troubled
    found = ctx.session.execute(
        select(Subject.id, Subject.study_code).where(
            Subject.id.in_(sorted({r.subject_id for r in rows}))
        )
    )
    codes = {subject_id: code for subject_id, code in found}
    records = {
        record_id: f"{event_id}/{number} · {form_id}"
        for record_id, event_id, number, form_id in ctx.session.execute(
            select(
                FormRecord.id, EventOccurrence.event_id, EventOccurrence.number, FormRecord.form_id
            )
            .join(EventOccurrence, EventOccurrence.id == FormRecord.occurrence_id)
            .where(FormRecord.id.in_(sorted({r.record_id for r in rows if r.record_id})))
        )
    }
    return {
        r.id: f"{codes.get(r.subject_id, '?')} · {records.get(r.record_id or 0, 'consent')}"
        for r in rows
    }
