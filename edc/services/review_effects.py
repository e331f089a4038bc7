"""What a save of data does to review (DESIGN §3): the verification of each changed item is
undone ("changed after SDV"), the signatures covering the record no longer hold (a new record
in a signed visit or casebook too: it changes what was signed), the open
queries on the changed items are answered by the change, and a soft check confirmed on
completion raises a query. The save calls `after_save` in its transaction, after its events."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import exists, select

import forms_dsl
from edc.context import Context
from edc.item_address import ItemAddress
from edc.models.crf import FormRecord
from edc.models.monitoring import DataQuery, ItemVerification
from edc.services import queries, sdv, signing
from edc.services.entries import Entry


def after_save(
    ctx: Context,
    entry: Entry,
    record: FormRecord,
    changes: Sequence[tuple[str, object, object, str]],
    confirmations: Sequence[tuple[forms_dsl.Issue, str]],
) -> None:
    """`changes`: (item key, old, new, reason) of each item the save changed."""
    if changes and entry.under_review:
        keys = [key for key, *_ in changes]
        reasons = sorted({reason for *_, reason in changes if reason})
        signing.invalidate_for_change(ctx, record, "; ".join(reasons) or ", ".join(keys))
    if changes and entry.under_review and _touches_review(ctx, record, [k for k, *_ in changes]):
        keys = [key for key, *_ in changes]
        reasons = sorted({reason for *_, reason in changes if reason})
        sdv.reset(ctx, entry, record, keys, "; ".join(reasons))
        queries.answered_by_save(
            ctx, entry, record, [(k, old, new) for k, old, new, _r in changes],
            {k: reason for k, _o, _n, reason in changes},
        )  # fmt: skip
    for issue, reason in confirmations:
        key = issue_key(entry.form, issue)
        queries.raised_by_check(ctx, entry, record, key, issue.message, reason)


def _touches_review(ctx: Context, record: FormRecord, keys: list[str]) -> bool:
    """Whether a verification or an open query rests on these items (one statement: most
    saves touch neither, and pay no more)."""
    verified = select(ItemVerification.id).where(
        ItemVerification.record_id == record.id,
        ItemVerification.item_key.in_(keys),
        ItemVerification.reset_at.is_(None),
    )
    asked = select(DataQuery.id).where(
        DataQuery.record_id == record.id,
        DataQuery.item_key.in_(keys),
        DataQuery.status == queries.Status.OPEN.value,
    )
    return bool(ctx.session.scalar(select(exists(verified) | exists(asked))))


def issue_key(form: forms_dsl.Form, issue: forms_dsl.Issue) -> str:
    """The item key a check's finding names (its row's, in a repeating section)."""
    if issue.field not in form.fields:
        return ""
    if issue.row is None:
        return issue.field
    section = next(s for s in form.sections if any(f.id == issue.field for f in s.fields))
    return ItemAddress(issue.field, section.id, issue.row).key
