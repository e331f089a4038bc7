"""Transaction Bundles shaped like the portal's pushes (docs/registry-payload.md), built by hand:
the registry's tests must not need the portal to make them."""

from __future__ import annotations

import base64
import copy
import uuid
from typing import Any

BASE = "https://fhir.siopen-edc.org"
STUDY = "siopen-nb"
SUBJECT = f"{BASE}/{STUDY}/subject"
SITE = f"{BASE}/{STUDY}/site"
CONSENT = f"{BASE}/{STUDY}/consent"
RECORD = f"{BASE}/{STUDY}/form-record"
TOKEN_URL = f"{BASE}/StructureDefinition/linkage-token"
CLK_URL = f"{BASE}/StructureDefinition/linkage-clk"
STUDY_RESOURCE = {
    "resourceType": "ResearchStudy",
    "identifier": [{"system": f"{BASE}/study", "value": STUDY}],
    "title": "SIOPEN neuroblastoma",
    "status": "active",
}


def urn(system: str, value: str) -> str:
    """The fullUrl the portal gives a record: uuid5 of its business identifier."""
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{system}|{value}')}"


def patient(code: str, site: str, token: str | None = None, clk: bytes | None = None) -> dict:
    """A pseudonymised Patient: pseudonym, site, and linkage keys when given."""
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": SUBJECT, "value": code}],
        "managingOrganization": {"identifier": {"system": SITE, "value": site}},
    }
    extensions = []
    if token is not None:
        extensions.append({"url": TOKEN_URL, "valueString": token})
    if clk is not None:
        extensions.append({"url": CLK_URL, "valueBase64Binary": base64.b64encode(clk).decode()})
    if extensions:
        resource["extension"] = extensions
    return resource


def _entry(full_url: str, resource: dict, method: str, url: str, **extra: str) -> dict:
    return {
        "fullUrl": full_url,
        "resource": resource,
        "request": {"method": method, "url": url, **extra},
    }


def _consent(code: str, ref: str, status: str) -> dict:
    return {
        "resourceType": "Consent",
        "identifier": [{"system": CONSENT, "value": ref}],
        "status": status,
        "scope": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"}
            ]
        },
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/consentcategorycodes",
                        "code": "research",
                    }
                ]
            }
        ],
        "patient": {"reference": urn(SUBJECT, code)},
        "dateTime": "2026-03-02T10:00:00+00:00",
        "policy": [{"uri": f"{BASE}/{STUDY}/document/icf|3"}],
        "provision": {
            "type": "permit",
            "provision": [
                {
                    "type": "permit",
                    "code": [
                        {
                            "coding": [
                                {
                                    "system": f"{BASE}/CodeSystem/consent-option",
                                    "code": "registry_transfer",
                                }
                            ]
                        }
                    ],
                }
            ],
        },
    }


def _response(code: str, stage: str) -> dict:
    key = f"{code}/diagnosis/1/diagnosis"
    return {
        "resourceType": "QuestionnaireResponse",
        "identifier": {"system": RECORD, "value": key},
        "questionnaire": f"{BASE}/{STUDY}/Questionnaire/diagnosis|1",
        "status": "completed",
        "subject": {"reference": urn(SUBJECT, code)},
        "authored": "2026-03-05T09:00:00+00:00",
        "item": [
            {
                "linkId": "tumour",
                "item": [{"linkId": "inss_stage", "answer": [{"valueString": stage}]}],
            }
        ],
    }


def _provenance(code: str) -> dict:
    signer = {"identifier": {"system": f"{BASE}/{STUDY}/user", "value": "investigator-7"}}
    return {
        "resourceType": "Provenance",
        "target": [{"reference": urn(RECORD, f"{code}/diagnosis/1/diagnosis")}],
        "recorded": "2026-03-05T09:30:00+00:00",
        "agent": [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                            "code": "author",
                        }
                    ]
                },
                "who": signer,
            }
        ],
        "signature": [
            {
                "type": [
                    {"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.1"}
                ],
                "when": "2026-03-05T09:30:00+00:00",
                "who": signer,
            }
        ],
    }


def _research_subject(code: str, consent_ref: str) -> dict:
    return {
        "resourceType": "ResearchSubject",
        "identifier": [{"system": SUBJECT, "value": code}],
        "status": "on-study",
        "study": {"reference": urn(f"{BASE}/study", STUDY)},
        "individual": {"reference": urn(SUBJECT, code)},
        "consent": {"reference": urn(CONSENT, consent_ref)},
    }


def subject_bundle(
    code: str = "NB-FR01-0007",
    site: str = "FR01",
    *,
    stage: str = "M",
    consent_status: str = "active",
    token: str | None = None,
    clk: bytes | None = None,
) -> dict:
    """One subject's push: Patient, ResearchStudy, Consent, ResearchSubject, one locked form and
    its investigator's signature, with the requests the contract names."""
    consent_ref = f"econsent:{code}"
    form_key = f"{code}/diagnosis/1/diagnosis"
    provenance_id = f"sig-{uuid.uuid5(uuid.NAMESPACE_URL, form_key).hex[:16]}"
    entries = [
        _entry(
            urn(SUBJECT, code),
            patient(code, site, token, clk),
            "PUT",
            f"Patient?identifier={SUBJECT}|{code}",
        ),
        _entry(
            urn(f"{BASE}/study", STUDY),
            STUDY_RESOURCE,
            "POST",
            "ResearchStudy",
            ifNoneExist=f"identifier={BASE}/study|{STUDY}",
        ),
        _entry(
            urn(CONSENT, consent_ref),
            _consent(code, consent_ref, consent_status),
            "PUT",
            f"Consent?identifier={CONSENT}|{consent_ref}",
        ),
        _entry(
            urn(f"{SUBJECT}/rs", code),
            _research_subject(code, consent_ref),
            "PUT",
            f"ResearchSubject?identifier={SUBJECT}|{code}",
        ),
        _entry(
            urn(RECORD, form_key),
            _response(code, stage),
            "PUT",
            f"QuestionnaireResponse?identifier={RECORD}|{form_key}",
        ),
        _entry(
            f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, provenance_id)}",
            _provenance(code),
            "PUT",
            f"Provenance/{provenance_id}",
        ),
    ]
    return {"resourceType": "Bundle", "type": "transaction", "entry": copy.deepcopy(entries)}
