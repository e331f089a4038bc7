"""The FHIR R4 export: one `collection` Bundle, streamed entry by entry (memory holds one subject
at a time), with the study, a Questionnaire per stored form version, and per subject its
Patient (the pseudonym only), Consent (the one in force, else the last: active while in force,
one provision per optional item as it stands now), ResearchSubject, a QuestionnaireResponse per
record (drafts as `in-progress`) and a Provenance per investigator signature.

The resources are the registry push's (`edc.registry.payload`), so the two never disagree; the
export differs in carrying every item that may leave the site (not only the registry's
allow-list), drafts too, and no linkage token.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

import forms_dsl
from edc.exports.model import ConsentData, RecordData, Signed, Source, SubjectData
from edc.registry import payload, questionnaire, responses
from edc.registry.payload import (
    ConsentFacts,
    RecordFacts,
    Resource,
    SignatureFacts,
    SubjectFacts,
)

#: A stored record status → QuestionnaireResponse.status.
RESPONSE_STATUS = {"in_progress": "in-progress"}


def _entry(full_url: str, resource: Resource) -> bytes:
    return json.dumps(
        {"fullUrl": full_url, "resource": resource},
        ensure_ascii=False, sort_keys=True, separators=(",", ":"),
    ).encode()  # fmt: skip


def _header(source: Source) -> bytes:
    head = {
        "resourceType": "Bundle",
        "type": "collection",
        "identifier": {"system": f"{payload.BASE}/export", "value": source.file_id},
        "timestamp": source.created_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    text = json.dumps(head, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text[:-1].encode() + b',"entry":['


def write(source: Source, out: IO[bytes], manifest: dict[str, Any]) -> dict[str, Any]:
    """Write the Bundle; counts of subjects and resources (the manifest is left as it is)."""
    out.write(_header(source))
    counts = {"subjects": 0, "resources": 0, "questionnaires": 0}
    first = True
    for chunk in _entries(source, counts):
        out.write(chunk if first else b"," + chunk)
        first = False
        counts["resources"] += 1
    out.write(b"]}")
    return counts


def _entries(source: Source, counts: dict[str, int]) -> Iterator[bytes]:
    layout = source.layout
    study = SubjectFacts(layout.slug, layout.title.get("en"), "", "", "")
    yield _entry(payload.urn(payload.STUDY_SYSTEM, layout.slug), payload.research_study(study))
    for (form_id, version), form in sorted(layout.versions.items()):
        resource = questionnaire.questionnaire(
            form, study_slug=layout.slug, base=payload.BASE, languages=layout.languages
        )
        counts["questionnaires"] += 1
        yield _entry(payload.urn(payload.system(layout.slug, "questionnaire"),
                                 f"{form_id}|{version}"), resource)  # fmt: skip
    for subject in source.subjects:
        counts["subjects"] += 1
        yield from _subject(source, subject)


def _subject(source: Source, subject: SubjectData) -> Iterator[bytes]:
    layout = source.layout
    facts = SubjectFacts(
        layout.slug, layout.title.get("en"), subject.study_code, subject.site_code,
        subject.status, records=[_record(source, subject, r) for r in subject.records],
    )  # fmt: skip
    subject_sys = payload.system(layout.slug, "subject")
    urls = {
        "patient": payload.urn(subject_sys, f"Patient/{subject.study_code}"),
        "study": payload.urn(payload.STUDY_SYSTEM, layout.slug),
    }
    yield _entry(urls["patient"], payload.patient(facts))
    if subject.consent is not None:
        urls["consent"] = payload.urn(payload.system(layout.slug, "consent"),
                                      subject.consent.reference)  # fmt: skip
        yield _entry(urls["consent"], payload.consent(facts, _consent(subject.consent),
                                                      urls["patient"]))  # fmt: skip
    yield _entry(payload.urn(subject_sys, f"ResearchSubject/{subject.study_code}"),
                 payload.research_subject(facts, urls))  # fmt: skip
    record_sys = payload.system(layout.slug, "form-record")
    for record in facts.records:
        url = payload.urn(record_sys, record.key)
        yield _entry(url, payload.response(facts, record, urls["patient"]))
        for sig in record.signatures:
            resource = payload.provenance(facts, record, sig, url)
            del resource["id"]  # a collection's entries are named by their fullUrl alone
            yield _entry(payload.urn(record_sys, f"{record.key}#sig{sig.signature_id}"), resource)


def _record(source: Source, subject: SubjectData, record: RecordData) -> RecordFacts:
    form = source.layout.versions[(record.form_id, record.version)]
    key = f"{subject.study_code}/{record.event_id}/{record.occurrence}/{record.form_id}"
    visit = subject.visit_signatures.get((record.event_id, record.occurrence))
    signed = [s for s in (record.signature, visit, subject.signature) if s is not None]
    return RecordFacts(
        key=key, form_id=record.form_id, version=record.version, authored=_authored(record),
        items=responses.items(
            form, record.values, _all_fields(form), study_slug=source.layout.slug,
            base=payload.BASE,
        ),
        signatures=[_signature(s) for s in signed],
        status=RESPONSE_STATUS.get(record.status, "completed"),
    )  # fmt: skip


def _all_fields(form: forms_dsl.Form) -> frozenset[str]:
    """Every field: `questionnaire.fields_sent` still withholds identifiers and what reads them."""
    return frozenset(form.fields)


def _authored(record: RecordData) -> Any:
    return max((c.at for c in record.changes), default=None)


def _consent(c: ConsentData) -> ConsentFacts:
    """Active while in force (whatever it grants: the provisions say that)."""
    return ConsentFacts(c.reference, c.document, c.version, c.since, c.options,
                        active=c.state == "in_force", withdrawn=c.state == "withdrawn")  # fmt: skip


def _signature(signed: Signed) -> SignatureFacts:
    return SignatureFacts(int(signed.at.timestamp()), signed.signer_id, signed.at)
