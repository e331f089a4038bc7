"""FHIR R4 resources for the registry, built from plain facts (docs/registry-payload.md).

Pure: no database, no Flask. The same facts always give the same bytes (entry ids are uuid5s
of business identifiers, nothing carries a clock of its own), so a record pushed twice sends the
same Bundle and the registry's conditional requests make the second push change nothing.
Nothing here can reach the identity vault: the facts hold a pseudonym, codes and answers only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: The portal's FHIR base: identifier systems, canonical URLs and extensions start with it.
BASE = "https://fhir.siopen-edc.org"
TOKEN_URL = f"{BASE}/StructureDefinition/linkage-token"
CLK_URL = f"{BASE}/StructureDefinition/linkage-clk"
OPTION_SYSTEM = f"{BASE}/CodeSystem/consent-option"
STUDY_SYSTEM = f"{BASE}/study"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
CONSENT_CATEGORY = "http://terminology.hl7.org/CodeSystem/consentcategorycodes"
PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
SIGNATURE_TYPE = "urn:iso-astm:E1762-95:2013"
AUTHOR_SIGNATURE = "1.2.840.10065.1.12.1.1"

#: A subject's status in the portal → ResearchSubject.status (R4 research-subject-status).
SUBJECT_STATUS = {
    "registered": "candidate",
    "screening_failed": "ineligible",
    "enrolled": "on-study",
    "withdrawn": "withdrawn",
    "lost_to_follow_up": "off-study",
    "deceased": "off-study",
    "completed": "off-study",
}

Resource = dict[str, Any]


def system(study: str, what: str) -> str:
    """The identifier system of a kind of thing in a study (`…/siopen-nb/subject`)."""
    return f"{BASE}/{study}/{what}"


def questionnaire_url(study: str, form_id: str) -> str:
    return f"{BASE}/{study}/Questionnaire/{form_id}"


@dataclass(frozen=True)
class Tokens:
    """The linkage tokens computed at the site (`edc.registry.linkage`)."""

    exact: str
    clk: bytes


@dataclass(frozen=True)
class ConsentFacts:
    reference: str
    document: str
    version: str
    since: datetime
    #: Each optional item as it stands now (withdrawals applied).
    options: Mapping[str, bool]
    #: In force, and the registry option granted: `active`; otherwise `inactive`.
    active: bool
    #: All further collection withdrawn under it (the ResearchSubject is sent withdrawn).
    withdrawn: bool = False


@dataclass(frozen=True)
class SignatureFacts:
    signature_id: int
    signer_id: int
    signed_at: datetime


@dataclass(frozen=True)
class RecordFacts:
    """One locked form record, its answers already cut to the allow-list."""

    key: str
    form_id: str
    version: int
    #: When it was last changed (None: not known, left out).
    authored: datetime | None
    #: The response's items (`edc.registry.responses` builds them from the form and values).
    items: Sequence[Resource]
    signatures: Sequence[SignatureFacts] = ()
    #: `completed`; an export also carries drafts (`in-progress`).
    status: str = "completed"


@dataclass(frozen=True)
class SubjectFacts:
    study: str
    study_title: str
    code: str
    site: str
    status: str
    consent: ConsentFacts | None = None
    tokens: Tokens | None = None
    records: Sequence[RecordFacts] = field(default_factory=tuple)


def _ref(url: str) -> dict[str, str]:
    return {"reference": url}


def urn(system_url: str, value: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{system_url}|{value}')}"


def _instant(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def _coding(system_url: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system_url, "code": code}]}


def _entry(full_url: str, resource: Resource, method: str, url: str, **extra: str) -> Resource:
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {"method": method, "url": url, **extra},
    }


def _conditional(type_: str, system_url: str, value: str) -> str:
    return f"{type_}?identifier={system_url}|{value}"


def patient(facts: SubjectFacts) -> Resource:
    """The pseudonym, the site, and the linkage tokens: nothing else about the child."""
    resource: Resource = {
        "resourceType": "Patient",
        "identifier": [{"system": system(facts.study, "subject"), "value": facts.code}],
        "managingOrganization": {
            "identifier": {"system": system(facts.study, "site"), "value": facts.site}
        },
    }
    if facts.tokens is not None:
        resource["extension"] = [
            {"url": TOKEN_URL, "valueString": facts.tokens.exact},
            {"url": CLK_URL, "valueBase64Binary": base64.b64encode(facts.tokens.clk).decode()},
        ]
    return resource


def research_study(facts: SubjectFacts) -> Resource:
    return {
        "resourceType": "ResearchStudy",
        "identifier": [{"system": STUDY_SYSTEM, "value": facts.study}],
        "title": facts.study_title,
        "status": "active",
    }


def consent(facts: SubjectFacts, consent_facts: ConsentFacts, patient_url: str) -> Resource:
    """Status, the document and version signed, and one provision per optional item."""
    return {
        "resourceType": "Consent",
        "identifier": [
            {"system": system(facts.study, "consent"), "value": consent_facts.reference}
        ],
        "status": "active" if consent_facts.active else "inactive",
        "scope": _coding(CONSENT_SCOPE, "research"),
        "category": [_coding(CONSENT_CATEGORY, "research")],
        "patient": _ref(patient_url),
        "dateTime": _instant(consent_facts.since),
        "policy": [
            {"uri": f"{system(facts.study, 'consent-document')}/{consent_facts.document}"
             f"|{consent_facts.version}"}
        ],
        "provision": {
            "type": "permit",
            "period": {"start": _instant(consent_facts.since)},
            "provision": [
                {"type": "permit" if granted else "deny", "code": [_coding(OPTION_SYSTEM, item)]}
                for item, granted in sorted(consent_facts.options.items())
            ],
        },
    }  # fmt: skip


def research_subject(
    facts: SubjectFacts, urls: Mapping[str, str], withdrawn: bool = False
) -> Resource:
    resource: Resource = {
        "resourceType": "ResearchSubject",
        "identifier": [{"system": system(facts.study, "subject"), "value": facts.code}],
        "status": "withdrawn" if withdrawn else SUBJECT_STATUS.get(facts.status, "candidate"),
        "study": _ref(urls["study"]),
        "individual": _ref(urls["patient"]),
    }
    if "consent" in urls:
        resource["consent"] = _ref(urls["consent"])
    return resource


def response(facts: SubjectFacts, record: RecordFacts, patient_url: str) -> Resource:
    resource: Resource = {
        "resourceType": "QuestionnaireResponse",
        "identifier": {"system": system(facts.study, "form-record"), "value": record.key},
        "questionnaire": f"{questionnaire_url(facts.study, record.form_id)}|{record.version}",
        "status": record.status,
        "subject": _ref(patient_url),
        "item": list(record.items),
    }
    if record.authored is not None:
        resource["authored"] = _instant(record.authored)
    return resource


def provenance(
    facts: SubjectFacts, record: RecordFacts, sig: SignatureFacts, target: str
) -> Resource:
    """An investigator's e-signature of the form: who (a site account number, never a name)
    and when; no signature image leaves the site."""
    who = {"identifier": {"system": system(facts.study, "site-user"), "value": str(sig.signer_id)}}
    return {
        "resourceType": "Provenance",
        "id": provenance_id(facts.study, record.key, sig.signature_id),
        "target": [_ref(target)],
        "recorded": _instant(sig.signed_at),
        "agent": [{"type": _coding(PARTICIPANT_TYPE, "author"), "who": who}],
        "signature": [
            {
                "type": [{"system": SIGNATURE_TYPE, "code": AUTHOR_SIGNATURE}],
                "when": _instant(sig.signed_at),
                "who": who,
            }
        ],
    }


def provenance_id(study: str, record_key: str, signature_id: int) -> str:
    """A stable client id (Provenance has no business identifier in R4)."""
    digest = hashlib.sha256(f"{study}|{record_key}|{signature_id}".encode()).hexdigest()
    return f"esig-{digest[:48]}"


def bundle(facts: SubjectFacts, withdrawn: bool = False) -> Resource:
    """The transaction for one subject: who, the study, the consent, the subject and each record
    with its signatures. `withdrawn`: all further collection was withdrawn."""
    subject_sys = system(facts.study, "subject")
    urls = {
        "patient": urn(subject_sys, f"Patient/{facts.code}"),
        "study": urn(STUDY_SYSTEM, facts.study),
    }
    entries = [
        _entry(urls["patient"], patient(facts), "PUT",
               _conditional("Patient", subject_sys, facts.code)),
        _entry(urls["study"], research_study(facts), "POST", "ResearchStudy",
               ifNoneExist=f"identifier={STUDY_SYSTEM}|{facts.study}"),
    ]  # fmt: skip
    if facts.consent is not None:
        consent_sys = system(facts.study, "consent")
        urls["consent"] = urn(consent_sys, facts.consent.reference)
        entries.append(
            _entry(urls["consent"], consent(facts, facts.consent, urls["patient"]), "PUT",
                   _conditional("Consent", consent_sys, facts.consent.reference))
        )  # fmt: skip
    subject_url = urn(subject_sys, f"ResearchSubject/{facts.code}")
    entries.append(
        _entry(subject_url, research_subject(facts, urls, withdrawn), "PUT",
               _conditional("ResearchSubject", subject_sys, facts.code))
    )  # fmt: skip
    entries.extend(_record_entries(facts, urls["patient"]))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _record_entries(facts: SubjectFacts, patient_url: str) -> Iterable[Resource]:
    record_sys = system(facts.study, "form-record")
    for record in sorted(facts.records, key=lambda r: r.key):
        url = urn(record_sys, record.key)
        yield _entry(url, response(facts, record, patient_url), "PUT",
                     _conditional("QuestionnaireResponse", record_sys, record.key))  # fmt: skip
        for sig in record.signatures:
            resource = provenance(facts, record, sig, url)
            yield _entry(urn(record_sys, f"{record.key}#sig{sig.signature_id}"), resource,
                         "PUT", f"Provenance/{resource['id']}")  # fmt: skip


def encode(resource: Resource) -> bytes:
    """The bytes sent: compact JSON with sorted keys, so equal content gives equal bytes."""
    return json.dumps(resource, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
