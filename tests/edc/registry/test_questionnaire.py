"""A form as the registry reads it: a valid R4 Questionnaire in every study language, without
identifying items, and answers of exactly the types their items declare."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from edc.registry.fhir_check import problems
from edc.registry.questionnaire import (
    TRANSLATION,
    answer,
    code_system,
    fields_sent,
    group_link_id,
    item_type,
    questionnaire,
    withheld_fields,
)
from edc.services import identifiers
from forms_dsl import load_form_text, load_study
from forms_dsl.model import Form, Study

DEMO = Path(__file__).resolve().parents[3] / "studies" / "siopen-nb"
BASE = "https://fhir.siopen-edc.org"


@cache
def _demo() -> Study:
    return load_study(DEMO).value


def _demo_questionnaire(form_id: str, **options: Any) -> dict[str, Any]:
    study = _demo()
    return questionnaire(
        study.forms[form_id],
        study_slug=study.slug,
        base=BASE,
        languages=study.languages,
        **options,
    )


def _items(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for item in node.get("item", []):
        yield item
        yield from _items(item)


def _item(q: dict[str, Any], link_id: str) -> dict[str, Any]:
    return next(i for i in _items(q) if i["linkId"] == link_id)


def _texts(node: object) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every translatable text (title, item text, option display) with the element holding it."""
    if isinstance(node, dict):
        for key in ("title", "text", "display"):
            if isinstance(node.get(key), str):
                yield key, node
        for key, value in node.items():
            if not key.startswith("_") and key not in ("code", "extension"):
                yield from _texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _texts(value)


DEMO_FORMS = sorted(load_study(DEMO).value.forms)


@pytest.mark.parametrize("form_id", DEMO_FORMS)
def test_every_demo_form_is_a_valid_questionnaire(form_id: str) -> None:
    q = _demo_questionnaire(form_id)
    assert problems(q) == []
    assert q["url"] == f"{BASE}/siopen-nb/Questionnaire/{form_id}"
    assert q["version"] == str(_demo().forms[form_id].version)
    assert (q["status"], q["subjectType"]) == ("active", ["Patient"])


@pytest.mark.parametrize("form_id", DEMO_FORMS)
def test_link_ids_are_unique_and_name_every_field(form_id: str) -> None:
    q = _demo_questionnaire(form_id)
    form = _demo().forms[form_id]
    link_ids = [i["linkId"] for i in _items(q)]
    assert len(link_ids) == len(set(link_ids))
    assert {f.id for f in form if not f.identifier} <= set(link_ids)
    assert {group_link_id(form, s) for s in form.sections} <= set(link_ids)


@pytest.mark.parametrize("form_id", DEMO_FORMS)
def test_every_text_is_there_in_all_five_languages(form_id: str) -> None:
    q = _demo_questionnaire(form_id)
    assert q["language"] == "en"
    texts = list(_texts(q))
    assert len(texts) > 10
    for key, holder in texts:
        translations = holder[f"_{key}"]["extension"]
        assert all(t["url"] == TRANSLATION for t in translations)
        langs = [t["extension"][0]["valueCode"] for t in translations]
        assert langs == ["fr", "de", "it", "es"], holder[key]


def test_a_french_title_is_the_one_the_form_has() -> None:
    q = _demo_questionnaire("diagnosis")
    (fr,) = [t for t in q["_title"]["extension"] if t["extension"][0]["valueCode"] == "fr"]
    assert fr["extension"][1] == {"url": "content", "valueString": "Diagnostic"}


def test_identifier_items_never_leave() -> None:
    q = _demo_questionnaire("registration")
    assert "referring_physician" not in {i["linkId"] for i in _items(q)}
    assert "referring_physician" not in str(q)


@pytest.mark.parametrize("form_id", DEMO_FORMS)
def test_what_is_withheld_is_what_the_screens_mask(form_id: str) -> None:
    form = _demo().forms[form_id]
    assert withheld_fields(form) == identifiers.field_ids(form)


