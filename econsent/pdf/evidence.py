"""What the sealed consent copy says, as frozen values the signing session hands over.

The same values are printed in the PDF and attached to it as canonical JSON, so a reader of the
copy and a program checking it see one record. Only the signers are named: the subject appears
by study code, never by name.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: One stroke of a drawn signature: (x, y, milliseconds since the stroke began) per point.
Stroke = tuple[tuple[float, float, int], ...]


@dataclass(frozen=True)
class ConsentDocument:
    """The approved text that was signed: which version, approved by whom, in which language."""

    title: str
    version: str
    approval_reference: str
    language: str
    #: SHA-256 (hex) of the approved text, the value each signature is bound to.
    text_sha256: str


@dataclass(frozen=True)
class Section:
    """One heading and its approved text, already rendered to safe HTML (Markup): a plain str
    is escaped, never trusted."""

    heading: str
    html: Markup


@dataclass(frozen=True)
class SignatureRecord:
    """One signer's signature as the server recorded it (server clock, never the tablet's)."""

    role_code: str
    #: The role in the signer's language, e.g. "Parent or legal guardian".
    role_label: str
    printed_name: str
    #: What the signature means, e.g. "I give consent for my child".
    meaning: str
    signed_at: dt.datetime
    image_png: bytes
    strokes: tuple[Stroke, ...] = ()

    def __post_init__(self) -> None:
        if self.signed_at.tzinfo is None or self.signed_at.utcoffset() != dt.timedelta(0):
            raise ValueError("signed_at must be an aware datetime in UTC")
        if not self.image_png.startswith(PNG_MAGIC):
            raise ValueError("image_png must be a PNG image")

    @property
    def utc_text(self) -> str:
        """The time as printed in the copy: the same in every language."""
        return self.signed_at.strftime("%Y-%m-%d %H:%M:%S UTC")

    @property
    def image_data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.image_png).decode("ascii")


@dataclass(frozen=True)
class Choice:
    """An optional item (biobank, registry transfer, re-contact …) and the answer given."""

    code: str
    label: str
    given: bool


@dataclass(frozen=True)
class ConsentEvidence:
    """Everything the sealed copy carries."""

    document: ConsentDocument
    sections: tuple[Section, ...]
    signatures: tuple[SignatureRecord, ...]
    choices: tuple[Choice, ...]
    site_name: str
    study_code: str
    subject_code: str
    #: The session's audit events, as the audit trail exported them (JSON values; datetimes
    #: are written as ISO 8601).
    audit_events: tuple[Mapping[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not self.signatures:
            raise ValueError("a consent copy needs at least one signature")
        evidence_json(self)  # refuses values JSON cannot carry now, not at sealing time


def copy_filename(evidence: ConsentEvidence) -> str:
    """The name the signer's download gets: study code and version, no signer's name."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in evidence.subject_code)
    version = "".join(c if c.isalnum() or c in "-_." else "-" for c in evidence.document.version)
    return f"consent-{safe}-v{version}.pdf"


def build_evidence(
    *,
    document: ConsentDocument,
    sections: Sequence[Section],
    signatures: Sequence[SignatureRecord],
    choices: Sequence[Choice],
    site_name: str,
    study_code: str,
    subject_code: str,
    audit_events: Sequence[Mapping[str, Any]] = (),
) -> ConsentEvidence:
    """The evidence from lists (as a session has them); signatures in the order they were made."""
    return ConsentEvidence(
        document=document,
        sections=tuple(sections),
        signatures=tuple(sorted(signatures, key=lambda s: s.signed_at)),
        choices=tuple(choices),
        site_name=site_name,
        study_code=study_code,
        subject_code=subject_code,
        audit_events=tuple(dict(event) for event in audit_events),
    )


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} cannot go into the consent evidence")


def evidence_dict(evidence: ConsentEvidence) -> dict[str, Any]:
    """The evidence as JSON values: what the attachment holds once parsed."""
    doc = evidence.document
    document = {
        "title": doc.title,
        "version": doc.version,
        "approval_reference": doc.approval_reference,
        "language": doc.language,
        "text_sha256": doc.text_sha256,
    }
    signatures = [
        {
            "role": s.role_code,
            "role_label": s.role_label,
            "printed_name": s.printed_name,
            "meaning": s.meaning,
            "signed_at": s.signed_at.isoformat(),
            "image_png_base64": base64.b64encode(s.image_png).decode("ascii"),
            "image_png_sha256": hashlib.sha256(s.image_png).hexdigest(),
            "strokes": [[list(point) for point in stroke] for stroke in s.strokes],
        }
        for s in evidence.signatures
    ]
    raw = {
        "format": "siopen-edc consent evidence v1",
        "document": document,
        "sections": [{"heading": s.heading, "html": str(s.html)} for s in evidence.sections],
        "signatures": signatures,
        "choices": [{"code": c.code, "label": c.label, "given": c.given} for c in evidence.choices],
        "site": evidence.site_name,
        "study": evidence.study_code,
        "subject": evidence.subject_code,
        "audit_events": list(evidence.audit_events),
    }
    parsed: dict[str, Any] = json.loads(json.dumps(raw, default=_json_value))
    return parsed


def evidence_json(evidence: ConsentEvidence) -> bytes:
    """Canonical JSON (sorted keys, no spaces, UTF-8): the same evidence, the same bytes."""
    return json.dumps(
        evidence_dict(evidence), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
