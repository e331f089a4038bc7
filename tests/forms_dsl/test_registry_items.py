"""study.yaml's `registry:` key: the allow-list of what the registry may receive."""

from __future__ import annotations

import pytest

from forms_dsl import load_study
from tests.forms_dsl.demo_edits import DEMO, only_problem, study_with

LIST = "    diagnosis: [all, alk_variant]\n"


def test_all_leaves_out_identifiers_free_text_and_notes():
    registry = load_study(DEMO).value.registry
    registration = registry.allowed("registration")
    assert "registration_date" in registration
    assert "referring_physician" not in registration  # an identifier
    assert "trial_other_name" not in registration  # free text, never reviewed
    assert "eligibility_note" not in registration  # a note holds no answer


def test_a_named_free_text_item_is_added_to_all():
    allowed = load_study(DEMO).value.registry.allowed("diagnosis")
    assert "alk_variant" in allowed
    assert "primary_site_other" not in allowed
    assert "diagnosis_date" in allowed


def test_a_form_not_listed_sends_nothing(tmp_path):
    folder = study_with(tmp_path, "    liquid_biopsy: all\n", "")
    assert load_study(folder).value.registry.allowed("liquid_biopsy") == frozenset()


def test_a_study_without_the_key_sends_nothing(tmp_path):
    text = (DEMO / "study.yaml").read_text()
    start = text.index("registry:\n")
    end = text.index("\n\n", start)
    folder = study_with(tmp_path, text[start:end], "")
    assert load_study(folder).value.registry.forms == {}


def test_an_unknown_form_is_located_with_a_suggestion(tmp_path):
    folder = study_with(tmp_path, LIST, "    diagnossis: all\n")
    code, message, line = only_problem(folder)
    assert code == "E720"
    assert "`diagnossis`" in message
    assert "diagnossis" in line


@pytest.mark.parametrize(
    ("item", "code"),
    [("alk_varient", "E721"), ("referring_physician", "E722"), ("eligibility_note", "E723")],
)
def test_an_item_that_cannot_go_is_refused_where_it_is_named(tmp_path, item, code):
    folder = study_with(tmp_path, "    registration: all\n", f"    registration: [all, {item}]\n")
    if item == "alk_varient":
        folder = study_with(tmp_path / "b", LIST, f"    diagnosis: [all, {item}]\n")
    found, message, line = only_problem(folder)
    assert found == code
    assert item in message
    assert item in line


def test_an_unknown_key_is_reported(tmp_path):
    folder = study_with(tmp_path, "registry:\n  forms:\n", "registry:\n  form:\n")
    code, _message, line = only_problem(folder)
    assert code == "E201"
    assert line.strip() == "form:"
