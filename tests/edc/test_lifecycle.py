"""The record lifecycle: which steps exist, who may take them, what is read-only, how each
status is named in every language."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from edc import lifecycle
from edc.access import Permission
from edc.lifecycle import RecordStatus as S
from edc.settings import LANGUAGES


@pytest.mark.parametrize(
    ("source", "complete", "target", "action"),
    [
        (None, False, S.IN_PROGRESS, "record.saved"),
        (None, True, S.COMPLETE, "record.completed"),
        ("in_progress", False, S.IN_PROGRESS, "record.saved"),
        ("in_progress", True, S.COMPLETE, "record.completed"),
        ("complete", False, S.COMPLETE, "record.saved"),
        ("complete", True, S.COMPLETE, "record.saved"),
    ],
)
def test_a_save_takes_a_step_of_the_lifecycle_that_needs_data_entry(
    source, complete, target, action
):
    assert lifecycle.after_save(source, complete=complete) is target
    step = lifecycle.transition(source, target)
    assert (step.permission, step.action) == (Permission.DATA_ENTER, action)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        ("complete", S.IN_PROGRESS),  # a complete record is corrected, never a draft again
        ("locked", S.COMPLETE),
        ("signed", S.IN_PROGRESS),
        ("in_progress", S.SIGNED),  # signing is not built yet: no step reaches it
        ("in_progress", S.VERIFIED),
        (None, S.LOCKED),
    ],
)
def test_steps_the_lifecycle_does_not_have_are_refused(source, target):
    with pytest.raises(lifecycle.Refused):
        lifecycle.transition(source, target)


def test_locked_records_are_read_only_and_complete_ones_need_reasons():
    assert [s.value for s in S if lifecycle.is_read_only(s)] == ["locked"]
    assert not lifecycle.is_read_only(None)
    assert lifecycle.is_read_only("verified", locked=True)  # a lock covers any stored status
    assert [s.value for s in S if lifecycle.needs_reasons(s)] == ["complete", "verified"]
    assert not lifecycle.needs_reasons(None)


def test_a_change_of_data_sends_a_verified_record_back_to_complete():
    assert lifecycle.after_save("verified", complete=False) is S.COMPLETE


def test_the_shown_status_puts_a_lock_before_a_signature_before_the_stored_status():
    assert lifecycle.shown("complete") is S.COMPLETE
    assert lifecycle.shown("verified", signed=True) is S.SIGNED
    assert lifecycle.shown("verified", locked=True, signed=True) is S.LOCKED
    assert lifecycle.shown(None) is S.NOT_STARTED


def test_verifying_needs_sdv_and_a_change_of_a_verified_record_is_data_entry():
    assert lifecycle.transition("complete", S.VERIFIED).permission is Permission.SDV_VERIFY
    assert lifecycle.transition("verified", S.COMPLETE).permission is Permission.DATA_ENTER
    with pytest.raises(lifecycle.Refused):
        lifecycle.transition("in_progress", S.VERIFIED)


def test_unknown_stored_status_is_refused_not_guessed():
    with pytest.raises(ValueError, match="archived"):
        lifecycle.status_of("archived")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_status_has_a_label_in_each_language(app, lang):
    with app.test_request_context(), force_locale(lang):
        labels = {s: lifecycle.label(s) for s in S}
    assert all(labels.values())
    assert len(set(labels.values())) == len(S)  # no two statuses read the same
    if lang != "en":
        with app.test_request_context(), force_locale("en"):
            english = {s: lifecycle.label(s) for s in S}
        assert labels != english
