"""The demo study copied with one edit to study.yaml, and the one problem that edit causes:
how the study-file tests show a mistake is located."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from forms_dsl import FormsDslError, load_study

DEMO = Path(__file__).resolve().parents[2] / "studies" / "siopen-nb"


def study_with(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the demo study with `old` (which must be there) replaced by `new` once."""
    folder = tmp_path / "siopen-nb"
    shutil.copytree(DEMO, folder)
    study_file = folder / "study.yaml"
    text = study_file.read_text()
    assert old in text
    study_file.write_text(text.replace(old, new, 1))
    return folder


def only_problem(folder: Path) -> tuple[str, str, str]:
    """The one problem: its code, message and the study.yaml line it points at."""
    with pytest.raises(FormsDslError) as caught:
        load_study(folder)
    (problem,) = caught.value.errors
    assert Path(problem.location.file).name == "study.yaml"
    line = (folder / "study.yaml").read_text().splitlines()[problem.location.line - 1]
    return problem.code.id, problem.message, line
