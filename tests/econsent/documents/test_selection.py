"""What the kiosk asks of the model: which version may start a consent at a site on a date, and
which text a parent, a child of a given age or an adult reads under the country's rules."""

from __future__ import annotations

import datetime as dt

import pytest

from econsent.documents import age_on
from tests.econsent.documents.helpers import PARENT, RULES, library

D = dt.date

SECOND = """\
  - version: 2
    effective: 2026-06-01
    approvals:
      - {site: FR-02, reference: "DEMO-SITE-FR02", approved: 2026-05-20}
    sections:
      - id: purpose
        title: {en: Purpose, fr: Objectif}
        body: {en: Why now., fr: Pourquoi maintenant.}
"""
PARENTS = (
    PARENT.replace(
        '      - {country: FR, reference: "DEMO-1", approved: 2025-12-01}\n',
        '      - {country: FR, reference: "DEMO-1", approved: 2025-12-01}\n'
        '      - {country: IT, reference: "DEMO-IT", approved: 2026-02-01}\n',
    )
    + SECOND
)
LATER_FR = """\
    - effective: 2026-09-01
      source: "a later source"
      parents: {required: 1}
      age_of_majority: 18
      documents: {parent: parent_consent, adult: adult_consent}
      remote_consent: true
      signatures: [wet_ink, ses, qes]
"""
SITE_FR02 = """\
sites:
  FR-02:
    - effective: 2026-01-01
      source: "a site's own rule"
      parents: {required: 1}
      age_of_majority: 18
      documents: {parent: parent_consent, adult: adult_consent}
      assent:
        - {ages: [7, 17], document: child_assent, band: older, mode: written}
      remote_consent: false
      signatures: [wet_ink]
"""


@pytest.fixture
def lib(tmp_path):
    it = RULES.split("  FR:\n")[1]
    rules = RULES + LATER_FR + "  IT:\n" + it + SITE_FR02
    return library(tmp_path, parent_consent=PARENTS, rules=rules)


def _version(lib, country, site, on):
    version = lib.documents["parent_consent"].version_for(country, site, on)
    return version.number if version else None


@pytest.mark.parametrize(
    ("country", "site", "on", "expected"),
    [
        ("FR", "FR-01", D(2026, 1, 14), None),  # not yet effective
        ("FR", "FR-01", D(2026, 1, 15), 1),
        ("IT", "IT-01", D(2026, 1, 20), None),  # effective, but approved in Italy later
        ("IT", "IT-01", D(2026, 2, 1), 1),
        ("ES", "ES-01", D(2026, 3, 1), None),  # never approved in Spain
        ("FR", "FR-02", D(2026, 5, 31), 1),  # version 2 not effective yet
        ("FR", "FR-02", D(2026, 7, 1), 2),  # version 2, approved for this site, supersedes 1
        ("FR", "FR-01", D(2026, 7, 1), 1),  # other sites keep version 1
    ],
)
def test_the_version_usable_at_a_site_on_a_date(lib, country, site, on, expected):
    assert _version(lib, country, site, on) == expected


def test_documents_approved_at_a_site_on_a_date(lib):
    listed = [(doc.id, v.number) for doc, v in lib.approved("FR", "FR-02", D(2026, 7, 1))]
    assert listed == [("adult_consent", 1), ("child_assent", 1), ("parent_consent", 2)]
    assert lib.approved("ES", "ES-01", D(2026, 7, 1)) == []


def test_a_site_approval_is_the_one_kept_with_the_signature(lib):
    pick = lib.pick("FR", "FR-02", D(2026, 7, 1), "parent")
    assert (pick.version.number, pick.approval.reference) == (2, "DEMO-SITE-FR02")
    pick = lib.pick("FR", "FR-01", D(2026, 7, 1), "parent")
    assert (pick.version.number, pick.approval.reference) == (1, "DEMO-1")


@pytest.mark.parametrize(
    ("age", "band"),
    [(4, None), (5, None), (6, "younger"), (11, "younger"), (12, "older"), (17, "older"),
     (18, None)],
)  # fmt: skip
def test_the_age_band_chooses_the_childs_text(lib, age, band):
    pick = lib.pick("FR", "FR-01", D(2026, 3, 1), "child", age)
    assert (pick.band if pick else None) == band
    if pick:
        assert pick.document.id == "child_assent"
        assert [s.id for s in pick.reading.sections] == (
            ["hello"] if band == "younger" else ["why"]
        )


def test_who_reads_a_text_by_age(lib):
    rule = lib.rules.rule_for("FR", "FR-01", D(2026, 3, 1))
    assert rule.audiences_for(3) == ("parent",)
    assert rule.audiences_for(9) == ("parent", "child")
    assert rule.audiences_for(18) == ("adult",)
    assert lib.pick("FR", "FR-01", D(2026, 3, 1), "adult").document.id == "adult_consent"
    assert lib.pick("FR", "FR-01", D(2026, 3, 1), "parent").document.id == "parent_consent"


def test_the_rule_in_force_follows_its_effective_date(lib):
    assert lib.rules.rule_for("FR", "FR-01", D(2025, 12, 31)) is None
    before = lib.rules.rule_for("FR", "FR-01", D(2026, 8, 31))
    after = lib.rules.rule_for("FR", "FR-01", D(2026, 9, 1))
    assert (before.parents_required, before.remote_allowed) == (2, False)
    assert (after.parents_required, after.remote_allowed) == (1, True)
    assert after.signature_forms == ("wet_ink", "ses", "qes")
    assert before.parent_exceptions == ("deceased", "unknown")
    assert before.witness_when == ("signer_cannot_read",)


def test_a_site_rule_replaces_its_countrys(lib):
    site = lib.rules.rule_for("FR", "FR-02", D(2026, 3, 1))
    assert (site.place, site.parents_required) == ("FR-02", 1)
    assert lib.pick("FR", "FR-02", D(2026, 3, 1), "child", 8).band == "older"
    assert lib.pick("FR", "FR-02", D(2026, 3, 1), "child", 6) is None


def test_the_table_has_its_version_and_a_stable_hash(tmp_path):
    first = library(tmp_path / "a").rules
    again = library(tmp_path / "b").rules
    changed = library(tmp_path / "c", rules=RULES + "# a new source noted\n").rules
    assert first.version == 3
    assert first.content_hash == again.content_hash
    assert changed.content_hash != first.content_hash  # comments are part of what was audited


@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        (D(2015, 3, 10), D(2026, 3, 9), 10),
        (D(2015, 3, 10), D(2026, 3, 10), 11),
        (D(2012, 2, 29), D(2026, 2, 28), 13),
        (D(2012, 2, 29), D(2026, 3, 1), 14),
    ],
)
def test_age_in_whole_years_on_the_consent_date(birth, on, age):
    assert age_on(birth, on) == age
