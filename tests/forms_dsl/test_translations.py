"""Every text in every study language: labels, hints, choices, messages, decisions."""

from __future__ import annotations

from forms_dsl import decide, evaluate
from tests.forms_dsl.helpers import form, problems

LANGS = ("en", "fr", "de")
TEXT = """\
form: t
version: 1
title: {en: Weight, fr: Poids, de: Gewicht}
sections:
  - id: m
    title: {en: Main, fr: Principal, de: Haupt}
    fields:
      - id: w
        type: decimal
        label: {en: Weight, fr: Poids, de: Gewicht}
        hint: {en: In kilograms, fr: En kilogrammes, de: In Kilogramm}
        required: true
        checks:
          - when: "w > 150"
            message: {en: "Too heavy?", fr: "Trop lourd ?", de: "Zu schwer?"}
      - id: sex
        type: choice
        label: {en: Sex, fr: Sexe, de: Geschlecht}
        choices:
          - {code: f, label: {en: Female, fr: Féminin, de: Weiblich}}
          - {code: m, label: {en: Male, fr: Masculin, de: Männlich}}
"""


def test_labels_hints_and_choices_come_in_each_language():
    f = form(TEXT, languages=LANGS)
    weight = f.field("w")
    assert [weight.label.get(lang) for lang in LANGS] == ["Weight", "Poids", "Gewicht"]
    assert weight.hint.get("de") == "In Kilogramm"
    assert f.field("sex").choices.label("m", "fr") == "Masculin"
    assert f.title.get("es") == "Weight"  # a language the study lacks falls back to English


def test_messages_follow_the_reader_language():
    f = form(TEXT, languages=LANGS)
    assert evaluate(f, {"w": "200"}, lang="de").errors[0].message == "Zu schwer?"
    assert evaluate(f, {"w": ""}, lang="fr").errors[0].message == "Ce champ est obligatoire."


def test_each_missing_translation_is_reported_with_its_language():
    broken = TEXT.replace(", de: Weiblich}", "}").replace('de: "Zu schwer?"', 'dx: "Zu schwer?"')
    found = problems(broken, languages=LANGS)
    messages = [(p.code.id, p.message) for p in found]
    assert ("E209", "a choice label has no de text") in messages
    assert any(code == "E210" for code, _m in messages)
    assert any(code == "E209" and "message of check 1" in m for code, m in messages)


def test_decision_explanations_are_translated():
    from forms_dsl import load_study
    from tests.forms_dsl.test_study import DEMO

    table = load_study(DEMO).value.forms["diagnosis"].decision_tables["inrg_risk"]
    values = {"inrg_stage": "M", "age_months": 30, "mycn": "amplified"}
    english = decide(table, values, "en").explanation
    french = decide(table, values, "fr").explanation
    assert english != french
    assert decide(table, values, "fr").outputs == {"group": "P", "risk": "high"}
