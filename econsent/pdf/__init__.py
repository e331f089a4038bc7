"""The sealed consent copy: evidence → PDF/A-3b (weasyprint) → PAdES seal (pyHanko) → check,
and its encryption at rest. The signing session builds a `ConsentEvidence` and calls
`seal_consent`; the rest is here for the steps one at a time."""

from __future__ import annotations

from econsent.pdf.evidence import (
    Choice,
    ConsentDocument,
    ConsentEvidence,
    Section,
    SignatureRecord,
    build_evidence,
    copy_filename,
    evidence_dict,
    evidence_json,
)
from econsent.pdf.keys import SealingNotConfigured, trust_roots
from econsent.pdf.render import EVIDENCE_NAME, ExternalResourceRefused, render_pdf, seal_reason
from econsent.pdf.seal import SealingKeys, seal_pdf, sealing_keys
from econsent.pdf.storage import decrypt_copy, encrypt_copy
from econsent.pdf.validate import SealCheck, validate_sealed

__all__ = [
    "EVIDENCE_NAME",
    "Choice",
    "ConsentDocument",
    "ConsentEvidence",
    "ExternalResourceRefused",
    "SealCheck",
    "SealingKeys",
    "SealingNotConfigured",
    "Section",
    "SignatureRecord",
    "build_evidence",
    "copy_filename",
    "decrypt_copy",
    "encrypt_copy",
    "evidence_dict",
    "evidence_json",
    "render_pdf",
    "seal_consent",
    "seal_pdf",
    "sealing_keys",
    "trust_roots",
    "validate_sealed",
]


def seal_consent(evidence: ConsentEvidence, keys: SealingKeys) -> bytes:
    """The sealed copy of `evidence` (inside an app context, for the translations)."""
    pdf = render_pdf(evidence)
    return seal_pdf(pdf, keys, location=evidence.site_name, reason=seal_reason(evidence))