def test_calculations_reading_an_identifier_never_leave() -> None:
    form = _all_types()
    withheld = {"hospital_number", "number_length", "number_known"}
    assert withheld_fields(form) == withheld == identifiers.field_ids(form)
    assert not withheld & {i["linkId"] for i in _items(_all_types_questionnaire())}
    assert fields_sent(form, {"name", "number_length"}) == {"name"}


def test_the_allow_list_keeps_only_its_fields_and_their_sections() -> None:
    q = _demo_questionnaire("diagnosis", allowed={"diagnosis_date", "inrg_stage", "histology"})
    assert problems(q) == []
    groups = [(g["linkId"], [i["linkId"] for i in g["item"]]) for g in q["item"]]
    assert groups == [
        ("diagnosis", ["diagnosis_date"]),
        ("tumour", ["inrg_stage"]),
        ("pathology", ["histology"]),
    ]


def test_nothing_allowed_gives_a_questionnaire_without_items() -> None:
    q = _demo_questionnaire("diagnosis", allowed=())
    assert "item" not in q
    assert problems(q) == []


# -- items from a small form with every type --------------------------------------------------

ALL_TYPES = """\
form: all_types
version: 7
title: All types
choice_lists:
  colour:
    - {code: red, label: Red}
    - {code: green, label: Green}
sections:
  - id: main
    title: Main
    fields:
      - {id: name, type: text, label: Name, max_length: 40}
      - {id: story, type: textarea, label: Story}
      - {id: count, type: integer, label: Count, min: 0, max: 9, unit: cells}
      - {id: weight, type: decimal, label: Weight, decimals: 2, min: 0.5, max: 150, unit: kg}
      - {id: seen, type: date, label: Seen, max: today()}
      - {id: taken, type: datetime, label: Taken}
      - {id: at, type: time, label: At}
      - {id: well, type: yesno, label: Well, required: true}
      - {id: colour, type: choice, label: Colour, choices: colour}
      - id: sites
        type: multichoice
        label: Sites
        choices:
          - {code: bone, label: Bone}
          - {code: liver, label: Liver}
      - {id: doubled, type: calc, label: Doubled, calc: "count * 2", decimals: 0}
      - {id: heavy, type: calc, label: Heavy, calc: "weight > 100"}
      - {id: info, type: note, label: Read this}
      - {id: hospital_number, type: text, label: Hospital number, identifier: true}
      - {id: number_length, type: calc, label: Length, calc: "len(hospital_number)"}
      - {id: number_known, type: calc, label: Known, calc: "number_length > 0"}
  - id: main_rows
    title: Rows
    repeat: {min: 1, max: 5}
    fields:
      - {id: row_note, type: text, label: Row note}
"""


@cache
def _all_types() -> Form:
    return load_form_text(ALL_TYPES, "all_types.yaml").value


def _all_types_questionnaire() -> dict[str, Any]:
    return questionnaire(_all_types(), study_slug="demo", base=BASE + "/", languages=["en"])


def test_each_field_type_has_its_r4_item_type() -> None:
    form = _all_types()
    types = {f.id: item_type(f) for f in form}
    assert types == {
        "name": "string",
        "story": "text",
        "count": "integer",
        "weight": "decimal",
        "seen": "date",
        "taken": "dateTime",
        "at": "time",
        "well": "boolean",
        "colour": "choice",
        "sites": "choice",
        "doubled": "integer",
        "heavy": "boolean",
        "info": "display",
        "hospital_number": "string",
        "number_length": "decimal",
        "number_known": "boolean",
        "row_note": "string",
    }


