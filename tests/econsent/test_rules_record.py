"""The rule table and approved versions a consent runs under are in the audit trail: recorded
when first used, and again only when the files say something else."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from econsent import rules_record
from econsent.documents import load_consent
from edc.actor import Actor
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.settings import ROOT
from edc.web import app_context

DEMO = ROOT / "studies" / "siopen-nb"


def _records(slug: str = "siopen-nb") -> list[AuditEvent]:
    found = select(AuditEvent).where(
        AuditEvent.action == rules_record.ACTION, AuditEvent.entity_id == slug
    )
    return list(db.session.scalars(found))


def test_the_rules_in_use_are_recorded_once_and_again_when_they_change(app):
    library = load_consent(DEMO)
    ctx = app_context(Actor.cli())
    assert rules_record.record_if_new(ctx, "siopen-nb", library)
    assert not rules_record.record_if_new(ctx, "siopen-nb", load_consent(DEMO))  # same files
    (first,) = _records()
    assert first.new_value["rules_sha256"] == library.rules.content_hash
    parent = first.new_value["documents"]["parent_consent"]
    assert parent[0]["version"] == 1
    assert parent[0]["effective"] == "2026-01-15"
    assert any(a.startswith("FR:") for a in parent[0]["approvals"])

    edited = dataclasses.replace(
        library, rules=dataclasses.replace(library.rules, version=2, content_hash="0" * 64)
    )
    assert rules_record.record_if_new(ctx, "siopen-nb", edited)
    assert [e.new_value["rules_version"] for e in _records()] == [library.rules.version, 2]
    assert rules_record.record_if_new(ctx, "another-study", library)  # per study
