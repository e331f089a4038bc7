"""Likely duplicates across sites, from linkage keys only: equal tokens, or CLKs whose Dice
coefficient reaches the threshold; never a pair within one site."""

from __future__ import annotations

import random

import pytest
from flask.testing import FlaskClient

from registry_server import linkage
from tests.registry_server.bundles import subject_bundle
from tests.registry_server.conftest import get, push


def _clk(seed: int, bits: int = 300) -> bytes:
    """A hand-built 1,024-bit CLK with `bits` random bits set."""
    chosen = random.Random(seed).sample(range(1024), bits)
    return sum(1 << n for n in chosen).to_bytes(128, "big")


def _flip(clk: bytes, count: int, seed: int) -> bytes:
    """The same CLK with `count` of its set bits cleared (a near-identical spelling)."""
    value = int.from_bytes(clk, "big")
    ones = [n for n in range(1024) if value >> n & 1]
    for n in random.Random(seed).sample(ones, count):
        value &= ~(1 << n)
    return value.to_bytes(128, "big")


def _register(
    client: FlaskClient, code: str, site: str, token: str | None = None, clk: bytes | None = None
) -> None:
    assert push(client, subject_bundle(code, site, token=token, clk=clk)).status_code == 200


def test_dice_counts_shared_bits() -> None:
    assert linkage.dice(b"\xff", b"\xff") == 1.0
    assert linkage.dice(b"\xf0", b"\x0f") == 0.0
    assert linkage.dice(b"\xff", b"\x0f") == pytest.approx(2 * 4 / 12)
    assert linkage.dice(b"\x00", b"\x00") == 0.0


def test_a_near_identical_pair_at_two_sites_is_reported(client: FlaskClient) -> None:
    child = _clk(1)
    _register(client, "NB-FR01-0001", "FR01", clk=child)
    _register(client, "NB-DE02-0001", "DE02", clk=_flip(child, 20, seed=2))
    _register(client, "NB-IT03-0001", "IT03", clk=_clk(3))

    report = get(client, "/linkage/duplicates").get_json()

    assert report["threshold"] == 0.8
    assert report["compared"] == 3
    assert report["mode"] == "all-pairs"
    (pair,) = report["pairs"]
    assert pair["a"] == {"subject": "NB-DE02-0001", "site": "DE02"}
    assert pair["b"] == {"subject": "NB-FR01-0001", "site": "FR01"}
    assert pair["dice"] == pytest.approx(2 * 280 / 580, abs=1e-4)
    assert pair["exact"] is False


def test_a_different_child_is_not_reported(client: FlaskClient) -> None:
    _register(client, "NB-FR01-0001", "FR01", clk=_clk(1))
    _register(client, "NB-DE02-0001", "DE02", clk=_clk(2))

    report = get(client, "/linkage/duplicates").get_json()

    assert report["pairs"] == []
    assert report["compared"] == 1


def test_a_pair_within_one_site_is_not_reported(client: FlaskClient) -> None:
    child = _clk(1)
    _register(client, "NB-FR01-0001", "FR01", clk=child, token="a" * 64)
    _register(client, "NB-FR01-0002", "FR01", clk=child, token="a" * 64)

    report = get(client, "/linkage/duplicates").get_json()

    assert report["pairs"] == []
    assert report["compared"] == 0


def test_equal_tokens_are_an_exact_match_whatever_the_clks(client: FlaskClient) -> None:
    _register(client, "NB-FR01-0001", "FR01", clk=_clk(1), token="b" * 64)
    _register(client, "NB-DE02-0001", "DE02", clk=_clk(2), token="b" * 64)
    _register(client, "NB-IT03-0001", "IT03", token="b" * 64)

    pairs = get(client, "/linkage/duplicates").get_json()["pairs"]

    assert len(pairs) == 3
    assert all(pair["exact"] for pair in pairs)
    assert [pair["dice"] for pair in pairs] == sorted(
        (pair["dice"] for pair in pairs), reverse=True
    )
    assert pairs[0]["dice"] == 1.0


def test_pairs_come_most_similar_first_and_the_threshold_can_be_asked(
    client: FlaskClient,
) -> None:
    child = _clk(1)
    _register(client, "NB-FR01-0001", "FR01", clk=child)
    _register(client, "NB-DE02-0001", "DE02", clk=_flip(child, 60, seed=2))
    _register(client, "NB-IT03-0001", "IT03", clk=_flip(child, 10, seed=3))

    strict = get(client, "/linkage/duplicates").get_json()["pairs"]
    loose = get(client, "/linkage/duplicates?threshold=0.5").get_json()["pairs"]

    assert len(strict) == 3
    assert [pair["dice"] for pair in strict] == sorted(
        (pair["dice"] for pair in strict), reverse=True
    )
    assert {strict[0]["a"]["subject"], strict[0]["b"]["subject"]} == {
        "NB-FR01-0001",
        "NB-IT03-0001",
    }
    assert len(loose) == 3
    assert get(client, "/linkage/duplicates?threshold=0.99").get_json()["pairs"] == []
    for bad in ("0", "1.5", "x", "nan"):
        assert get(client, f"/linkage/duplicates?threshold={bad}").status_code == 400


def test_an_update_replaces_the_linkage_keys(client: FlaskClient) -> None:
    child = _clk(1)
    _register(client, "NB-FR01-0001", "FR01", clk=child)
    _register(client, "NB-DE02-0001", "DE02", clk=child)
    _register(client, "NB-DE02-0001", "DE02", clk=_clk(9))

    assert get(client, "/linkage/duplicates").get_json()["pairs"] == []


def test_beyond_the_all_pairs_limit_only_equal_tokens_are_reported(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(linkage, "ALL_PAIRS_LIMIT", 2)
    child = _clk(1)
    _register(client, "NB-FR01-0001", "FR01", clk=child, token="c" * 64)
    _register(client, "NB-DE02-0001", "DE02", clk=child, token="c" * 64)
    _register(client, "NB-IT03-0001", "IT03", clk=child, token="d" * 64)

    report = get(client, "/linkage/duplicates").get_json()

    assert report["mode"] == "exact-token"
    assert [(pair["a"]["site"], pair["b"]["site"], pair["exact"]) for pair in report["pairs"]] == [
        ("DE02", "FR01", True)
    ]
