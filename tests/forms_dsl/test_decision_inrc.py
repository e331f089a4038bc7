"""The INRC 2017 overall response table (Park et al., JCO 2017) against the domain reference §4."""

from __future__ import annotations

import itertools

import pytest

from forms_dsl.decision import build_tables, decide
from forms_dsl.errors import Problems
from forms_dsl.source import parse
from tests.forms_dsl.test_decision_catalogue import (
    COMPONENT,
    FIELDS,
    LANGUAGES,
    MARROW,
    inrc,
    table_text,
)


def overall(primary, metastatic, marrow, lang="en") -> tuple:
    d = decide(
        inrc(),
        {"response_primary": primary, "response_metastatic": metastatic, "response_marrow": marrow},
        lang,
    )
    if d.classifiable:
        return (d.outputs["overall"], *d.flags)
    if d.row is not None:
        return ("not classifiable", *d.flags)
    return ("missing", *d.missing)


# (primary, metastatic soft tissue and bone, bone marrow) → overall
RULES = {
    "CR: all components CR": [
        (("CR", "CR", "CR"), "CR"),
    ],
    "CR: components not involved are left aside": [
        (("CR", "NI", "NI"), "CR"),
        (("NI", "CR", "CR"), "CR"),
        (("CR", "CR", "NI"), "CR"),
        (("NI", "NI", "CR"), "CR"),
    ],
    "PR: at least one PR, all others CR, MD, PR or NI": [
        (("PR", "CR", "CR"), "PR"),
        (("PR", "PR", "MD"), "PR"),
        (("CR", "PR", "NI"), "PR"),
        (("NI", "PR", "CR"), "PR"),
        (("PR", "NI", "NI"), "PR"),
        (("PR", "PR", "CR"), "PR"),
    ],
    "PR: marrow minimal disease counts as a partial response": [
        (("CR", "CR", "MD"), "PR"),
        (("NI", "NI", "MD"), "PR"),
        (("CR", "NI", "MD"), "PR"),
    ],
    "MR: at least one PR or CR, at least one other SD": [
        (("PR", "SD", "CR"), "MR"),
        (("CR", "SD", "SD"), "MR"),
        (("SD", "CR", "NI"), "MR"),
        (("SD", "PR", "SD"), "MR"),
        (("NI", "PR", "SD"), "MR"),
        (("SD", "SD", "CR"), "MR"),
        (("SD", "NI", "MD"), "MR"),
    ],
    "SD: SD in one component, nothing better than SD or NI in the others": [
        (("SD", "SD", "SD"), "SD"),
        (("SD", "NI", "NI"), "SD"),
        (("NI", "SD", "SD"), "SD"),
        (("NI", "NI", "SD"), "SD"),
        (("SD", "SD", "NI"), "SD"),
    ],
    "PD: any component PD": [
        (("PD", "CR", "CR"), "PD"),
        (("CR", "PD", "CR"), "PD"),
        (("CR", "CR", "PD"), "PD"),
        (("PR", "SD", "PD"), "PD"),
        (("PD", "PD", "PD"), "PD"),
        (("NI", "NI", "PD"), "PD"),
        (("NE", "NE", "PD"), "PD"),  # progression needs no other assessment
    ],
}


@pytest.mark.parametrize(
    ("components", "expected"),
    [pair for pairs in RULES.values() for pair in pairs],
    ids=[f"{rule}: {'/'.join(c)}" for rule, pairs in RULES.items() for c, _e in pairs],
)
def test_every_overall_response_rule(components, expected):
    assert overall(*components) == (expected,)


def test_a_component_not_evaluated_leaves_the_overall_response_open():
    for components in (("CR", "NE", "CR"), ("NE", "PR", "SD"), ("PR", "CR", "NE"), ("NE",) * 3):
        assert overall(*components) == ("not classifiable", "component_not_evaluated")
    d = decide(
        inrc(),
        dict(
            zip(
                ("response_primary", "response_metastatic", "response_marrow"),
                ("CR", "NE", "CR"),
                strict=True,
            )
        ),
        "it",
    )
    assert d.explanation[-1].startswith("→ Non classificabile: Una componente non è stata valutata")


def test_no_component_involved_is_an_entry_error():
    assert overall("NI", "NI", "NI") == ("not classifiable", "no_involved_component")


def test_blank_components_are_named():
    assert overall(None, None, None) == (
        "missing",
        "response_primary",
        "response_metastatic",
        "response_marrow",
    )
    assert overall("CR", None, "CR") == ("missing", "response_metastatic")
    # any component PD is progression, but blank components are still named (never guessed)
    assert overall("PD", None, None) == ("PD",)
    assert overall(None, "PD", None) == ("missing", "response_primary")


def test_bone_marrow_has_no_partial_response():
    d = decide(
        inrc(), {"response_primary": "CR", "response_metastatic": "CR", "response_marrow": "PR"}
    )
    assert (d.classifiable, d.invalid, d.status) == (False, ("response_marrow",), "invalid")
    assert d.explanation[0] == "response_marrow = PR: not a valid value"


def test_explanation_of_a_minor_response():
    d = decide(
        inrc(),
        {"response_primary": "PR", "response_metastatic": "SD", "response_marrow": "MD"},
        "es",
    )
    assert d.explanation == (
        "response_primary = PR (uno de CR, PR)",
        "response_metastatic = SD",
        "response_marrow = MD (uno de CR, MD, SD, NI)",
        "→ Respuesta global: respuesta menor",
    )


def oracle(primary: str, metastatic: str, marrow: str) -> tuple:
    """§4 as written, with NI left aside and marrow MD counted as a partial response."""
    components = (primary, metastatic, marrow)
    if "PD" in components:
        return ("PD",)
    if "NE" in components:
        return ("not classifiable", "component_not_evaluated")
    involved = [c for c in components if c != "NI"]
    if not involved:
        return ("not classifiable", "no_involved_component")
    if all(c == "CR" for c in involved):
        return ("CR",)
    if "SD" in involved:
        return ("MR",) if any(c in ("CR", "PR", "MD") for c in involved) else ("SD",)
    return ("PR",)


def test_every_combination_agrees_with_the_rules():
    combos = list(itertools.product(COMPONENT, COMPONENT, MARROW))
    assert len(combos) == 216
    for components in combos:
        assert overall(*components) == oracle(*components), components


def test_the_reference_file_has_no_overlap_no_gap_and_no_warning():
    problems = Problems()
    node = parse(table_text("inrc_response"), "inrc_response.yaml")
    build_tables(node, FIELDS, LANGUAGES, problems)  # type: ignore[arg-type]
    assert list(problems) == []
