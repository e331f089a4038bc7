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
    study_file.write_text(
        study_file.read_text().replace("forms: [response, imaging]", "forms: [respons, imaging]")
    )
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


def test_the_diagnosis_form_feeds_the_inrg_table():
    """A nurse's posted answers → engine values (age from the birth date) → INRG group."""
    import datetime as dt

    from forms_dsl import decide, evaluate

    form = load_study(DEMO).value.forms["diagnosis"]
    posted = {
        "diagnosis_date": "2026-03-10",
        "inrg_stage": "M",
        "histology": "nb",
        "grade": "poorly_differentiated",
        "mycn": "not_amplified",
        "chr11q": "no",
        "dna_index": "0,98",
        "metastases-0-metastasis_site": "bone_marrow",
        "metastases-1-metastasis_site": "liver",
    }
    result = evaluate(
        form, posted, context={"date_of_birth": dt.date(2025, 1, 20)}, today=dt.date(2026, 11, 27)
    )
    assert result.errors == []
    assert result.values["age_months"] == 13
    assert result.values["metastasis_count"] == 2
    assert result.values["bone_marrow_involved"] is True
    decision = decide(form.decision_tables["inrg_risk"], result.values)
    assert (decision.outputs, decision.row) == ({"group": "J", "risk": "intermediate"}, "J")


def test_the_diagnosis_form_refuses_stage_ms_from_18_months():
    import datetime as dt

    from forms_dsl import evaluate

    form = load_study(DEMO).value.forms["diagnosis"]
    posted = {"diagnosis_date": "2026-03-10", "inrg_stage": "MS", "histology": "nb",
              "grade": "differentiating", "mycn": "not_amplified",
              "metastases-0-metastasis_site": "skin"}  # fmt: skip
    born = {"date_of_birth": dt.date(2024, 6, 1)}  # 21 months at diagnosis
    result = evaluate(form, posted, context=born, today=dt.date(2026, 11, 27))
    assert [(i.field, i.kind) for i in result.errors] == [("inrg_stage", "ms_age")]


@pytest.mark.parametrize(
    ("languages_line", "message"),
    [
        ("", "study.yaml needs `languages` (add `languages:` ([en, fr, de, it, es]))"),
        (
            "languages: []\n",
            "`languages` must be a list, found an empty list "
            "(write a list here, e.g. `languages: [en, fr]`)",
        ),
    ],
)
def test_a_missing_or_empty_language_list_is_explained(tmp_path, languages_line, message):
    """The author reads what is wrong: not "must be a list, found a list" or ``languages``."""
    copy = tmp_path / "s"
    shutil.copytree(DEMO, copy)
    study_file = copy / "study.yaml"
    lines = study_file.read_text().splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith("languages:")]
    assert len(kept) == len(lines) - 1
    study_file.write_text(languages_line + "".join(kept))
    with pytest.raises(FormsDslError) as caught:
        load_study(copy)
    shown = [f"{p.message} ({p.fix})" for p in caught.value.errors if p.code.id in ("E202", "E203")]
    assert message in shown
