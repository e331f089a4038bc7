"""The INRG pretreatment risk table (Cohn et al., JCO 2009) against the domain reference.

Every row of the published table, every convention chosen for its ambiguities (A1-A8), the
inputs each path needs (§1.4), worked cases, and an exhaustive comparison with an independent
reading of the table written as plain Python.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from forms_dsl.decision import build_tables, decide
from forms_dsl.errors import FormsDslError, Problems
from forms_dsl.source import parse
from tests.forms_dsl.test_decision_catalogue import FIELDS, LANGUAGES, inrg, load, table_text

NA = ("not_amplified", "gain")
FAVOURABLE = ("gn_maturing", "gnb_intermixed")
UNFAVOURABLE = ("gnb_nodular", "nb")
UNTESTED = ("not_done", "unknown")  # answers, not blanks: the case says which result it lacks


def case(stage=None, age=None, histology=None, grade=None, mycn=None, chr11q=None, di=None):
    return {
        "inrg_stage": stage,
        "age_months": age,
        "histology": histology,
        "grade": grade,
        "mycn": mycn,
        "chr11q": chr11q,
        "dna_index": di,
    }


def result(values: dict) -> tuple:
    d = decide(inrg(), values)
    if d.classifiable:
        return (d.outputs["group"], d.outputs["risk"], *d.flags)
    if d.row is not None:
        return ("not classifiable", *d.flags)
    return ("missing", *d.missing)


# -- §1.3: one case per published row ----------------------------------------------------------

ROWS = [
    # (published row, case, group, risk, table row id)
    (1, case("L1", 30, "gn_maturing", None, "not_amplified"), "A", "very_low", "A"),
    (1, case("L2", 5, "gnb_intermixed", None, "gain"), "A", "very_low", "A"),
    (2, case("L1", 30, "nb", "undifferentiated", "not_amplified"), "B", "very_low", "B"),
    (2, case("L1", 3, "gnb_nodular", None, "gain"), "B", "very_low", "B"),
    (3, case("L1", 30, "nb", None, "amplified"), "K", "high", "K"),
    (4, case("L2", 10, "nb", None, "not_amplified", "no"), "D", "low", "D"),
    (5, case("L2", 10, "nb", None, "not_amplified", "yes"), "G", "intermediate", "G"),
    (6, case("L2", 30, "nb", "differentiating", "not_amplified", "no"), "E", "low", "E"),
    (
        7,
        case("L2", 30, "gnb_nodular", "differentiating", "gain", "yes"),
        "H",
        "intermediate",
        "H-11q",
    ),
    (8, case("L2", 30, "nb", "poorly_differentiated", "not_amplified"), "H", "intermediate", "H"),
    (8, case("L2", 30, "nb", "undifferentiated", "gain", "no"), "H", "intermediate", "H"),
    (9, case("L2", 30, "nb", None, "amplified"), "N", "high", "N"),
    (10, case("M", 10, None, None, "not_amplified", None, Decimal("1.5")), "F", "low", "F"),
    (
        11,
        case("M", 10, None, None, "not_amplified", None, Decimal("1.0")),
        "I",
        "intermediate",
        "I",
    ),
    (12, case("M", 15, None, None, "gain", None, Decimal("0.9")), "J", "intermediate", "J"),
    (13, case("M", 10, None, None, "amplified"), "O", "high", "O"),
    (14, case("M", 40), "P", "high", "P"),
    (15, case("MS", 6, None, None, "not_amplified", "no"), "C", "very_low", "C"),
    (16, case("MS", 6, None, None, "not_amplified", "yes"), "Q", "high", "Q"),
    (17, case("MS", 6, None, None, "amplified"), "R", "high", "R"),
]


@pytest.mark.parametrize(("published", "values", "group", "risk", "row_id"), ROWS)
def test_every_published_row(published, values, group, risk, row_id):
    d = decide(inrg(), values)
    assert d.classifiable, d.explanation
    assert d.outputs == {"group": group, "risk": risk}
    assert d.row == row_id
    assert d.flags == ()
    assert d.missing == ()


def test_groups_and_risks_are_those_of_the_published_table():
    table = inrg()
    by_group: dict[str, set[str]] = {}
    for row in table.rows:
        then = dict(row.then)
        if then:
            by_group.setdefault(then["group"], set()).add(then["risk"])
    assert by_group == {
        **{g: {"very_low"} for g in "ABC"},
        **{g: {"low"} for g in "DEF"},
        **{g: {"intermediate"} for g in "GHIJ"},
        **{g: {"high"} for g in "KNOPQR"},
    }
    assert "L" not in by_group
    assert "M" not in by_group


# -- §1.5 conventions --------------------------------------------------------------------------


def test_a1_l2_mycn_amplified_is_n_at_any_age():
    for age in (0, 5, 17, 18, 30, 200):
        assert result(case("L2", age, "nb", None, "amplified")) == ("N", "high")
    # the age is not even needed
    assert result(case("L2", None, "nb", None, "amplified")) == ("N", "high")


def test_a2_favourable_histology_is_a_whatever_the_mycn_status_even_untested():
    """Row A of the published table leaves MYCN blank: ganglioneuromas are rarely tested, so
    the group is given without asking for it (an amplification is a warning on the form)."""
    for mycn in (None, *FIELDS["mycn"].codes):
        for stage, hist in itertools.product(("L1", "L2"), FAVOURABLE):
            d = decide(inrg(), case(stage, 30, hist, None, mycn))
            assert (d.classifiable, d.outputs, d.row) == (
                True,
                {"group": "A", "risk": "very_low"},
                "A",
            ), (stage, hist, mycn)
            assert d.missing == ()
    # nothing but the stage and the histology is needed
    assert result(case("L1", None, "gn_maturing")) == ("A", "very_low")


def test_a3_mature_ganglioneuroma_is_not_classifiable_and_flagged():
    for mycn in (None, "not_amplified", "amplified", "heterogeneous"):
        d = decide(inrg(), case("L1", 40, "gn_mature", None, mycn))
        assert (d.classifiable, d.row, d.flags) == (False, "L-gn-mature", ("review_gn_mature",))
        assert d.outputs == {}
        assert d.missing == ()


@pytest.mark.parametrize(
    ("di", "group"),
    [
        (Decimal("0.8"), "I"),  # hypodiploid counts as diploid
        (Decimal("1"), "I"),
        (Decimal("1.00"), "I"),
        (1, "I"),
        (Decimal("1.01"), "F"),
        (Decimal("2.3"), "F"),
    ],
)
def test_a4_dna_index_above_1_is_hyperdiploid_1_or_below_diploid(di, group):
    assert result(case("M", 11, None, None, "not_amplified", None, di))[0] == group


@pytest.mark.parametrize(
    ("age", "expected"),
    [(0, "I"), (11, "I"), (12, "J"), (Decimal("12.0"), "J"), (17, "J"), (18, "P"), (19, "P")],
)
def test_a6_age_boundaries_for_stage_m_diploid(age, expected):
    assert result(case("M", age, None, None, "not_amplified", None, Decimal("0.95")))[0] == expected


def test_a6_age_boundary_18_months_for_l2_and_ms():
    assert result(case("L2", 17, "nb", "differentiating", "not_amplified", "no"))[0] == "D"
    assert result(case("L2", 18, "nb", "differentiating", "not_amplified", "no"))[0] == "E"
    assert result(case("MS", 17, None, None, "not_amplified", "no"))[0] == "C"
    assert result(case("MS", 18, None, None, "not_amplified", "no"))[0] == "not classifiable"
    # hyperdiploid M: F up to 17 months, P from 18
    assert result(case("M", 17, None, None, "gain", None, Decimal("1.2")))[0] == "F"
    assert result(case("M", 18, None, None, "gain", None, Decimal("1.2")))[0] == "P"


def test_a7_ms_at_18_months_or_older_is_an_inconsistent_stage():
    for age in (18, 19, 60):
        d = decide(inrg(), case("MS", age, None, None, "not_amplified", "no"))
        assert (d.classifiable, d.row, d.flags) == (
            False,
            "MS-18-months-or-older",
            ("inconsistent_stage",),
        )
        assert d.explanation == (
            "inrg_stage = MS",
            f"age_months = {age} (>= 18)",
            "→ Not classifiable: Stage MS applies only before 18 months of age; check the stage "
            "and the age at diagnosis.",
        )
    # nothing else is needed to see the inconsistency
    assert result(case("MS", 20)) == ("not classifiable", "inconsistent_stage")


def test_a8_heterogeneous_mycn_is_not_classifiable_and_flagged():
    for values in (
        case("L1", 20, "nb", None, "heterogeneous"),
        case("L2", 5, "gnb_nodular", None, "heterogeneous"),
        case("M", 10, None, None, "heterogeneous"),
        case("MS", 3, None, None, "heterogeneous"),
    ):
        assert result(values) == ("not classifiable", "review_heterogeneous")
    # from 18 months, stage M is P whatever the MYCN status
    assert result(case("M", 30, None, None, "heterogeneous")) == ("P", "high")


def test_mycn_gain_counts_as_not_amplified_everywhere():
    table = inrg()
    for stage, age, hist, grade, chr11q, di in itertools.product(
        ("L1", "L2", "M", "MS"),
        (5, 15, 30),
        ("gn_maturing", "nb"),
        ("differentiating", "undifferentiated"),
        ("yes", "no"),
        (Decimal("0.9"), Decimal("1.4")),
    ):
        gain = decide(table, case(stage, age, hist, grade, "gain", chr11q, di))
        na = decide(table, case(stage, age, hist, grade, "not_amplified", chr11q, di))
        assert (gain.classifiable, gain.outputs, gain.row, gain.flags) == (
            na.classifiable,
            na.outputs,
            na.row,
            na.flags,
        )


# -- §1.4 inputs needed on each path -----------------------------------------------------------

PATHS = [
    # L1/L2: the histology is always needed
    (case("L1", 20, None, None, "not_amplified"), ("histology",)),
    (case("L2", 20, None, "differentiating", "not_amplified", "no"), ("histology",)),
    (case("L1"), ("histology", "mycn")),
    # L1, not row 1: MYCN
    (case("L1", None, "nb"), ("mycn",)),
    # L2, not row 1: MYCN; if not amplified: age; <18: 11q; >=18: grade, 11q if differentiating
    (case("L2", 30, "nb", "differentiating", None, "no"), ("mycn",)),
    # every blank input that a still-possible row tests is named (N needs no age, D/E/H do)
    (case("L2", None, "nb", "differentiating", None, "no"), ("age_months", "mycn")),
    (case("L2", None, "nb", "differentiating", "not_amplified", "no"), ("age_months",)),
    (case("L2", 10, "nb", None, "gain"), ("chr11q",)),
    (case("L2", 30, "nb", None, "gain"), ("grade", "chr11q")),
    (case("L2", 30, "nb", "differentiating", "gain"), ("chr11q",)),
    (case("L2", None, "nb", None, "not_amplified"), ("age_months", "grade", "chr11q")),
    # M: age; if <18: MYCN; if not amplified: ploidy
    (case("M", None, "nb", None, "not_amplified", None, Decimal("1.2")), ("age_months",)),
    (case("M", 10, None, None, None, None, Decimal("1.2")), ("mycn",)),
    (case("M", 10), ("mycn", "dna_index")),
    (case("M", 10, None, None, "not_amplified"), ("dna_index",)),
    (case("M", 15, None, None, "gain"), ("dna_index",)),
    # MS: age; MYCN; if not amplified: 11q
    (case("MS", None, None, None, "not_amplified", "no"), ("age_months",)),
    (case("MS", 6, None, None, None, "no"), ("mycn",)),
    (case("MS", 6, None, None, "not_amplified"), ("chr11q",)),
    # no stage: only the stage is missing when the rest is known
    (
        case(None, 30, "nb", "differentiating", "not_amplified", "no", Decimal("1.1")),
        ("inrg_stage",),
    ),
    (case(), ("inrg_stage", "age_months", "histology", "grade", "mycn", "chr11q", "dna_index")),
]


@pytest.mark.parametrize(("values", "missing"), PATHS)
def test_blank_inputs_the_path_needs_are_named_exactly(values, missing):
    d = decide(inrg(), values)
    assert (d.classifiable, d.outputs, d.row, d.flags) == (False, {}, None, ())
    assert d.missing == missing
    assert d.status == "incomplete"
    assert d.explanation == (f"→ Not classifiable: missing {', '.join(missing)}",)


@pytest.mark.parametrize(
    ("values", "group"),
    [
        (case("L2", 30, "nb", "poorly_differentiated", "not_amplified"), "H"),  # 11q not needed
        (case("L2", None, "nb", None, "amplified"), "N"),  # neither age, grade nor 11q
        (case("L1", None, "nb", None, "amplified"), "K"),
        (case("M", 30), "P"),  # histology, MYCN, ploidy not needed from 18 months
        (case("M", 10, None, None, "amplified"), "O"),  # no ploidy
        (case("MS", 6, None, None, "amplified"), "R"),  # no 11q
        (case("L1", None, "gnb_intermixed", None, "not_amplified"), "A"),  # no age
        (case("L2", None, "gn_maturing"), "A"),  # no MYCN either (A2)
    ],
)
def test_inputs_off_the_path_may_stay_blank(values, group):
    assert result(values)[0] == group


@pytest.mark.parametrize(
    ("values", "flag"),
    [
        (case("L1", 30, "nb", None, "not_done"), "needs_mycn"),
        (case("L2", 5, "gnb_nodular", None, "unknown"), "needs_mycn"),
        (case("M", 10, None, None, "not_done"), "needs_mycn"),
        (case("MS", 6, None, None, "unknown", "no"), "needs_mycn"),
        (case("L2", 10, "nb", None, "not_amplified", "not_done"), "needs_11q"),
        (case("L2", 30, "nb", "differentiating", "gain", "unknown"), "needs_11q"),
        (case("MS", 6, None, None, "not_amplified", "not_done"), "needs_11q"),
    ],
)
def test_a_result_not_done_or_unknown_on_the_path_says_which_result_is_lacking(values, flag):
    """ "Not done" is an answer, not a blank: the case is not classifiable and says why."""
    d = decide(inrg(), values)
    assert (d.classifiable, d.flags, d.missing) == (False, (flag,), ())
    assert d.explanation[-1].startswith("→ Not classifiable: The ")
    assert "was not done or is unknown" in d.explanation[-1]


@pytest.mark.parametrize(
    ("values", "group"),
    [
        (case("L2", 30, "nb", "poorly_differentiated", "gain", "not_done"), "H"),
        (case("M", 30, None, None, "not_done"), "P"),
        (case("L1", 30, "nb", None, "amplified", "unknown"), "K"),
        (case("MS", 6, None, None, "amplified", "unknown"), "R"),
    ],
)
def test_a_result_not_done_off_the_path_does_not_matter(values, group):
    assert result(values)[0] == group


# -- worked cases --------------------------------------------------------------------------------


def test_worked_case_infant_with_l2_neuroblastoma():
    """8 months, L2 adrenal neuroblastoma, poorly differentiated, MYCN not amplified, no 11q."""
    d = decide(
        inrg(), case("L2", 8, "nb", "poorly_differentiated", "not_amplified", "no", Decimal("1.30"))
    )
    assert d.outputs == {"group": "D", "risk": "low"}
    assert d.explanation == (
        "inrg_stage = L2",
        "age_months = 8 (< 18)",
        "histology = nb (one of gnb_nodular, nb)",
        "mycn = not_amplified (one of not_amplified, gain)",
        "chr11q = no",
        "→ Pretreatment group: D, Risk: low",
    )


def test_worked_case_toddler_with_metastatic_mycn_amplified_disease():
    """3 years, stage M, MYCN amplified: the age alone makes it P (high risk)."""
    d = decide(inrg(), case("M", 36, "nb", "undifferentiated", "amplified", "no", Decimal("1")))
    assert (d.outputs, d.row) == ({"group": "P", "risk": "high"}, "P")
    assert d.explanation == (
        "inrg_stage = M",
        "age_months = 36 (>= 18)",
        "→ Pretreatment group: P, Risk: high",
    )


def test_worked_case_metastatic_diploid_at_14_months_in_french_and_german():
    values = case("M", 14, "nb", None, "gain", None, Decimal("1.00"))
    fr = decide(inrg(), values, "fr")
    assert fr.outputs == {"group": "J", "risk": "intermediate"}
    assert fr.explanation == (
        "inrg_stage = M",
        "age_months = 14 (12..<18)",
        "mycn = gain (parmi not_amplified, gain)",
        "dna_index = 1.00 (<= 1)",
        "→ Groupe avant traitement : J, Risque : intermédiaire",
    )
    de = decide(inrg(), values, "de")
    assert de.explanation[-1] == "→ Gruppe vor Therapiebeginn: J, Risiko: intermediär"


def test_worked_case_ms_infant_with_11q_loss_is_high_risk():
    assert result(case("MS", 5, "nb", None, "not_amplified", "yes", Decimal("1.6"))) == (
        "Q",
        "high",
    )


def test_worked_case_older_child_l2_differentiating_with_11q_loss():
    d = decide(inrg(), case("L2", 24, "gnb_nodular", "differentiating", "not_amplified", "yes"))
    assert (d.outputs, d.row) == ({"group": "H", "risk": "intermediate"}, "H-11q")


def test_worked_case_unexplained_language_falls_back_to_english():
    d = decide(inrg(), case("L1", 3, "nb", None, "gain"), "pt")
    assert d.explanation[-1] == "→ Pretreatment group: B, Risk: very low"


# -- an independent reading of §1.3 with the conventions, compared case by case ----------------


def oracle(stage, age, hist, grade, mycn, chr11q, di) -> tuple:
    if stage in ("L1", "L2"):
        if hist == "gn_mature":
            return ("not classifiable", "review_gn_mature")
        if hist in FAVOURABLE:
            return ("A", "very_low")
        if mycn == "heterogeneous":
            return ("not classifiable", "review_heterogeneous")
        if mycn in UNTESTED:
            return ("not classifiable", "needs_mycn")
        if stage == "L1":
            return ("K", "high") if mycn == "amplified" else ("B", "very_low")
        if mycn == "amplified":
            return ("N", "high")
        if (age < 18 or grade == "differentiating") and chr11q in UNTESTED:
            return ("not classifiable", "needs_11q")
        if age < 18:
            return ("G", "intermediate") if chr11q == "yes" else ("D", "low")
        if grade == "differentiating" and chr11q == "no":
            return ("E", "low")
        return ("H", "intermediate")
    if stage == "M":
        if age >= 18:
            return ("P", "high")
        if mycn == "heterogeneous":
            return ("not classifiable", "review_heterogeneous")
        if mycn in UNTESTED:
            return ("not classifiable", "needs_mycn")
        if mycn == "amplified":
            return ("O", "high")
        if di > 1:
            return ("F", "low")
        return ("I", "intermediate") if age < 12 else ("J", "intermediate")
    if age >= 18:
        return ("not classifiable", "inconsistent_stage")
    if mycn == "heterogeneous":
        return ("not classifiable", "review_heterogeneous")
    if mycn in UNTESTED:
        return ("not classifiable", "needs_mycn")
    if mycn == "amplified":
        return ("R", "high")
    if chr11q in UNTESTED:
        return ("not classifiable", "needs_11q")
    return ("Q", "high") if chr11q == "yes" else ("C", "very_low")


def test_every_complete_case_agrees_with_an_independent_reading_of_the_table():
    ages = (0, 5, 11, 12, 13, 17, 18, 19, 60, Decimal("11.5"), Decimal("17.99"))
    dis = (Decimal("0.5"), Decimal("1"), Decimal("1.01"), Decimal("2"))
    checked = 0
    for values in itertools.product(
        ("L1", "L2", "M", "MS"),
        ages,
        FIELDS["histology"].codes,
        FIELDS["grade"].codes,
        FIELDS["mycn"].codes,
        FIELDS["chr11q"].codes,
        dis,
    ):
        assert result(case(*values)) == oracle(*values), values
        checked += 1
    assert checked == 4 * len(ages) * 5 * 3 * 6 * 4 * len(dis)


# -- whole-table checks on the reference file ---------------------------------------------------


def test_the_reference_file_has_no_overlap_no_gap_and_no_warning():
    problems = Problems()
    build_tables(parse(table_text("inrg_risk"), "inrg_risk.yaml"), FIELDS, LANGUAGES, problems)  # type: ignore[arg-type]
    assert list(problems) == []


def test_a_copy_without_row_j_reports_the_gap():
    text = table_text("inrg_risk")
    start = text.index("    - id: J\n")
    end = text.index("    - id: O\n")
    with pytest.raises(FormsDslError) as caught:
        load("inrg_risk", text[:start] + text[end:])
    (error,) = caught.value.errors
    assert error.code.id == "E521"
    assert error.message == (
        "no row covers inrg_stage=M, 12<=age_months<18, mycn in (gain, not_amplified), dna_index<=1"
    )
    assert error.location.line == text[: text.index("  rows:")].count("\n") + 1


def test_a_copy_with_an_overlapping_row_reports_both_rows():
    row_d = 'age_months: "<18", histology: [gnb_nodular, nb],\n             mycn: [not_amplified'
    text = table_text("inrg_risk").replace(row_d, row_d.replace('"<18"', '"<=18"'), 1)
    assert '"<=18"' in text
    with pytest.raises(FormsDslError) as caught:
        load("inrg_risk", text)
    found = [(e.code.id, e.message, e.location.line) for e in caught.value.errors]
    line_of = {rid: text[: text.index(f"    - id: {rid}\n")].count("\n") + 1 for rid in "EH"}
    assert found == [
        (
            "E520",
            "rows `D` and `E` overlap: both match inrg_stage=L2, age_months=18, histology in "
            "(gnb_nodular, nb), grade=differentiating, mycn in (gain, not_amplified), chr11q=no",
            line_of["E"],
        ),
        (
            "E520",
            "rows `D` and `H` overlap: both match inrg_stage=L2, age_months=18, histology in "
            "(gnb_nodular, nb), grade in (poorly_differentiated, undifferentiated), mycn in (gain, "
            "not_amplified), chr11q=no",
            line_of["H"],
        ),
    ]
