"""The sealed copy validates as intact and trusted (PAdES B-T) against the demo CA, and fails
for another CA, after one changed byte, or when it is not a sealed PDF at all."""

from __future__ import annotations

import re

import pytest

from econsent.pdf import trust_roots, validate_sealed
from edc.settings import Settings


def test_sealed_copy_is_intact_trusted_and_time_stamped(
    sealed: bytes, demo_settings: Settings
) -> None:
    check = validate_sealed(sealed, trust_roots(demo_settings))
    assert check.valid, check.summary
    assert check.intact
    assert check.trusted
    assert check.timestamped
    assert check.pades_level == "B-T"
    assert "Site BE02 consent seal" in check.signer
    assert check.sealed_at is not None
    assert check.summary.startswith("valid: PAdES B-T")
    assert check.as_dict()["pades_level"] == "B-T"
    assert check.as_dict()["sealed_at"] == check.sealed_at.isoformat()


def test_seal_is_not_trusted_against_another_ca(sealed: bytes, other_ca_settings: Settings) -> None:
    check = validate_sealed(sealed, trust_roots(other_ca_settings))
    assert not check.valid
    assert check.intact
    assert not check.trusted
    assert check.pades_level == ""
    assert "does not chain to a trusted root" in check.summary


def _signed_ranges(pdf: bytes) -> list[tuple[int, int]]:
    match = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", pdf)
    assert match is not None
    a, b, c, d = (int(x) for x in match.groups())
    return [(a, a + b), (c, c + d)]


def _flip(pdf: bytes, offset: int) -> bytes:
    changed = bytearray(pdf)
    changed[offset] ^= 0x01
    return bytes(changed)


@pytest.mark.parametrize("where", ["first signed range", "second signed range", "file middle"])
def test_one_changed_byte_makes_the_seal_fail(
    sealed: bytes, demo_settings: Settings, where: str
) -> None:
    (start1, end1), (start2, end2) = _signed_ranges(sealed)
    offset = {
        "first signed range": (start1 + end1) // 2,
        "second signed range": (start2 + end2) // 2,
        "file middle": len(sealed) // 2,
    }[where]
    check = validate_sealed(_flip(sealed, offset), trust_roots(demo_settings))
    assert not check.valid
    assert not check.intact
    assert check.summary.startswith("not valid")


def test_a_byte_inside_the_signed_range_breaks_integrity_not_parsing(
    sealed: bytes, demo_settings: Settings
) -> None:
    """A change in a page's content (inside the signed bytes) is reported as a changed
    document, not only as an unreadable one."""
    (start, end), _ = _signed_ranges(sealed)
    stream_at = sealed.index(b"stream\n", start + 2000) + len(b"stream\n")
    assert stream_at < end
    check = validate_sealed(_flip(sealed, stream_at + 20), trust_roots(demo_settings))
    assert not check.valid
    assert check.summary == "not valid: the document was changed after sealing"


@pytest.mark.parametrize("data", [b"", b"%PDF-1.7\n%%EOF\n", b"not a pdf at all"])
def test_anything_else_is_not_valid_and_raises_nothing(
    data: bytes, demo_settings: Settings
) -> None:
    check = validate_sealed(data, trust_roots(demo_settings))
    assert not check.valid
    assert not check.intact
    assert not check.trusted
    assert check.summary.startswith("not valid")


def test_an_unsealed_copy_is_not_valid(sealed: bytes, demo_settings: Settings) -> None:
    (_, end), _ = _signed_ranges(sealed)
    unsealed = sealed[: sealed.rindex(b"%%EOF", 0, end) + len(b"%%EOF\n")]
    check = validate_sealed(unsealed, trust_roots(demo_settings))
    assert not check.valid
    assert "0 seals found" in check.summary
