"""What a CRF page shows, decided for the view: read-only or not, what is masked, the evaluation
it draws, the changes of a complete record that need a reason, and the identity reads it makes.

A page answering a refused save is given the evaluation that save already made: it is neither
evaluated again nor does it open the identity vault a second time.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import forms_dsl
from edc import lifecycle
from edc.context import Context
from edc.services import consent_scope, data_entry, identifiers, locks, repeat_rows
from edc.services.crf_values import flatten, posted_from_stored
from edc.services.data_entry import Change
from edc.services.entries import Entry

Posted = Mapping[str, str | Sequence[str]]


@dataclass
class PageState:
    """A CRF page's content, before it is drawn."""

    posted: Posted
    evaluation: forms_dsl.Evaluation
    read_only: bool  # nothing to enter: locked, or the actor does not enter data here
    locked: bool  # the record's status allows no change
    hidden: frozenset[str] = frozenset()  # identifier field ids masked for this actor
    #: Why the form cannot be entered yet (the study waits for a consent), "" otherwise.
    waiting: str = ""
    #: A complete record's changes that need a reason, as the nurse makes them.
    pending: list[Change] = field(default_factory=list)


def opening(entry: Entry) -> tuple[dict[str, str | list[str]], dict[str, list[int]]]:
    """The answers and rows a form opens with: as stored, and an empty row for a repeating
    section that has none."""
    posted = posted_from_stored(entry.form, entry.stored)
    stored_rows = repeat_rows.posted_rows(entry.form, posted, {})
    return posted, repeat_rows.first_rows(entry.form, entry.record, stored_rows)


def state(
    ctx: Context,
    entry: Entry,
    posted: Posted,
    rows: Mapping[str, Collection[int]],
    *,
    evaluation: forms_dsl.Evaluation | None = None,
    sections: Collection[str] | None = None,
    shown: Collection[str] = (),
    from_store: bool = False,
) -> PageState:
    """The page of `entry` holding `posted`. `evaluation`: the one a refused save made (reused);
    `sections`: a live redraw of these alone (the vault is opened only if they need it);
    `shown`: stored items the page shows besides the form (a conflict's); `from_store`: the
    page shows the record as stored. Site staff's reads of identifier items are audited."""
    status = entry.record.status if entry.record is not None else None
    occurrence_id = entry.occurrence.id if entry.occurrence is not None else None
    lock = locks.covering(ctx, entry.subject, occurrence_id, entry.form.id)
    locked = lifecycle.is_read_only(status, locked=lock is not None)
    waiting = consent_scope.entry_refusal(ctx, entry.subject, entry.study, entry.form.id)
    read_only = locked or bool(waiting) or not data_entry.may_enter(ctx, entry.subject)
    hidden = identifiers.hidden_from(ctx, entry.subject, entry.form)
    if read_only:  # the record as saved: no vault read, nothing recomputed for a reader
        found = data_entry.as_stored(entry, entry.stored, lang=ctx.language, now=ctx.now())
        page = PageState(
            posted_from_stored(entry.form, entry.stored), found, True, locked, hidden, waiting
        )
    else:
        if hidden:  # what they cannot see is neither taken from the request nor shown
            posted = identifiers.kept_as_stored(entry.form, posted, entry.stored)
        if evaluation is None:
            birth = data_entry.date_of_birth(ctx, entry, sections=sections) if posted else None
            evaluation = data_entry.evaluate(
                entry, posted, birth=birth, lang=ctx.language, now=ctx.now(), rows=rows
            )
        page = PageState(posted, evaluation, False, locked, hidden)
        if lifecycle.needs_reasons(status):
            changes = data_entry.changes_of(
                entry, flatten(evaluation, entry.subject.site.zone), rows
            )
            page.pending = [c for c in changes if c.needs_reason]
    if not hidden:  # site staff: a page showing stored identifier items is an identity read
        seen = [*(c.path for c in page.pending), *shown]
        if from_store or read_only:
            seen += list(entry.stored)
        read = identifiers.shown_items(entry.form, seen)
        identifiers.record_read(ctx, entry.subject, "form", entry.form.id, read)
    return page
