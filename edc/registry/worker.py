"""The registry worker: one pass sends what is due, one Bundle per subject.

Delivery is at least once and its effect exactly once: a row is marked sent only after the
registry answered 2xx, so a crash between the two sends the same Bundle again, and the
registry's conditional requests make the second copy change nothing. Before sending, consent is
asked again (it may have been withdrawn since the lock) and the lock checked (it may have been
lifted): what may no longer go is withheld or cancelled, never sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from edc import audit
from edc.context import Context
from edc.models.crf import FormRecord
from edc.models.registry import RegistryOutbox
from edc.models.subjects import Subject
from edc.registry import client, fhir_check, gather, outbox, payload
from edc.registry.outbox import CANCELLED, CONSENT, RECORD, WITHHELD
from edc.services import consent_scope, locks
from edc.settings import Settings

Send = Callable[[Settings, bytes], client.Answer]
Probe = Callable[[Settings], bool]
#: Rows taken per pass (a pass holds them until it ends).
PASS_SIZE = 100


@dataclass
class PassResult:
    """What one pass did, in rows (`bundles`: Bundles the registry accepted)."""

    bundles: int = 0
    sent: int = 0
    failed: int = 0
    parked: int = 0
    withheld: int = 0
    cancelled: int = 0
    #: Rows that were waiting out earlier failures, due again now that the registry answers.
    woken: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def worked(self) -> int:
        return self.sent + self.failed + self.parked + self.withheld + self.cancelled + self.woken


def push_once(
    ctx: Context,
    limit: int = PASS_SIZE,
    send: Send = client.post_bundle,
    probe: Probe = client.reachable,
) -> PassResult:
    """Send every due row (up to `limit`), subject by subject. With nothing due while rows wait
    out earlier failures, ask whether the registry is back, and if so make them due now. The
    caller commits."""
    result = PassResult()
    if not ctx.config.registry_url:
        return result  # not configured: everything stays queued
    rows = outbox.claim_due(ctx, limit)
    if not rows:
        if outbox.waiting_out_failures(ctx) and probe(ctx.config):
            result.woken = outbox.wake(ctx)
        return result
    by_subject: dict[int, list[RegistryOutbox]] = {}
    for row in rows:
        by_subject.setdefault(row.subject_id, []).append(row)
    for subject_id, group in by_subject.items():
        subject = ctx.session.get(Subject, subject_id)
        assert subject is not None
        _push_subject(ctx, subject, group, result, send)
    ctx.session.flush()
    if result.bundles and not result.failed:
        result.woken = outbox.wake(ctx)
    return result


def _push_subject(
    ctx: Context, subject: Subject, rows: list[RegistryOutbox], result: PassResult, send: Send
) -> None:
    records = [r for r in rows if r.kind == RECORD]
    told = [r for r in rows if r.kind == CONSENT]
    if not consent_scope.allows(ctx, subject, outbox.REGISTRY_OPTION):
        outbox.mark_closed(records, WITHHELD, "consent no longer allows registry transfer")
        result.withheld += len(records)
        if told:  # the withdrawal itself: the registry learns the consent is inactive
            _send(ctx, subject, told, [], result, send, allowed=False)
        return
    stored = {
        r.id: r for r in gather.load_records(ctx, [r.record_id for r in records if r.record_id])
    }
    locked = locks.locked_forms(
        ctx, subject, [(r.occurrence_id, r.form_id) for r in stored.values()]
    )
    live: list[RegistryOutbox] = []
    gone: list[RegistryOutbox] = []
    for row in records:
        record = stored.get(row.record_id or 0)
        still = record is not None and (record.occurrence_id, record.form_id) in locked
        (live if still else gone).append(row)
    outbox.mark_closed(gone, CANCELLED, "unlocked before it was sent")
    result.cancelled += len(gone)
    if live or told:
        chosen = [stored[r.record_id or 0] for r in live]
        _send(ctx, subject, live + told, chosen, result, send, allowed=True)


def _send(
    ctx: Context,
    subject: Subject,
    rows: Sequence[RegistryOutbox],
    records: Sequence[FormRecord],
    result: PassResult,
    send: Send,
    *,
    allowed: bool,
) -> None:
    """`allowed`: whether consent grants transfer now, as the caller just asked."""
    facts = gather.subject_facts(ctx, subject, records, with_tokens=allowed)
    withdrawn = facts.consent is not None and facts.consent.withdrawn  # read with the facts
    bundle = payload.bundle(facts, withdrawn=withdrawn and not allowed)
    problems = fhir_check.bundle_problems(bundle)
    if problems:  # our fault, never the registry's: park at once, with what is wrong
        _failed(
            ctx, subject, rows, "invalid payload: " + "; ".join(problems[:5]), result, park=True
        )
        return
    body = payload.encode(bundle)
    sha = hashlib.sha256(body).hexdigest()
    try:
        answer = send(ctx.config, body)
    except client.Unreachable as err:
        _failed(ctx, subject, rows, f"unreachable: {err}", result)
        return
    if not answer.ok:
        excerpt = answer.body[:500].decode("utf-8", "replace")
        _failed(ctx, subject, rows, f"HTTP {answer.status}: {excerpt}", result)
        return
    outbox.mark_sent(ctx, rows, sha)
    result.bundles += 1
    result.sent += len(rows)
    audit.record(
        ctx.session, ctx.actor, "registry.pushed", entity_type="subject",
        entity_id=subject.study_code, site_code=subject.site.code,
        new={"records": [r.key for r in facts.records], "sha256": sha,
             "consent": facts.consent.active if facts.consent else None},
    )  # fmt: skip


def _failed(
    ctx: Context,
    subject: Subject,
    rows: Sequence[RegistryOutbox],
    error: str,
    result: PassResult,
    park: bool = False,
) -> None:
    result.errors.append(f"{subject.study_code}: {error}")
    if park:
        outbox.mark_closed(rows, outbox.PARKED, error)
        parked = True
    else:
        parked = outbox.mark_failed(ctx, rows, error)
    if not parked:
        result.failed += len(rows)
        return
    result.parked += len(rows)
    audit.record(
        ctx.session, ctx.actor, "registry.parked", entity_type="subject",
        entity_id=subject.study_code, site_code=subject.site.code,
        new={"items": [r.id for r in rows], "error": error[:500]},
    )  # fmt: skip
