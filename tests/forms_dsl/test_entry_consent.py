"""study.yaml's `consent:` key: whether entry waits for consent, and what confirms eligibility."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from forms_dsl import FormsDslError, load_study

DEMO = Path(__file__).resolve().parents[2] / "studies" / "siopen-nb"
RULE = "  before_consent: [registration]\n  eligibility: registration.eligible\n"


def _study_with(tmp_path: Path, new: str) -> Path:
    folder = tmp_path / "siopen-nb"
    shutil.copytree(DEMO, folder)
    study_file = folder / "study.yaml"
    text = study_file.read_text()
    assert RULE in text
    study_file.write_text(text.replace(RULE, new, 1))
    return folder


def _problem(folder: Path) -> tuple[str, str, str]:
    with pytest.raises(FormsDslError) as caught:
        load_study(folder)
    (problem,) = caught.value.errors
    line = (folder / "study.yaml").read_text().splitlines()[problem.location.line - 1]
    return problem.code.id, problem.message, line


def test_the_demo_study_names_its_screening_form_and_eligibility_item():
    rule = load_study(DEMO).value.consent
    assert rule.before_consent == ("registration",)
    assert rule.eligibility == ("registration", "eligible")


def test_a_study_without_the_key_waits_for_nothing(tmp_path):
    folder = _study_with(tmp_path, "")
    text = (folder / "study.yaml").read_text()
    (folder / "study.yaml").write_text(text.replace("consent:\n  required_for_entry: false\n", ""))
    rule = load_study(folder).value.consent
    assert (rule.required_for_entry, rule.before_consent, rule.eligibility) == (False, (), None)


def test_an_unknown_form_is_located_with_a_suggestion(tmp_path):
    folder = _study_with(tmp_path, "  before_consent: [registraton]\n")
    code, message, line = _problem(folder)
    assert code == "E710"
    assert "`registraton`" in message
    assert "registraton" in line


@pytest.mark.parametrize(
    "target", ["registration.nonexistent", "registration", "registration.consent_date"]
)
def test_the_eligibility_item_must_be_a_yes_no_item(tmp_path, target):
    folder = _study_with(tmp_path, f"  eligibility: {target}\n")
    code, message, line = _problem(folder)
    assert code == "E711"
    assert target in message
    assert target in line


def test_an_unknown_key_is_reported(tmp_path):
    folder = _study_with(tmp_path, RULE + "  required_for_entyr: true\n")
    code, _message, line = _problem(folder)
    assert code == "E201"
    assert "required_for_entyr" in line
