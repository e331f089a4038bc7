"""The keys that say who consents again: an approval's re-consent scope and grace, and the
rule's grace after the age of majority, read with located errors."""

from __future__ import annotations

import datetime as dt

from econsent.documents import CountryRule
from tests.econsent.documents.helpers import PARENT, RULES, library, located

V2 = """\
  - version: 2
    effective: 2026-06-01
    approvals:
      - {{country: FR, reference: "DEMO-9"{extra}}}
    sections:
      - id: purpose
        title: {{en: Purpose, fr: Objectif}}
        body: {{en: Why now., fr: Pourquoi maintenant.}}
"""


def _with_v2(extra: str) -> str:
    return PARENT + V2.format(extra=extra)


def test_an_approval_asks_active_subjects_to_consent_again_within_a_grace(tmp_path):
    lib = library(tmp_path, parent_consent=_with_v2(", reconsent: all_active, grace_days: 60"))
    v1, v2 = lib.documents["parent_consent"].versions
    assert (v1.approvals[0].reconsent, v1.approvals[0].grace_days) == ("new_subjects", 0)
    assert (v2.approvals[0].reconsent, v2.approvals[0].grace_days) == ("all_active", 60)


def test_reconsent_mistakes_are_located(tmp_path):
    assert located(tmp_path, parent_consent=_with_v2(", reconsent: everyone")) == [
        ("E917", "parent_consent.yaml", 30, 55)
    ]
    assert located(tmp_path / "b", parent_consent=_with_v2(", grace_days: 30")) == [
        ("E918", "parent_consent.yaml", 30, 56)
    ]
    assert [
        c for c, *_ in located(tmp_path / "c", parent_consent=_with_v2(", reconsent: all_active"))
    ] == ["E919"]
    first = PARENT.replace('"DEMO-1"', '"DEMO-1", reconsent: all_active, grace_days: 5')
    assert located(tmp_path / "d", parent_consent=first) == [("E920", "parent_consent.yaml", 5, 5)]
    too_long = _with_v2(", reconsent: all_active, grace_days: 9999")
    assert [c for c, *_ in located(tmp_path / "e", parent_consent=too_long)] == ["E225"]


def test_a_minors_consent_counts_until_the_eve_of_majority_plus_the_rules_grace(tmp_path):
    rule: CountryRule = library(tmp_path).rules.places["FR"][0]
    assert rule.majority_grace_days == 0
    birth = dt.date(2008, 7, 14)
    assert rule.majority_on(birth) == dt.date(2026, 7, 14)
    assert rule.minor_consent_until(birth) == dt.date(2026, 7, 13)
    assert rule.majority_on(dt.date(2008, 2, 29)) == dt.date(2026, 3, 1)
    graced = RULES.replace(
        "age_of_majority: 18", "age_of_majority: 18\n      majority_grace_days: 30"
    )
    rule = library(tmp_path / "b", rules=graced).rules.places["FR"][0]
    assert rule.minor_consent_until(birth) == dt.date(2026, 8, 12)
    wrong = RULES.replace(
        "age_of_majority: 18", "age_of_majority: 18\n      majority_grace_days: -2"
    )
    assert [c for c, *_ in located(tmp_path / "c", rules=wrong)] == ["E225"]
