"""Finding the same child registered at two sites, without the registry ever seeing a name.

Sites send two keys computed from normalised identifiers with a secret the registry does not
hold: an exact token (a keyed HMAC) and a CLK (a 1,024-bit Bloom filter of the identifiers'
bigrams) whose Dice coefficient stays high when a name is spelled slightly differently. Only
pairs at different sites are reported: a site sees its own duplicates already.

The work is bounded: up to `ALL_PAIRS_LIMIT` linkable Patients every cross-site pair's CLKs
are compared (n²/2 popcounts: 12.5 million, about 3 s, at the limit); beyond it only equal
tokens are reported, which the database answers from its index. At most `MAX_PAIRS` pairs
are reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from registry_server.store import LinkageKey, Session

ALL_PAIRS_LIMIT = 5000
MAX_PAIRS = 1000


def dice(a: bytes, b: bytes) -> float:
    """2·|A∧B| / (|A|+|B|) of two bit strings (0.0 when both are empty)."""
    left, right = int.from_bytes(a, "big"), int.from_bytes(b, "big")
    total = left.bit_count() + right.bit_count()
    return 2 * (left & right).bit_count() / total if total else 0.0


@dataclass(frozen=True)
class Pair:
    """Two Patients at different sites that may be the same child."""

    a: LinkageKey
    b: LinkageKey
    dice: float
    exact: bool

    def as_json(self) -> dict[str, Any]:
        """Pseudonym and site of each, the similarity, and whether the tokens are equal."""
        return {
            "a": {"subject": self.a.subject, "site": self.a.site},
            "b": {"subject": self.b.subject, "site": self.b.site},
            "dice": round(self.dice, 4),
            "exact": self.exact,
        }


def _pair(a: LinkageKey, b: LinkageKey, score: float, exact: bool) -> Pair:
    """A pair with its two sides in (site, subject) order, so a report reads the same each time."""
    if (b.site, b.subject) < (a.site, a.subject):
        a, b = b, a
    return Pair(a, b, score, exact)


def _exact_pairs(keys: list[LinkageKey]) -> dict[tuple[int, int], Pair]:
    """Cross-site pairs with equal tokens (grouped by token: no pair-by-pair work)."""
    groups: dict[str, list[int]] = {}
    for n, key in enumerate(keys):
        if key.token is not None:
            groups.setdefault(key.token, []).append(n)
    pairs = {}
    for members in groups.values():
        for i, first in enumerate(members):
            for second in members[i + 1 :]:
                a, b = keys[first], keys[second]
                if a.site != b.site:
                    score = dice(a.clk, b.clk) if a.clk and b.clk else 1.0
                    pairs[first, second] = _pair(a, b, score, True)
    return pairs


def _all_pairs(keys: list[LinkageKey], threshold: float) -> tuple[list[Pair], int]:
    """Every cross-site pair compared; the pairs found and how many comparisons were made.

    The inner loop is kept to integer operations (about 3 s for the 12.5 million pairs at the
    limit on one core): Dice >= t is tested as 2·|A∧B| >= t·(|A|+|B|).
    """
    pairs = _exact_pairs(keys)
    bits = [
        (n, key.site, int.from_bytes(key.clk, "big") if key.clk else 0)
        for n, key in enumerate(keys)
    ]
    prepared = [(n, site, value, value.bit_count()) for n, site, value in bits if value]
    compared = 0
    for i, (left, site, value, count) in enumerate(prepared):
        for right, other_site, other, other_count in prepared[i + 1 :]:
            if site == other_site:
                continue
            compared += 1
            total = count + other_count
            if 2 * (value & other).bit_count() >= threshold * total and (left, right) not in pairs:
                score = 2 * (value & other).bit_count() / total
                pairs[left, right] = _pair(keys[left], keys[right], score, False)
    return list(pairs.values()), compared


def duplicates(session: Session, threshold: float) -> dict[str, Any]:
    """The linkage report: likely duplicates across sites, most similar first."""
    if session.linkage_count() <= ALL_PAIRS_LIMIT:
        pairs, compared = _all_pairs(session.linkage_keys(), threshold)
        mode = "all-pairs"
    else:
        matches = session.token_matches(MAX_PAIRS + 1)
        pairs = [
            _pair(a, b, dice(a.clk, b.clk) if a.clk and b.clk else 1.0, True) for a, b in matches
        ]
        compared, mode = len(matches), "exact-token"
    pairs.sort(key=lambda pair: (-pair.dice, not pair.exact, pair.a.subject, pair.b.subject))
    return {
        "pairs": [pair.as_json() for pair in pairs[:MAX_PAIRS]],
        "threshold": threshold,
        "compared": compared,
        "mode": mode,
        "truncated": len(pairs) > MAX_PAIRS,
    }
