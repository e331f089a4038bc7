"""The evidence refuses what a copy must not carry, serialises the same way every time, and the
stored copy is encrypted with the vault keys."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from econsent.pdf import ConsentEvidence, copy_filename, decrypt_copy, encrypt_copy, evidence_json
from econsent.pdf.evidence import SignatureRecord
from edc.crypto import DecryptionError
from tests.econsent.pdf.conftest import make_evidence, signer


def test_signature_time_must_be_utc() -> None:
    record = signer("parent", "Parent", "Zoé Van den Berg", "I give consent", 0)
    with pytest.raises(ValueError, match="UTC"):
        dataclasses.replace(record, signed_at=dt.datetime(2026, 11, 30, 9, 41))
    paris = dt.timezone(dt.timedelta(hours=1))
    with pytest.raises(ValueError, match="UTC"):
        dataclasses.replace(record, signed_at=dt.datetime(2026, 11, 30, 9, 41, tzinfo=paris))


def test_signature_image_must_be_png() -> None:
    record = signer("parent", "Parent", "Zoé Van den Berg", "I give consent", 0)
    with pytest.raises(ValueError, match="PNG"):
        dataclasses.replace(record, image_png=b"<svg></svg>")


def test_a_copy_needs_a_signature_and_json_values() -> None:
    evidence = make_evidence()
    with pytest.raises(ValueError, match="at least one signature"):
        dataclasses.replace(evidence, signatures=())
    with pytest.raises(TypeError, match="object cannot go into the consent evidence"):
        dataclasses.replace(evidence, audit_events=({"odd": object()},))


def test_evidence_json_is_canonical() -> None:
    first, second = evidence_json(make_evidence()), evidence_json(make_evidence())
    assert first == second
    parsed = json.loads(first)
    assert (
        first
        == json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    assert "Zoé" in first.decode("utf-8")


def test_signatures_are_listed_in_the_order_they_were_made(evidence: ConsentEvidence) -> None:
    times = [s.signed_at for s in evidence.signatures]
    assert times == sorted(times)
    assert isinstance(evidence.signatures[0], SignatureRecord)


def test_stored_copy_round_trips_and_hides_the_pdf(app, sealed: bytes) -> None:
    token = encrypt_copy(sealed)
    assert b"%PDF" not in token
    assert b"Van den Berg" not in token
    assert decrypt_copy(token) == sealed


def test_changed_ciphertext_is_refused(app, sealed: bytes) -> None:
    token = bytearray(encrypt_copy(sealed))
    token[len(token) // 2] = ord("A") if token[len(token) // 2] != ord("A") else ord("B")
    with pytest.raises(DecryptionError):
        decrypt_copy(bytes(token))


def test_download_name_carries_no_signers_name(evidence: ConsentEvidence) -> None:
    assert copy_filename(evidence) == "consent-NB-BE02-0031-v3.2.pdf"
    odd = dataclasses.replace(evidence, subject_code="../x y")
    assert copy_filename(odd) == "consent-..-x-y-v3.2.pdf"
