"""A refused save shows the evaluation it was judged on: the form is evaluated once and the
identity vault opened once per request, whatever the refusal."""

from __future__ import annotations

import pytest

import forms_dsl
from edc.services import subjects
from tests.factories import csrf, login


def _url(entry_for):
    return f"/subjects/{entry_for.subject.study_code}/crf/baseline/1/visit"


@pytest.fixture
def counted(monkeypatch):
    """How many times, during a request, the form is evaluated and the vault is read."""
    calls = {"evaluate": 0, "vault": 0}
    evaluate, read_identity = forms_dsl.evaluate, subjects.read_identity

    def counting_evaluate(*args, **kwargs):
        calls["evaluate"] += 1
        return evaluate(*args, **kwargs)

    def counting_read(*args, **kwargs):
        calls["vault"] += 1
        return read_identity(*args, **kwargs)

    monkeypatch.setattr(forms_dsl, "evaluate", counting_evaluate)
    monkeypatch.setattr(subjects, "read_identity", counting_read)
    return calls


def _post(client, entry_for, data, action, version):
    token = csrf(client, _url(entry_for))
    return client.post(
        _url(entry_for),
        data={**data, "csrf_token": token, "action": action, "row_version": version},
    )


def test_an_invalid_save_is_evaluated_once_and_reads_the_vault_once(client, entry_for, counted):
    login(client, entry_for.nurse)
    answers = {"visit_date": "2999-01-01", "mycn": "not_amplified", "weight": "31"}
    token = csrf(client, _url(entry_for))
    counted.update(evaluate=0, vault=0)
    response = client.post(
        _url(entry_for),
        data={**answers, "csrf_token": token, "action": "complete", "row_version": 0},
    )
    assert response.status_code == 422
    assert 'id="visit_date-error"' in response.get_data(as_text=True)  # the save's own finding
    assert counted == {"evaluate": 1, "vault": 1}


def test_a_change_that_needs_a_reason_is_evaluated_once(client, entry_for, counted):
    login(client, entry_for.nurse)
    answers = {"visit_date": "2026-03-10", "mycn": "not_amplified", "weight": "10"}
    assert _post(client, entry_for, answers, "complete", 0).status_code == 302
    token = csrf(client, _url(entry_for))
    counted.update(evaluate=0, vault=0)
    asked = client.post(
        _url(entry_for),
        data={**answers, "weight": "12", "csrf_token": token, "action": "draft", "row_version": 1},
    )
    assert asked.status_code == 422
    assert 'name="reason:weight"' in asked.get_data(as_text=True)
    assert counted == {"evaluate": 1, "vault": 1}