def test_items_carry_limits_units_and_flags() -> None:
    q = _all_types_questionnaire()
    assert problems(q) == []
    assert q["url"] == f"{BASE}/demo/Questionnaire/all_types"
    assert q["name"] == "AllTypes"
    weight = _item(q, "weight")
    assert weight["extension"] == [
        {"url": "http://hl7.org/fhir/StructureDefinition/questionnaire-unit",
         "valueCoding": {"display": "kg"}},
        {"url": "http://hl7.org/fhir/StructureDefinition/minValue", "valueDecimal": 0.5},
        {"url": "http://hl7.org/fhir/StructureDefinition/maxValue", "valueDecimal": 150.0},
        {"url": "http://hl7.org/fhir/StructureDefinition/maxDecimalPlaces", "valueInteger": 2},
    ]  # fmt: skip
    assert "extension" not in _item(q, "seen")  # `max: today()` is the server's to check
    assert _item(q, "name")["maxLength"] == 40
    assert _item(q, "well")["required"] is True
    assert _item(q, "sites")["repeats"] is True
    assert _item(q, "doubled")["readOnly"] is True
    assert _item(q, "info") == {"linkId": "info", "text": "Read this", "type": "display"}
    rows = _item(q, "main_rows")
    assert rows["repeats"] is True
    assert [e["valueInteger"] for e in rows["extension"]] == [1, 5]


def test_choices_are_codings_of_the_study_or_the_form() -> None:
    q = _all_types_questionnaire()
    colour = _item(q, "colour")["answerOption"]
    assert colour[0] == {
        "valueCoding": {
            "system": f"{BASE}/demo/CodeSystem/all_types-colour",
            "code": "red",
            "display": "Red",
        }
    }
    study = _demo()
    mycn = study.forms["diagnosis"].field("mycn")
    assert code_system(study.forms["diagnosis"], mycn, study_slug="nb", base=BASE) == (
        f"{BASE}/nb/CodeSystem/diagnosis-mycn"
    )


def test_a_study_list_keeps_its_own_code_system() -> None:
    text = ALL_TYPES.replace("choices: colour", "choices: shared_colour")
    shared = _all_types().choice_lists["colour"]
    form = load_form_text(
        text, "all_types.yaml", shared_lists={"shared_colour": replace(shared, id="shared_colour")}
    ).value
    field = form.field("colour")
    assert code_system(form, field, study_slug="demo", base=BASE) == (
        f"{BASE}/demo/CodeSystem/shared_colour"
    )


def test_a_section_named_like_a_field_gets_its_own_link_id() -> None:
    text = ALL_TYPES.replace("id: main_rows", "id: row_note_group").replace(
        "id: row_note,", "id: main,"
    )
    form = load_form_text(text, "all_types.yaml").value
    q = questionnaire(form, study_slug="demo", base=BASE, languages=["en"])
    assert problems(q) == []
    assert [g["linkId"] for g in q["item"]] == ["main-section", "row_note_group"]


# -- enableWhen -------------------------------------------------------------------------------


def _conditional(show_if: str) -> dict[str, Any]:
    form = load_form_text(
        textwrap.dedent(f"""\
        form: cond
        version: 1
        title: Conditions
        sections:
          - id: main
            title: Main
            fields:
              - {{id: n, type: integer, label: N}}
              - {{id: d, type: decimal, label: D}}
              - {{id: yes, type: yesno, label: Yes}}
              - id: c
                type: choice
                label: C
                choices: [{{code: a, label: A}}, {{code: b, label: B}}]
              - {{id: m, type: multichoice, label: M, choices: [{{code: a, label: A}}]}}
              - {{id: secret, type: integer, label: Secret, identifier: true}}
              - id: target
                type: text
                label: Target
                required: true
                show_if: "{show_if}"
        """),
        "cond.yaml",
    ).value
    q = questionnaire(form, study_slug="s", base=BASE, languages=["en"])
    assert problems(q) == []
    target = _item(q, "target")
    return {k: v for k, v in target.items() if k in ("enableWhen", "enableBehavior", "required")}


CODING_A = {"system": f"{BASE}/s/CodeSystem/cond-c", "code": "a"}


