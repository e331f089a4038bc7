"""Every consent error code, found where the author made the mistake (file:line:column)."""

from __future__ import annotations

import pytest

from tests.econsent.documents.helpers import ADULT, PARENT, RULES, library, located, problems

V2 = """\
  - version: {n}
    effective: {d}
    approvals:
      - {{country: FR, reference: "DEMO-9"}}
    sections:
      - id: purpose
        title: {{en: Purpose, fr: Objectif}}
        body: {{en: Why now., fr: Pourquoi maintenant.}}
"""
SECOND_SECTION = "      - {id: purpose, title: {en: A, fr: A}, body: {en: B, fr: B}}\n"
NO_FR = "          fr: |\n            Pourquoi nous **demandons**.\n"

CASES = [
    pytest.param(
        "E209",
        "parent_consent.yaml",
        13,
        11,
        dict(parent_consent=PARENT.replace(NO_FR, "")),
        id="missing_language",
    ),
    pytest.param(
        "E201",
        "parent_consent.yaml",
        9,
        5,
        dict(parent_consent=PARENT.replace("    sections:", "    sectons:")),
        id="unknown_key",
    ),
    pytest.param(
        "E901",
        "parent_consent.yaml",
        2,
        11,
        dict(parent_consent=PARENT.replace("audience: parent", "audience: parents")),
        id="unknown_audience",
    ),
    pytest.param(
        "E902",
        "parent_consent.yaml",
        18,
        13,
        dict(parent_consent=PARENT.replace("id: biobank_storage", "id: biobank")),
        id="unknown_option",
    ),
    pytest.param(
        "E903",
        "parent_consent.yaml",
        6,
        16,
        dict(parent_consent=PARENT.replace("effective: 2026-01-15", "effective: 15/01/2026")),
        id="not_a_date",
    ),
    pytest.param(
        "E904",
        "parent_consent.yaml",
        6,
        16,
        dict(parent_consent=PARENT.replace("effective: 2026-01-15", "effective: 2026-02-30")),
        id="no_such_date",
    ),
    pytest.param(
        "E905",
        "adult_consent.yaml",
        13,
        5,
        dict(adult_consent=ADULT + V2.format(n=1, d="2026-06-01")),
        id="duplicate_version",
    ),
    pytest.param(
        "E906",
        "adult_consent.yaml",
        13,
        5,
        dict(adult_consent=ADULT + V2.format(n=2, d="2025-06-01")),
        id="effective_order",
    ),
    pytest.param(
        "E907",
        "adult_consent.yaml",
        8,
        19,
        dict(adult_consent=ADULT.replace("country: FR", "country: FRA")),
        id="bad_country",
    ),
    pytest.param(
        "E908",
        "adult_consent.yaml",
        8,
        16,
        dict(adult_consent=ADULT.replace("country: FR", "site: FR01")),
        id="bad_site",
    ),
    pytest.param(
        "E909",
        "adult_consent.yaml",
        8,
        9,
        dict(adult_consent=ADULT.replace("country: FR,", "country: FR, site: FR-01,")),
        id="approval_place",
    ),
    pytest.param(
        "E910",
        "parent_consent.yaml",
        26,
        18,
        dict(parent_consent=PARENT.replace('correct: "yes"', 'correct: "maybe"')),
        id="wrong_answer",
    ),
    pytest.param(
        "E911",
        "adult_consent.yaml",
        13,
        9,
        dict(adult_consent=ADULT + SECOND_SECTION),
        id="duplicate_section",
    ),
    pytest.param(
        "E912",
        "adult_consent.yaml",
        1,
        11,
        dict(adult_consent=ADULT.replace("document: adult_consent", "document: adult")),
        id="id_mismatch",
    ),
    pytest.param(
        "E914",
        "adult_consent.yaml",
        12,
        20,
        dict(adult_consent=ADULT.replace("en: Why.", 'en: "Why <script>alert(1)</script>"')),
        id="raw_html",
    ),
    pytest.param(
        "E915",
        "adult_consent.yaml",
        12,
        20,
        dict(adult_consent=ADULT.replace("en: Why.", 'en: "Why [here](javascript:alert(1))"')),
        id="bad_link",
    ),
    pytest.param("E916", "consent", 1, 1, dict(rules=None), id="no_rules"),
    pytest.param(
        "E950", "rules.yaml", 3, 3, dict(rules=RULES.replace("  FR:", "  France:")), id="bad_place"
    ),
    pytest.param(
        "E951",
        "rules.yaml",
        6,
        53,
        dict(rules=RULES.replace("[deceased, unknown]", "[deceased, divorced]")),
        id="unknown_exception",
    ),
    pytest.param(
        "E952",
        "rules.yaml",
        11,
        11,
        dict(rules=RULES.replace("ages: [6, 11]", "ages: [6, 12]")),
        id="bands_overlap",
    ),
    pytest.param(
        "E953",
        "rules.yaml",
        11,
        11,
        dict(rules=RULES.replace("ages: [6, 11]", "ages: [6, 10]")),
        id="bands_gap",
    ),
    pytest.param(
        "E954",
        "rules.yaml",
        11,
        18,
        dict(rules=RULES.replace("ages: [12, 17]", "ages: [12, 18]")),
        id="band_range",
    ),
    pytest.param(
        "E955",
        "rules.yaml",
        8,
        50,
        dict(rules=RULES.replace("adult: adult_consent", "adult: adult_consnt")),
        id="unknown_document",
    ),
    pytest.param(
        "E956",
        "rules.yaml",
        8,
        27,
        dict(rules=RULES.replace("parent: parent_consent", "parent: adult_consent")),
        id="wrong_audience",
    ),
    pytest.param(
        "E957",
        "rules.yaml",
        11,
        38,
        dict(rules=RULES.replace("band: older", "band: oldr")),
        id="unknown_band",
    ),
    pytest.param(
        "E958",
        "rules.yaml",
        12,
        17,
        dict(rules=RULES.replace("[signer_cannot_read]", "[blind]")),
        id="unknown_witness",
    ),
    pytest.param(
        "E959",
        "rules.yaml",
        14,
        29,
        dict(rules=RULES.replace("[wet_ink, ses]", "[wet_ink, stylus]")),
        id="unknown_signature",
    ),
    pytest.param(
        "E960",
        "rules.yaml",
        15,
        7,
        dict(rules=RULES + RULES.split("  FR:\n")[1].replace("2026-01-01", "2025-01-01")),
        id="rule_order",
    ),
    pytest.param(
        "E961",
        "rules.yaml",
        10,
        72,
        dict(rules=RULES.replace("mode: verbal", "mode: spoken")),
        id="unknown_mode",
    ),
    pytest.param(
        "E225",
        "rules.yaml",
        6,
        27,
        dict(rules=RULES.replace("required: 2", "required: 3")),
        id="two_parents_at_most",
    ),
]


