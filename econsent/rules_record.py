"""The country rule table and the consent documents a consent is run under, recorded in the
audit trail when they are first used in a given form: the trail then says which rules (version
and hash of `rules.yaml`) and which approved versions were in force for every consent after it,
whoever edited the files and whenever (checklist item 81: a dated, audited rule table)."""

from __future__ import annotations

from sqlalchemy import select

from econsent.documents import ConsentLibrary, Version
from econsent.documents.model import ALL_ACTIVE
from edc import audit
from edc.context import Context
from edc.models.audit import AuditEvent

ACTION = "consent.rules_loaded"
ENTITY = "consent_rules"


def summary(library: ConsentLibrary) -> dict[str, object]:
    """What the trail keeps of a library: the rules' version and hash, and each document's
    versions with their effective dates and approvals (never the texts: they are in the files
    and, signed, in each sealed copy)."""
    return {
        "rules_version": library.rules.version,
        "rules_sha256": library.rules.content_hash,
        "documents": {
            doc.id: [_version(v) for v in doc.versions] for doc in library.documents.values()
        },
    }


def _version(version: Version) -> dict[str, object]:
    """A version as the trail keeps it; with the approvals asking active subjects to consent
    again, and their grace, when any does (who had to sign it is part of what was approved)."""
    kept: dict[str, object] = {
        "version": version.number,
        "effective": version.effective.isoformat(),
        "approvals": sorted(f"{a.site or a.country}:{a.reference}" for a in version.approvals),
    }
    asking = sorted(
        f"{a.site or a.country}:{a.grace_days}d"
        for a in version.approvals
        if a.reconsent == ALL_ACTIVE
    )
    if asking:
        kept["reconsent_all_active"] = asking
    return kept


def record_if_new(ctx: Context, study_slug: str, library: ConsentLibrary) -> bool:
    """Record the library under `study_slug` unless the last record says the same; True if a
    new event was written. Concurrent first uses may both write it: the trail then says it
    twice, never not at all."""
    now = summary(library)
    last = ctx.session.scalar(
        select(AuditEvent.new_value)
        .where(
            AuditEvent.action == ACTION,
            AuditEvent.entity_type == ENTITY,
            AuditEvent.entity_id == study_slug,
        )
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )
    if last == now:
        return False
    audit.record(ctx.session, ctx.actor, ACTION, entity_type=ENTITY, entity_id=study_slug, new=now)
    return True
