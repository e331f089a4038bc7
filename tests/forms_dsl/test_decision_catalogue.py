"""The field catalogue the reference tables are checked against, shared by the decision tests.

The reference tables live in the demo study's form files (`inrg_risk` in `diagnosis.yaml`,
`inrc_response` in `response.yaml`); here each is cut out of its form and loaded on its own with
the fields a form would give it (the codes of the choice lists, numbers for integer, decimal and
calculated fields), so tests can also load damaged copies of one table.
"""

from __future__ import annotations

import textwrap
from functools import cache
from pathlib import Path

from forms_dsl.decision import DecisionTable, decide, load_table_yaml
from forms_dsl.types import FieldInfo, VType

ROOT = Path(__file__).resolve().parents[2]
FORMS = ROOT / "studies" / "siopen-nb" / "forms"
TABLE_FORM = {"inrg_risk": "diagnosis", "inrc_response": "response"}
LANGUAGES = ("en", "fr", "de", "it", "es")


def code(*codes: str) -> FieldInfo:
    return FieldInfo(VType.CODE, codes=frozenset(codes))


NUMBER = FieldInfo(VType.NUMBER)
COMPONENT = ("CR", "PR", "SD", "PD", "NI", "NE")
MARROW = ("CR", "MD", "SD", "PD", "NI", "NE")

FIELDS: dict[str, FieldInfo] = {
    # diagnosis form (INRG inputs)
    "inrg_stage": code("L1", "L2", "M", "MS"),
    "age_months": NUMBER,
    "histology": code("gn_maturing", "gn_mature", "gnb_intermixed", "gnb_nodular", "nb"),
    "grade": code("differentiating", "poorly_differentiated", "undifferentiated"),
    "mycn": code("amplified", "not_amplified", "gain", "heterogeneous", "not_done", "unknown"),
    "chr11q": code("yes", "no", "not_done", "unknown"),
    "dna_index": NUMBER,
    # response form (INRC inputs)
    "response_primary": code(*COMPONENT),
    "response_metastatic": code(*COMPONENT),
    "response_marrow": code(*MARROW),
    # fields a table cannot use
    "diagnosis_date": FieldInfo(VType.DATE),
    "comment": FieldInfo(VType.TEXT),
    "metastasis_site": FieldInfo(VType.CODE, repeat="metastases", codes=frozenset({"bone"})),
}

DOMAINS: dict[str, tuple[str, ...]] = {
    name: tuple(sorted(info.codes)) for name, info in FIELDS.items() if info.codes
}


def table_text(name: str) -> str:
    """The table's YAML as written in its form, un-indented to stand alone."""
    form = (FORMS / f"{TABLE_FORM[name]}.yaml").read_text(encoding="utf-8")
    block = form.split("\ndecision_tables:\n", 1)[1]
    return textwrap.dedent(block)


def load(
    name: str, text: str | None = None, fields: dict[str, FieldInfo] = FIELDS
) -> DecisionTable:
    """A reference table (or a changed copy of its text) with the shared catalogue."""
    return load_table_yaml(
        table_text(name) if text is None else text, f"{name}.yaml", fields, LANGUAGES
    )


@cache
def inrg() -> DecisionTable:
    return load("inrg_risk")


@cache
def inrc() -> DecisionTable:
    return load("inrc_response")


def test_both_reference_tables_load_with_the_catalogue():
    assert inrg().id == "inrg_risk"
    assert inrc().id == "inrc_response"
    assert [i.id for i in inrg().inputs] == [
        "inrg_stage",
        "age_months",
        "histology",
        "grade",
        "mycn",
        "chr11q",
        "dna_index",
    ]
    assert [i.id for i in inrc().inputs] == [
        "response_primary",
        "response_metastatic",
        "response_marrow",
    ]


def test_every_text_of_the_reference_tables_has_all_five_languages():
    for table in (inrg(), inrc()):
        texts = [table.title, table.description]
        texts += [o.label for o in table.outputs]
        texts += [label for o in table.outputs for _code, label in o.values or () if label]
        texts += [f.text for f in table.flags]
        for text in texts:
            assert text.languages == set(LANGUAGES)
            assert all(value.strip() for _lang, value in text.items)
        assert table.source


def test_the_catalogue_decides_in_every_language():
    case = {"inrg_stage": "L1", "histology": "nb", "mycn": "not_amplified"}
    lines = {lang: decide(inrg(), case, lang).explanation[-1] for lang in LANGUAGES}
    assert lines["en"] == "→ Pretreatment group: B, Risk: very low"
    assert lines["fr"] == "→ Groupe avant traitement : B, Risque : très faible"
    assert len(set(lines.values())) == len(LANGUAGES)