@pytest.mark.parametrize(("code", "file", "line", "column", "changed"), CASES)
def test_each_mistake_is_named_where_it_is(tmp_path, code, file, line, column, changed):
    assert (code, file, line, column) in located(tmp_path, **changed)


def test_every_problem_of_every_file_is_reported_at_once(tmp_path):
    codes = {
        code
        for code, *_place in located(
            tmp_path,
            parent_consent=PARENT.replace("audience: parent", "audience: parents"),
            rules=RULES.replace("mode: verbal", "mode: spoken"),
        )
    }
    assert {"E901", "E961"} <= codes


def test_an_unknown_key_suggests_the_known_one(tmp_path):
    found = problems(tmp_path, parent_consent=PARENT.replace("    sections:", "    sectons:"))
    unknown = next(p for p in found if p.code.id == "E201")
    assert "`sectons`" in unknown.message
    assert unknown.fix == "did you mean `sections`?"


def test_a_folder_with_rules_but_no_document_is_refused(tmp_path):
    found = located(tmp_path, parent_consent=None, adult_consent=None, child_assent=None)
    assert [code for code, *_rest in found] == ["E913"]


def test_rules_naming_a_document_not_approved_in_their_country_warn(tmp_path):
    italy = RULES.split("  FR:\n")[1]
    loaded = library(tmp_path, rules=RULES + "  IT:\n" + italy)
    warned = {(w.code.id, w.location.line) for w in loaded.warnings}
    assert ("E962", 20) in warned  # IT names `parent_consent`, approved for FR only
    assert all(w.is_warning for w in loaded.warnings)


def test_a_second_version_in_order_is_accepted(tmp_path):
    loaded = library(tmp_path, adult_consent=ADULT + V2.format(n=2, d="2026-06-01"))
    assert [v.number for v in loaded.documents["adult_consent"].versions] == [1, 2]


def test_a_gap_names_the_ages_no_band_covers(tmp_path):
    found = problems(tmp_path / "a", rules=RULES.replace("ages: [6, 11]", "ages: [6, 10]"))
    assert [p.message for p in found] == ["no assent band covers age 11"]
    found = problems(tmp_path / "b", rules=RULES.replace("ages: [12, 17]", "ages: [12, 15]"))
    assert [p.message for p in found] == ["no assent band covers ages 16–17"]
