"""Repeating sections: rows posted as group-<row id>-field, per-row relevance, aggregates."""

from __future__ import annotations

from decimal import Decimal

from forms_dsl import evaluate
from tests.forms_dsl.helpers import form

TEXT = """\
form: t
version: 1
title: T
sections:
  - id: lesions
    title: Lesions
    repeat: {min: 1, max: 3}
    fields:
      - id: site
        type: choice
        label: Site
        required: true
        choices:
          - {code: bone, label: Bone}
          - {code: liver, label: Liver}
          - {code: other, label: Other}
      - id: other_site
        type: text
        label: Other site
        required: true
        show_if: "site == 'other'"
      - id: size_mm
        type: integer
        label: Size
        min: 1
  - id: summary
    title: Summary
    fields:
      - {id: n_lesions, type: calc, label: N, calc: "count(lesions)"}
      - {id: total_mm, type: calc, label: Total, calc: "sum(size_mm)"}
      - {id: largest, type: calc, label: Largest, calc: "max(size_mm)"}
      - {id: any_bone, type: calc, label: Any bone, calc: "any(site == 'bone')"}
      - {id: all_small, type: calc, label: All small, calc: "all(size_mm < 20)"}
      - {id: n_large, type: calc, label: Large, calc: "count_if(size_mm >= 20)"}
"""


def test_rows_are_read_validated_and_aggregated():
    f = form(TEXT)
    posted = {
        "lesions-0-site": "bone",
        "lesions-0-size_mm": "12",
        "lesions-1-site": "other",
        "lesions-1-other_site": "adrenal",
        "lesions-1-size_mm": "30",
    }
    result = evaluate(f, posted)
    assert result.errors == []
    assert result.rows["lesions"] == [
        {"site": "bone", "size_mm": 12},
        {"site": "other", "other_site": "adrenal", "size_mm": 30},
    ]
    assert result.values["n_lesions"] == 2
    assert Decimal(result.values["total_mm"]) == 42
    assert result.values["largest"] == 30
    assert result.values["any_bone"] is True
    assert result.values["all_small"] is False
    assert result.values["n_large"] == 1  # rows where the condition holds (30 mm)
    assert evaluate(f, {}).values["n_large"] == 0


def test_errors_name_their_row():
    result = evaluate(form(TEXT), {"lesions-0-site": "bone", "lesions-1-site": "other"})
    assert [(i.field, i.row, i.kind) for i in result.errors] == [("other_site", 1, "required")]


def test_rows_are_known_by_their_ids_not_their_positions():
    """Rows 3 and 7 (row 5 was removed): each keeps its id in the result and in its messages."""
    posted = {"lesions-7-site": "other", "lesions-3-site": "bone", "lesions-3-size_mm": "5"}
    result = evaluate(form(TEXT), posted)
    assert result.row_ids["lesions"] == [3, 7]  # in the order rows were added
    assert result.rows["lesions"][0]["site"] == "bone"
    assert [(i.field, i.row, i.kind) for i in result.errors] == [("other_site", 7, "required")]
    assert result.values["n_lesions"] == 2


def test_a_row_that_posted_nothing_still_counts_when_named():
    """A row of unticked radio buttons posts no answer: the page names it, and it is checked."""
    result = evaluate(form(TEXT), {"lesions-2-size_mm": "4"}, rows={"lesions": [2, 9]})
    assert result.row_ids["lesions"] == [2, 9]
    assert sorted((i.row, i.kind) for i in result.errors) == [(2, "required"), (9, "required")]
    assert result.values["n_lesions"] == 2


def test_hidden_fields_in_a_row_are_dropped():
    result = evaluate(form(TEXT), {"lesions-0-site": "bone", "lesions-0-other_site": "x"})
    assert result.rows["lesions"] == [{"site": "bone", "size_mm": None}]


def test_row_count_limits():
    too_few = evaluate(form(TEXT), {})
    assert [i.kind for i in too_few.errors] == ["too_few_rows"]
    many = {f"lesions-{i}-site": "bone" for i in range(4)}
    assert [i.kind for i in evaluate(form(TEXT), many).errors] == ["too_many_rows"]


def test_row_count_messages_agree_with_their_number():
    assert evaluate(form(TEXT), {}).errors[0].message == "At least 1 row is needed."
    assert evaluate(form(TEXT), {}, lang="fr").errors[0].message == (
        "Au moins 1 ligne est nécessaire."
    )
    many = {f"lesions-{i}-site": "bone" for i in range(4)}
    assert evaluate(form(TEXT), many).errors[0].message == "At most 3 rows are allowed."
    two = TEXT.replace("repeat: {min: 1, max: 3}", "repeat: {min: 2, max: 3}")
    assert evaluate(form(two), {}).errors[0].message == "At least 2 rows are needed."


def test_a_repeat_column_outside_an_aggregate_is_a_load_error():
    from tests.forms_dsl.helpers import problems

    bad = TEXT.replace('calc: "sum(size_mm)"', 'calc: "size_mm + 1"')
    assert problems(bad)
