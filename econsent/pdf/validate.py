"""Check a sealed consent copy with pyHanko: is it intact, does the seal chain to a trusted root,
when was it sealed, and which PAdES baseline level does it reach.

Whatever the bytes are (a changed byte, a truncated file, not a PDF at all), the answer is a
`SealCheck`, never an exception: the caller stores or shows the result either way.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext

from econsent.pdf import blocking
from econsent.pdf.seal import asn1_certificate

ACCEPTED_CHANGES = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)


@dataclass(frozen=True)
class SealCheck:
    """The outcome, small enough to store beside the copy (checklist item 69)."""

    valid: bool
    intact: bool
    trusted: bool
    signer: str
    sealed_at: dt.datetime | None
    timestamped: bool
    #: "B-B", "B-T", "B-LT" or "B-LTA" for a valid seal; "" otherwise.
    pades_level: str
    summary: str

    def as_dict(self) -> dict[str, object]:
        """JSON values, to store the report beside the copy."""
        return {
            "valid": self.valid,
            "intact": self.intact,
            "trusted": self.trusted,
            "signer": self.signer,
            "sealed_at": self.sealed_at.isoformat() if self.sealed_at else None,
            "timestamped": self.timestamped,
            "pades_level": self.pades_level,
            "summary": self.summary,
        }


def _not_valid(reason: str) -> SealCheck:
    return SealCheck(False, False, False, "", None, False, "", f"not valid: {reason}")


def _level(reader: PdfFileReader, status: PdfSignatureStatus) -> str:
    """ETSI EN 319 142-1 baselines, as far as the document shows them: B-T needs a trusted
    signature time-stamp, B-LT validation data in a DSS, B-LTA a document time-stamp."""
    timestamp = status.timestamp_validity
    if timestamp is None or not (timestamp.intact and timestamp.valid and timestamp.trusted):
        return "B-B"
    if "/DSS" not in reader.root:
        return "B-T"
    doc_timestamps = [s for s in reader.embedded_signatures if s.sig_object_type == "/DocTimeStamp"]
    return "B-LTA" if doc_timestamps else "B-LT"


def _check(pdf: bytes, roots: Sequence[x509.Certificate]) -> SealCheck:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    seals = [s for s in reader.embedded_signatures if s.sig_object_type == "/Sig"]
    if len(seals) != 1:
        return _not_valid(f"{len(seals)} seals found, expected one")
    context = ValidationContext(
        trust_roots=[asn1_certificate(c) for c in roots], allow_fetching=False
    )
    status = blocking.call(validate_pdf_signature, seals[0], signer_validation_context=context)
    unchanged = status.modification_level in ACCEPTED_CHANGES
    valid = bool(status.bottom_line and unchanged)
    timestamp = status.timestamp_validity
    sealed_at = timestamp.timestamp if timestamp is not None else status.signer_reported_dt
    level = _level(reader, status) if valid else ""
    signer = status.signing_cert.subject.human_friendly
    if valid:
        summary = f"valid: PAdES {level}, sealed by {signer} at {sealed_at:%Y-%m-%d %H:%M:%S %Z}"
    elif not status.intact:
        summary = "not valid: the document was changed after sealing"
    elif not status.trusted:
        summary = f"not valid: the seal of {signer} does not chain to a trusted root"
    else:
        summary = "not valid: the document was changed after sealing"
    return SealCheck(
        valid=valid,
        intact=bool(status.intact and unchanged),
        trusted=bool(status.trusted),
        signer=signer,
        sealed_at=sealed_at,
        timestamped=timestamp is not None and bool(timestamp.valid),
        pades_level=level,
        summary=summary,
    )


def validate_sealed(pdf: bytes, trust_roots: Sequence[x509.Certificate]) -> SealCheck:
    """Validate the one seal of `pdf` against `trust_roots` (the seal's and the TSA's roots)."""
    try:
        return _check(pdf, trust_roots)
    except Exception as exc:  # any unreadable input is an answer, not a crash
        return _not_valid(f"unreadable ({type(exc).__name__}: {str(exc)[:200]})")