@pytest.mark.parametrize(
    ("show_if", "expected"),
    [
        ("c == 'a'", [{"question": "c", "operator": "=", "answerCoding": CODING_A}]),
        ("n > 3", [{"question": "n", "operator": ">", "answerInteger": 3}]),
        ("3 >= n", [{"question": "n", "operator": "<=", "answerInteger": 3}]),
        ("d < -1.5", [{"question": "d", "operator": "<", "answerDecimal": -1.5}]),
        ("yes", [{"question": "yes", "operator": "=", "answerBoolean": True}]),
        ("yes == false", [{"question": "yes", "operator": "=", "answerBoolean": False}]),
        (
            "selected(m, 'a')",
            [
                {
                    "question": "m",
                    "operator": "=",
                    "answerCoding": {"system": f"{BASE}/s/CodeSystem/cond-m", "code": "a"},
                }
            ],
        ),
    ],
)
def test_a_comparison_of_one_field_with_a_literal_goes_out(show_if: str, expected: list) -> None:
    assert _conditional(show_if) == {"enableWhen": expected, "required": True}


def test_in_a_list_is_any_of_its_values() -> None:
    assert _conditional("c in ['a', 'b']") == {
        "enableWhen": [
            {"question": "c", "operator": "=", "answerCoding": CODING_A},
            {"question": "c", "operator": "=", "answerCoding": {**CODING_A, "code": "b"}},
        ],
        "enableBehavior": "any",
        "required": True,
    }


def test_not_equal_also_needs_an_answer_as_in_the_portal() -> None:
    assert _conditional("c != 'a'") == {
        "enableWhen": [
            {"question": "c", "operator": "exists", "answerBoolean": True},
            {"question": "c", "operator": "!=", "answerCoding": CODING_A},
        ],
        "enableBehavior": "all",
        "required": True,
    }


@pytest.mark.parametrize(
    "show_if",
    ["n > 3 and yes", "c == 'a' or n > 1", "not is_blank(n)", "n + 1 > 3", "secret > 3", "not yes"],
)
def test_anything_else_is_left_to_the_server_and_not_required(show_if: str) -> None:
    assert _conditional(show_if) == {}


def test_a_demo_field_shown_by_a_complex_condition_is_not_required() -> None:
    q = _demo_questionnaire("laboratory")
    dopamine_unit = _item(q, "dopamine_unit")  # show_if: "not is_blank(dopamine)"
    assert "enableWhen" not in dopamine_unit
    assert "required" not in dopamine_unit
    assert _item(q, "ldh_unit")["required"] is True  # show_if: "ldh_done"


def test_a_section_condition_goes_on_its_group() -> None:
    group = _item(_demo_questionnaire("diagnosis"), "metastases")
    assert group["enableBehavior"] == "any"
    assert [w["answerCoding"]["code"] for w in group["enableWhen"]] == ["M", "MS"]


# -- answers ------------------------------------------------------------------------------------


def _response(field_id: str, answers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{BASE}/demo/Questionnaire/all_types|7",
        "status": "completed",
        "subject": {"reference": "urn:uuid:6f1c2d3e-4b5a-5c6d-8e7f-0a1b2c3d4e5f"},
        "authored": "2026-12-04T17:00:00+00:00",
        "item": [{"linkId": field_id, "answer": answers}],
    }


ZURICH = ZoneInfo("Europe/Zurich")
#: The answer[x] each R4 item type takes.
ANSWER_OF = {
    "string": "valueString",
    "text": "valueString",
    "integer": "valueInteger",
    "decimal": "valueDecimal",
    "date": "valueDate",
    "dateTime": "valueDateTime",
    "time": "valueTime",
    "boolean": "valueBoolean",
    "choice": "valueCoding",
}


