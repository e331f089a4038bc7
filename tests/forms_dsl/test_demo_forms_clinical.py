"""The demo study's forms as a nurse meets them: nothing blocks a case the clinic cannot fill.

Markers that were never tested are answered "not done" (ganglioneuromas rarely are), LDH is typed
in the unit of the laboratory report, and a blood sample date is asked only when something was
measured.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cache
from pathlib import Path

from forms_dsl import decide, evaluate, load_study
from forms_dsl.engine import Evaluation
from forms_dsl.model import Form

DEMO = Path(__file__).resolve().parents[2] / "studies" / "siopen-nb"
BORN = {"date_of_birth": dt.date(2023, 1, 20)}
TODAY = dt.date(2026, 11, 27)


@cache
def _form(name: str) -> Form:
    return load_study(DEMO).value.forms[name]


def _evaluate(name: str, posted: dict[str, str]) -> Evaluation:
    return evaluate(_form(name), posted, context=BORN, today=TODAY)


def _kinds(issues: list) -> set[tuple[str, str]]:
    return {(i.field, i.kind) for i in issues}


GANGLIONEUROMA = {
    "diagnosis_date": "2026-03-10",
    "inrg_stage": "L1",
    "histology": "gn_maturing",
    "mycn": "not_done",
    "chr1p_deletion": "not_done",
    "chr11q": "not_done",
}


def test_an_untested_ganglioneuroma_is_complete_and_group_a():
    result = _evaluate("diagnosis", GANGLIONEUROMA)
    assert [i for i in result.errors if i.field in ("mycn", "chr11q", "chr1p_deletion")] == []
    decision = decide(_form("diagnosis").decision_tables["inrg_risk"], result.values)
    assert (decision.outputs, decision.row) == ({"group": "A", "risk": "very_low"}, "A")


def test_mycn_and_11q_offer_not_done_and_unknown():
    fields = _form("diagnosis").fields
    for name in ("mycn", "chr11q", "chr1p_deletion", "chr17q_gain"):
        assert {"not_done", "unknown"} <= fields[name].choices.codes, name


def test_an_amplified_ganglioneuroma_is_group_a_with_a_warning_for_expert_review():
    result = _evaluate("diagnosis", {**GANGLIONEUROMA, "mycn": "amplified"})
    assert ("mycn", "amplified_favourable") in _kinds(result.warnings)
    decision = decide(_form("diagnosis").decision_tables["inrg_risk"], result.values)
    assert decision.outputs == {"group": "A", "risk": "very_low"}


def test_a_neuroblastoma_with_mycn_not_done_says_what_is_missing():
    posted = {**GANGLIONEUROMA, "histology": "nb", "grade": "differentiating"}
    result = _evaluate("diagnosis", posted)
    decision = decide(_form("diagnosis").decision_tables["inrg_risk"], result.values)
    assert not decision.classifiable
    assert "MYCN" in decision.explanation[-1]


NOTHING_MEASURED = {"ldh_done": "no", "ferritin_done": "no", "urine_done": "no"}


def test_no_sample_date_is_asked_when_nothing_was_measured():
    result = _evaluate("laboratory", NOTHING_MEASURED)
    assert result.errors == []
    assert ("sample_date", None) not in result.required


def test_a_sample_date_is_required_once_something_was_measured():
    posted = {**NOTHING_MEASURED, "ferritin_done": "yes", "ferritin": "120", "ferritin_uln": "300"}
    result = _evaluate("laboratory", posted)
    assert ("sample_date", None) in result.required
    assert "sample_date" in {i.field for i in result.errors}


LDH = {**NOTHING_MEASURED, "ldh_done": "yes", "sample_date": "2026-11-02"}


def test_ldh_in_ukat_per_litre_is_converted_to_u_per_litre():
    result = _evaluate("laboratory", {**LDH, "ldh_unit": "ukat_l", "ldh": "9,5", "ldh_uln": "5"})
    assert result.errors == []
    assert result.warnings == []  # 9.5 µkat/L is 570 U/L: plausible
    assert Decimal(str(result.values["ldh_u_l"])) == 570
    assert Decimal(str(result.values["ldh_uln_u_l"])) == 300
    assert result.values["ldh_above_uln"] is True


def test_ldh_in_u_per_litre_is_kept_and_its_plausibility_checked_in_u_per_litre():
    result = _evaluate("laboratory", {**LDH, "ldh_unit": "u_l", "ldh": "9,5", "ldh_uln": "300"})
    assert Decimal(str(result.values["ldh_u_l"])) == 10  # whole U/L, as the registry takes it
    assert "ldh" in {i.field for i in result.warnings}  # 9.5 U/L is implausible in a child
    fine = _evaluate("laboratory", {**LDH, "ldh_unit": "u_l", "ldh": "570", "ldh_uln": "300"})
    assert fine.warnings == []
