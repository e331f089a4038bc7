"""study.yaml's `consent:` key: whether entry waits for consent, and what confirms eligibility."""

from __future__ import annotations

import pytest

from forms_dsl import load_study
from tests.forms_dsl.demo_edits import DEMO, only_problem, study_with

RULE = "  before_consent: [registration]\n  eligibility: registration.eligible\n"


def test_the_demo_study_names_its_screening_form_and_eligibility_item():
    rule = load_study(DEMO).value.consent
    assert rule.before_consent == ("registration",)
    assert rule.eligibility == ("registration", "eligible")


def test_a_study_without_the_key_waits_for_nothing(tmp_path):
    folder = study_with(tmp_path, RULE, "")
    text = (folder / "study.yaml").read_text()
    (folder / "study.yaml").write_text(text.replace("consent:\n  required_for_entry: false\n", ""))
    rule = load_study(folder).value.consent
    assert (rule.required_for_entry, rule.before_consent, rule.eligibility) == (False, (), None)


def test_an_unknown_form_is_located_with_a_suggestion(tmp_path):
    folder = study_with(tmp_path, RULE, "  before_consent: [registraton]\n")
    code, message, line = only_problem(folder)
    assert code == "E710"
    assert "`registraton`" in message
    assert "registraton" in line


@pytest.mark.parametrize(
    "target", ["registration.nonexistent", "registration", "registration.consent_date"]
)
def test_the_eligibility_item_must_be_a_yes_no_item(tmp_path, target):
    folder = study_with(tmp_path, RULE, f"  eligibility: {target}\n")
    code, message, line = only_problem(folder)
    assert code == "E711"
    assert target in message
    assert target in line


def test_an_unknown_key_is_reported(tmp_path):
    folder = study_with(tmp_path, RULE, RULE + "  required_for_entyr: true\n")
    code, _message, line = only_problem(folder)
    assert code == "E201"
    assert "required_for_entyr" in line