@pytest.mark.parametrize(
    ("field_id", "stored", "expected"),
    [
        ("name", "Léa", [{"valueString": "Léa"}]),
        ("story", "line 1\nline 2", [{"valueString": "line 1\nline 2"}]),
        ("count", 7, [{"valueInteger": 7}]),
        ("weight", "2.50", [{"valueDecimal": 2.5}]),
        ("weight", "1234567.123456", [{"valueDecimal": 1234567.123456}]),
        ("seen", "2026-03-01", [{"valueDate": "2026-03-01"}]),
        ("taken", "2026-03-29T10:30+02:00", [{"valueDateTime": "2026-03-29T10:30:00+02:00"}]),
        ("at", "14:30:00", [{"valueTime": "14:30:00"}]),
        ("at", "07:05", [{"valueTime": "07:05:00"}]),
        ("well", True, [{"valueBoolean": True}]),
        ("well", "no", [{"valueBoolean": False}]),
        (
            "colour",
            "green",
            [{"valueCoding": {"system": "S", "code": "green", "display": "Green"}}],
        ),
        (
            "sites",
            ["bone", "liver"],
            [
                {"valueCoding": {"system": "S", "code": "bone", "display": "Bone"}},
                {"valueCoding": {"system": "S", "code": "liver", "display": "Liver"}},
            ],
        ),
        ("doubled", "14", [{"valueInteger": 14}]),
        ("heavy", False, [{"valueBoolean": False}]),
    ],
)
def test_each_stored_shape_is_an_answer_of_its_item_type(
    field_id: str, stored: object, expected: list[dict[str, Any]]
) -> None:
    field = _all_types().field(field_id)
    answers = answer(field, stored, system="S", language="en")
    assert answers == expected
    assert next(iter(answers[0])) == ANSWER_OF[item_type(field)]
    assert problems(_response(field_id, answers)) == []


def test_decimals_are_written_as_the_numbers_stored() -> None:
    field = _all_types().field("weight")
    for stored in ("0.1", "72.35", "123456789.123456", "-0.000001"):
        (value,) = answer(field, stored)
        assert json.dumps(value) == f'{{"valueDecimal": {float(stored)!r}}}'
        assert Decimal(repr(value["valueDecimal"])) == Decimal(stored)


def test_a_date_time_kept_without_offset_takes_the_site_zone_or_stays_a_date() -> None:
    field = _all_types().field("taken")
    assert answer(field, "2026-03-29T10:30", zone=ZURICH) == [
        {"valueDateTime": "2026-03-29T10:30:00+02:00"}
    ]
    assert answer(field, "2026-03-29T10:30") == [{"valueDateTime": "2026-03-29"}]


@pytest.mark.parametrize(("field_id", "stored"), [("info", None), ("name", None), ("sites", [])])
def test_blanks_and_notes_give_no_answer(field_id: str, stored: object) -> None:
    assert answer(_all_types().field(field_id), stored) == []


@pytest.mark.parametrize(
    ("field_id", "stored"),
    [
        ("count", "1.5"),
        ("count", True),
        ("weight", "heavy"),
        ("weight", "NaN"),
        ("colour", "blue"),
        ("colour", ["red"]),
        ("well", "maybe"),
        ("taken", "yesterday"),
    ],
)
def test_a_stored_value_that_does_not_fit_is_refused(field_id: str, stored: object) -> None:
    with pytest.raises(ValueError, match=field_id):
        answer(_all_types().field(field_id), stored)


def test_demo_answers_match_their_questionnaire_items() -> None:
    """Every typed answer of a demo form fits the item the Questionnaire declares."""
    q = _demo_questionnaire("liquid_biopsy")
    form = _demo().forms["liquid_biopsy"]
    taken = form.field("collection_datetime")
    answers = answer(taken, "2026-03-29T10:30+02:00")
    assert _item(q, "collection_datetime")["type"] == "dateTime"
    assert problems(_response("collection_datetime", answers)) == []
    when = dt.datetime(2026, 3, 29, 10, 30, tzinfo=ZURICH).isoformat(timespec="seconds")
    assert answers == [{"valueDateTime": when}]
