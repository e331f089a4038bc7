"""Visit schedules in study.yaml: when each event is due, and the located mistakes authors make."""

from __future__ import annotations

from datetime import date

import pytest

from forms_dsl import FormsDslError, load_study
from tests.forms_dsl.demo_edits import DEMO, only_problem, study_with

TREATMENT = (
    "    schedule: {after: diagnosis.diagnosis_date, days: 30, window: {before: 14, after: 30}}\n"
)


def test_the_demo_study_schedules_its_visits_from_diagnosis():
    events = {e.id: e for e in load_study(DEMO).value.events}
    follow_up = events["follow_up"].schedule
    assert follow_up is not None
    assert follow_up.anchor == "diagnosis.diagnosis_date"
    diagnosed = date(2026, 1, 10)
    assert follow_up.due(diagnosed, 1) == date(2027, 1, 10)
    assert follow_up.due(diagnosed, 2) == date(2027, 7, 11)  # fixed on diagnosis: 365 + 182
    assert follow_up.due(diagnosed, 10) is None  # nine scheduled follow-ups at most
    assert follow_up.window(date(2027, 1, 10)) == (date(2026, 12, 11), date(2027, 3, 11))
    assert events["diagnosis"].schedule.anchor == "registration"
    assert events["liquid_biopsy"].schedule is None  # whenever it happens


def test_an_event_that_happens_once_is_due_once(tmp_path):
    folder = study_with(tmp_path, TREATMENT, TREATMENT.replace("days: 30", "days: 30, every: 7"))
    code, message, line = only_problem(folder)
    assert code == "E703"
    assert "`treatment`" in message
    assert "`every`" in message
    assert "every: 7" in line


def test_an_unknown_anchor_is_located(tmp_path):
    folder = study_with(tmp_path, TREATMENT, TREATMENT.replace("diagnosis.diagnosis_date", "soon"))
    code, message, line = only_problem(folder)
    assert code == "E701"
    assert "`soon`" in message
    assert "after: soon" in line


def test_days_must_be_a_whole_number(tmp_path):
    folder = study_with(tmp_path, TREATMENT, TREATMENT.replace("days: 30", "days: a month"))
    code, message, _line = only_problem(folder)
    assert code == "E702"
    assert "`days`" in message
    assert "a month" in message


def test_a_negative_window_is_refused(tmp_path):
    folder = study_with(tmp_path, TREATMENT, TREATMENT.replace("before: 14", "before: -3"))
    code, message, _line = only_problem(folder)
    assert code == "E702"
    assert "`before`" in message


def test_the_anchor_must_be_a_date_field_with_a_suggestion(tmp_path):
    folder = study_with(tmp_path, TREATMENT, TREATMENT.replace("diagnosis_date", "diagnosis_dat"))
    with pytest.raises(FormsDslError) as caught:
        load_study(folder)
    (problem,) = caught.value.errors
    assert problem.code.id == "E705"
    assert "did you mean `diagnosis_date`" in problem.fix


def test_the_anchor_form_must_happen_once(tmp_path):
    folder = study_with(
        tmp_path, TREATMENT, TREATMENT.replace("diagnosis.diagnosis_date", "response.x")
    )
    with pytest.raises(FormsDslError) as caught:
        load_study(folder)
    (problem,) = caught.value.errors
    assert problem.code.id == "E704"
    assert "non-repeating" in problem.message


def test_unknown_schedule_keys_are_reported(tmp_path):
    folder = study_with(tmp_path, TREATMENT, TREATMENT.replace("days: 30", "dayz: 30"))
    with pytest.raises(FormsDslError) as caught:
        load_study(folder)
    codes = sorted(p.code.id for p in caught.value.errors)
    assert codes == ["E201", "E202"]  # `dayz` unknown, `days` missing
