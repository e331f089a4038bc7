"""Events in study.yaml: which repeat, and which ask for a visit date when one is added."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from forms_dsl import FormsDslError, load_study

DEMO = Path(__file__).resolve().parents[2] / "studies" / "siopen-nb"


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "siopen-nb"
    shutil.copytree(DEMO, copy)
    return copy


def _edit(folder: Path, old: str, new: str) -> None:
    study_file = folder / "study.yaml"
    text = study_file.read_text()
    assert old in text
    study_file.write_text(text.replace(old, new, 1))


def test_the_demo_studys_repeating_events_ask_for_a_visit_date():
    events = {e.id: e for e in load_study(DEMO).value.events}
    asking = {e.id for e in events.values() if e.visit_date}
    assert asking == {"response", "liquid_biopsy", "follow_up"}
    assert all(events[e].repeating for e in asking)
    assert not events["diagnosis"].visit_date  # absent means false


def test_visit_date_must_be_true_or_false(tmp_path):
    folder = _copy(tmp_path)
    _edit(folder, "    visit_date: true\n", "    visit_date: sometimes\n")
    with pytest.raises(FormsDslError) as caught:
        load_study(folder)
    (problem,) = caught.value.errors
    assert problem.code.id == "E203"
    assert "`visit_date`" in problem.message
    assert Path(problem.location.file).name == "study.yaml"
    line = (folder / "study.yaml").read_text().splitlines()[problem.location.line - 1]
    assert "visit_date: sometimes" in line


def test_visit_date_on_an_event_that_does_not_repeat_is_an_error(tmp_path):
    folder = _copy(tmp_path)
    _edit(folder, "    forms: [treatment]\n", "    visit_date: true\n    forms: [treatment]\n")
    with pytest.raises(FormsDslError) as caught:
        load_study(folder)
    (problem,) = caught.value.errors
    assert problem.code.id == "E609"
    assert "`treatment`" in problem.message
    line = (folder / "study.yaml").read_text().splitlines()[problem.location.line - 1]
    assert line.strip() == "visit_date: true"


def test_a_misspelt_event_key_is_named_with_its_place(tmp_path):
    folder = _copy(tmp_path)
    _edit(folder, "    visit_date: true\n", "    visit_dates: true\n")
    with pytest.raises(FormsDslError) as caught:
        load_study(folder)
    (problem,) = caught.value.errors
    assert "visit_dates" in problem.message
    assert "visit_date" in problem.fix
    assert problem.location.line > 0
