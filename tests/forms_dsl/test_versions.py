"""Form versions: diff() lists what changed and flags what touches stored data."""

from __future__ import annotations

from forms_dsl import diff
from tests.forms_dsl.helpers import one_field

V1 = """
- id: stage
  type: choice
  label: Stage
  choices: [{code: L1, label: L1}, {code: L2, label: L2}, {code: L3, label: L3}]
- id: weight
  type: integer
  label: Weight
- id: notes
  type: text
  label: Notes
"""


def test_added_removed_and_changed_fields():
    old = one_field(V1)
    new = one_field(
        V1.replace(", {code: L3, label: L3}", "")
        .replace("type: integer", "type: decimal")
        .replace(
            "- id: notes\n  type: text\n  label: Notes\n",
            "- id: comment\n  type: text\n  label: Comment\n",
        )
    )
    changes = diff(old, new)
    assert changes.added == ("comment",)
    assert changes.removed == ("notes",)
    whats = {(c.field, c.what, c.affects_data) for c in changes.changed}
    assert ("stage", "choice code removed: L3", True) in whats
    assert ("weight", "type integer → decimal", True) in whats
    assert changes.affects_data


def test_harmless_changes_do_not_affect_stored_data():
    old = one_field(V1)
    new = one_field(V1.replace("label: Weight", "label: Body weight") + "  required: true\n")
    changes = diff(old, new)
    assert changes.added == changes.removed == ()
    assert not changes.affects_data
    assert {c.what for c in changes.changed} >= {"label changed"}


def test_identical_forms_have_an_empty_diff():
    assert diff(one_field(V1), one_field(V1)).empty
