"""What one subject's push says, read from the database: the pseudonym, the consent as it now
stands, each queued record's allow-listed answers and signatures, and the linkage tokens.

Identity-vault values are read here for one purpose only, the linkage tokens, and never go
into the facts: the tokens are keyed one-way values (`edc.registry.linkage`), and the read is
audited like any other.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from edc import crypto
from edc.context import Context
from edc.models.crf import FormRecord
from edc.models.monitoring import ESignature
from edc.models.subjects import Subject, SubjectIdentity
from edc.registry import linkage, payload, responses
from edc.registry.payload import (
    ConsentFacts,
    RecordFacts,
    SignatureFacts,
    SubjectFacts,
    Tokens,
)
from edc.services import consent_scope, definitions
from edc.services.subjects import Identity, record_identity_read

REGISTRY_OPTION = "registry_transfer"


def consent_facts(ctx: Context, subject: Subject) -> ConsentFacts | None:
    """The consent the registry should hold: the one in force, else the last one (ended or
    lapsed: sent as inactive). Active only while it grants registry transfer."""
    latest = consent_scope.latest_by_subject(ctx, [subject.id]).get(subject.id)
    if latest is None:
        return None
    last = latest.scope
    return ConsentFacts(
        reference=last.reference, document=last.document, version=last.version,
        since=last.since, options=latest.options,
        active=latest.in_force and latest.options.get(REGISTRY_OPTION, False),
        withdrawn=latest.withdrawn,
    )  # fmt: skip


def record_key(record: FormRecord) -> str:
    """The record's business identifier: subject/event/occurrence/form (never a row id)."""
    occurrence = record.occurrence
    return f"{record.subject.study_code}/{occurrence.event_id}/{occurrence.number}/{record.form_id}"


def record_facts(ctx: Context, records: Sequence[FormRecord]) -> list[RecordFacts]:
    """Each record's allow-listed answers and its valid signatures (form, visit or casebook)."""
    if not records:
        return []
    study = definitions.study_model(ctx.session, records[0].subject.study_id)
    signatures = _signatures(ctx, records)
    facts = []
    for record in records:
        form = definitions.form_model(record.form_version)
        allowed = study.registry.allowed(record.form_id) if study is not None else frozenset()
        values = {item.path: item.value for item in record.items}
        facts.append(
            RecordFacts(
                key=record_key(record), form_id=record.form_id,
                version=record.form_version.version, authored=record.updated_at,
                items=responses.items(
                    form, values, allowed, study_slug=record.subject.study.slug,
                    base=payload.BASE, zone=record.subject.site.zone,
                ),
                signatures=[
                    SignatureFacts(s.id, s.signer_id, s.signed_at)
                    for s in signatures
                    if _covers(s, record)
                ],
            )
        )  # fmt: skip
    return facts


def _signatures(ctx: Context, records: Sequence[FormRecord]) -> list[ESignature]:
    subject_ids = {r.subject_id for r in records}
    return list(
        ctx.session.scalars(
            select(ESignature)
            .where(ESignature.subject_id.in_(subject_ids), ESignature.invalidated_at.is_(None))
            .order_by(ESignature.id)
        )
    )


def _covers(signature: ESignature, record: FormRecord) -> bool:
    if signature.subject_id != record.subject_id:
        return False
    if signature.record_id is not None:
        return signature.record_id == record.id
    if signature.occurrence_id is not None:
        return signature.occurrence_id == record.occurrence_id
    return True


def load_records(ctx: Context, record_ids: Sequence[int]) -> list[FormRecord]:
    return list(
        ctx.session.scalars(
            select(FormRecord)
            .where(FormRecord.id.in_(sorted(record_ids)))
            .options(
                selectinload(FormRecord.items),
                selectinload(FormRecord.occurrence),
                selectinload(FormRecord.form_version),
                selectinload(FormRecord.subject),
            )
        )
    )


def tokens(ctx: Context, subject: Subject) -> Tokens | None:
    """The linkage tokens, when the network's secret is configured and the vault holds the
    child's identity; the vault read is audited with its purpose."""
    secret = ctx.config.linkage_secret
    vault = ctx.session.get(SubjectIdentity, subject.id) if secret else None
    if vault is None:
        return None
    identity = Identity.from_json(crypto.decrypt(vault.ciphertext))
    record_identity_read(ctx, subject, {"purpose": "registry linkage tokens"})
    person = linkage.LinkageInput(
        family_name=identity.family_name, given_names=identity.given_names,
        date_of_birth=identity.date_of_birth, sex=identity.sex,
    )  # fmt: skip
    return Tokens(exact=linkage.exact_token(secret, person), clk=linkage.clk(secret, person))


def subject_facts(
    ctx: Context, subject: Subject, records: Sequence[FormRecord], *, with_tokens: bool
) -> SubjectFacts:
    return SubjectFacts(
        study=subject.study.slug, study_title=subject.study.title, code=subject.study_code,
        site=subject.site.code, status=subject.status, consent=consent_facts(ctx, subject),
        tokens=tokens(ctx, subject) if with_tokens else None,
        records=record_facts(ctx, records),
    )  # fmt: skip
