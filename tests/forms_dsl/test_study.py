"""The study folder: study.yaml plus one file per form, all checked together."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from forms_dsl import FormsDslError, load_study
from forms_dsl.model import Study

DEMO = Path(__file__).resolve().parents[2] / "studies" / "siopen-nb"


def test_the_demo_study_loads_without_problems():
    result = load_study(DEMO)
    study = result.value
    assert isinstance(study, Study)
    assert study.languages == ("en", "fr", "de", "it", "es")
    assert {"diagnosis", "response"} <= set(study.forms)
    assert "inrg_risk" in study.forms["diagnosis"].decision_tables
    assert result.warnings == ()


def test_a_broken_copy_reports_every_file_and_place(tmp_path):
    copy = tmp_path / "siopen-nb"
    shutil.copytree(DEMO, copy)
    diagnosis = copy / "forms" / "diagnosis.yaml"
    text = diagnosis.read_text()
    text = text.replace("type: date\n", "type: dat\n", 1)
    text = text.replace("histology in ['nb', 'gnb_nodular']", "histology in ['nb', 'gnb_nodulr']")
    diagnosis.write_text(text)
    study_file = copy / "study.yaml"
    study_file.write_text(study_file.read_text().replace("forms: [response]", "forms: [respons]"))
    with pytest.raises(FormsDslError) as caught:
        load_study(copy)
    found = {(Path(p.location.file).name, p.code.id) for p in caught.value.errors}
    assert ("diagnosis.yaml", "E207") in found
    assert ("study.yaml", "E601") in found
    assert any(name == "diagnosis.yaml" and code.startswith("E4") for name, code in found)
    for problem in caught.value.errors:
        assert problem.location.line > 0
        assert problem.location.column > 0


def test_form_id_must_match_its_file(tmp_path):
    copy = tmp_path / "s"
    shutil.copytree(DEMO, copy)
    (copy / "forms" / "diagnosis.yaml").rename(copy / "forms" / "diagnostic.yaml")
    with pytest.raises(FormsDslError) as caught:
        load_study(copy)
    assert {p.code.id for p in caught.value.errors} == {"E603"}
