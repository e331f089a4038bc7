"""Static checking: result types, type mismatches, unknown names and functions, arity, codes."""

from __future__ import annotations

import pytest

from forms_dsl.errors import ErrorCode
from forms_dsl.expr import FUNCTIONS, ExprProblem, check, parse
from forms_dsl.expr.checker import compatible
from forms_dsl.expr.nodes import Binary, Call, Name
from forms_dsl.types import FieldInfo, VType

ENV = {
    "weight": FieldInfo(VType.NUMBER),
    "height": FieldInfo(VType.NUMBER),
    "dob": FieldInfo(VType.DATE, context=True),
    "visit_date": FieldInfo(VType.DATE),
    "admitted_at": FieldInfo(VType.DATETIME),
    "sample_time": FieldInfo(VType.TIME),
    "comment": FieldInfo(VType.TEXT),
    "inrg_stage": FieldInfo(VType.CODE, codes=frozenset({"L1", "L2", "M", "MS"})),
    "grade": FieldInfo(VType.CODE, codes=frozenset({"1", "2", "3"})),
    "sites": FieldInfo(VType.CODES, codes=frozenset({"bone", "marrow", "liver"})),
    "consented": FieldInfo(VType.BOOL),
    "meds": FieldInfo(VType.GROUP),
    "dose": FieldInfo(VType.NUMBER, repeat="meds"),
}


def problems(text: str, **kwargs: str) -> list[ExprProblem]:
    return check(parse(text), ENV, **kwargs)[1]


def codes(text: str) -> list[tuple[str, int]]:
    return [(p.code.id, p.offset) for p in problems(text)]


def vtype(text: str) -> VType:
    result, found = check(parse(text), ENV)
    assert found == [], [str(p) for p in found]
    return result


def only(text: str) -> ExprProblem:
    found = problems(text)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


# -- result types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", VType.NUMBER),
        ("3.5", VType.NUMBER),
        ("'x'", VType.TEXT),
        ("true", VType.BOOL),
        ("blank", VType.BLANK),
        ("weight", VType.NUMBER),
        ("inrg_stage", VType.CODE),
        ("sites", VType.CODES),
        ("dob", VType.DATE),
        ("admitted_at", VType.DATETIME),
        ("sample_time", VType.TIME),
        ("weight / height / height", VType.NUMBER),
        ("-weight", VType.NUMBER),
        ("weight > 10", VType.BOOL),
        ("not consented", VType.BOOL),
        ("consented and weight > 3 or is_blank(weight)", VType.BOOL),
        ("inrg_stage in ['L1', 'L2']", VType.BOOL),
        ("today()", VType.DATE),
        ("age_months(dob, visit_date)", VType.NUMBER),
        ("days_between(dob, admitted_at)", VType.NUMBER),
        ("selected(sites, 'bone')", VType.BOOL),
        ("selected(inrg_stage, 'M')", VType.BOOL),
        ("count(sites)", VType.NUMBER),
        ("round(weight, 1)", VType.NUMBER),
        ("round(weight)", VType.NUMBER),
        ("coalesce(weight, height, 0)", VType.NUMBER),
        ("coalesce(blank, comment)", VType.TEXT),
        ("coalesce(comment, inrg_stage)", VType.TEXT),
        ("coalesce(blank)", VType.BLANK),
        ("if(consented, weight, blank)", VType.NUMBER),
        ("if(consented, dob, visit_date)", VType.DATE),
        ("min(weight, height, 2)", VType.NUMBER),
        ("max(dob, visit_date)", VType.DATE),
        ("len(comment)", VType.NUMBER),
        ("len(inrg_stage) > 1", VType.BOOL),
    ],
)
def test_types(text, expected):
    assert vtype(text) is expected


def test_compatibility_table():
    assert compatible(VType.CODE, VType.TEXT)
    assert compatible(VType.BLANK, VType.DATE)
    assert compatible(VType.ANY, VType.CODES)
    assert not compatible(VType.CODES, VType.CODES)
    assert not compatible(VType.DATE, VType.DATETIME)
    assert not compatible(VType.GROUP, VType.GROUP)


# -- comparisons -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "left", "right"),
    [
        ("dob > 3", "a date", "a number"),
        ("comment == 3", "text", "a number"),
        ("dob < admitted_at", "a date", "a date-time"),
        ("grade == 3", "a choice code", "a number"),
        ("consented == 'yes'", "yes/no", "text"),
        ("sample_time == dob", "a time", "a date"),
        ("weight == true", "a number", "yes/no"),
    ],
)
def test_comparing_different_types_names_both(text, left, right):
    problem = only(text)
    assert problem.code.id == "E443"
    assert problem.message == f"cannot compare {left} with {right}"
    assert problem.offset == parse(text).offset


def test_code_comparisons_take_quoted_codes_and_other_codes():
    assert vtype("inrg_stage == 'MS'") is VType.BOOL
    assert vtype("'MS' != inrg_stage") is VType.BOOL
    assert vtype("inrg_stage == comment") is VType.BOOL
    assert vtype("inrg_stage == grade") is VType.BOOL
    assert "quote them" in only("grade == 3").fix


def test_unknown_codes_are_reported_with_the_choices():
    problem = only("inrg_stage == 'L3'")
    assert (problem.code.id, problem.offset) == ("E447", 14)
    assert problem.message == "code 'L3' is not a choice of inrg_stage (L1, L2, M, MS)"
    assert codes("'L4' == inrg_stage") == [("E447", 0)]
    assert codes("inrg_stage in ['L1', 'X', 'MS', 'Y']") == [("E447", 21), ("E447", 32)]
    assert codes("inrg_stage not in ['L9']") == [("E447", 19)]
    assert codes("selected(sites, 'lung')") == [("E447", 16)]
    assert codes("selected(inrg_stage, 'L1')") == []


def test_ordering_needs_numbers_dates_or_times():
    assert vtype("dob < visit_date") is VType.BOOL
    assert vtype("sample_time >= sample_time") is VType.BOOL
    assert vtype("admitted_at > admitted_at") is VType.BOOL
    problem = only("comment < 'm'")
    assert (problem.code.id, problem.params["found"]) == ("E444", "text")
    assert only("inrg_stage >= 'L1'").code.id == "E444"
    assert only("consented > false").code.id == "E444"


def test_multichoice_is_not_compared_but_selected():
    problem = only("sites == 'bone'")
    assert (problem.code.id, problem.offset) == ("E448", 6)
    assert "selected(sites, 'code')" in problem.fix
    assert only("sites in ['bone']").code.id == "E448"
    assert only("'bone' != sites").code.id == "E448"


def test_in_list_items_must_match_the_left_type():
    assert codes("weight in [1, 'two', 3, dob]") == [("E443", 14), ("E443", 24)]
    assert vtype("weight in [1, 2.5, height, blank]") is VType.BOOL
    assert vtype("comment in ['a', inrg_stage]") is VType.BOOL


def test_comparing_with_blank_warns_that_it_is_always_false():
    for text in ("weight == blank", "blank != comment", "dob < null"):
        problem = only(text)
        assert problem.code.id == "E458"
        assert problem.is_warning
        assert "is_blank(x)" in problem.fix
    assert vtype("is_blank(weight)") is VType.BOOL


# -- arithmetic and logic --------------------------------------------------------------------


def test_arithmetic_needs_numbers():
    problem = only("comment + 1")
    assert (problem.code.id, problem.offset) == ("E445", 8)
    assert problem.message == "`+` needs numbers, found text"
    assert only("-consented").code.id == "E445"
    assert codes("comment * inrg_stage") == [("E445", 8), ("E445", 8)]
    assert vtype("blank + 1") is VType.NUMBER


def test_no_date_arithmetic_points_to_the_date_functions():
    for text in ("visit_date - dob", "dob + 30", "admitted_at - 1", "-sample_time"):
        problem = only(text)
        assert problem.code.id == "E446", text
        assert "days_between" in problem.fix
        assert "age_months" in problem.fix


def test_logic_needs_conditions():
    problem = only("weight and consented")
    assert (problem.code.id, problem.offset) == ("E449", 0)
    assert problem.message == "`and` needs yes/no conditions, found a number"
    assert codes("consented or 'x'") == [("E449", 13)]
    assert codes("not comment") == [("E449", 4)]
    assert codes("if(weight, 1, 2)") == [("E449", 3)]
    assert vtype("not blank") is VType.BOOL


# -- names -----------------------------------------------------------------------------------


def test_unknown_names_are_each_reported_with_a_suggestion():
    found = problems("wieght > 3 and foo == 1 or hieght < 2")
    assert [(p.code.id, p.offset) for p in found] == [("E440", 0), ("E440", 15), ("E440", 27)]
    assert found[0].message == "unknown name `wieght` — did you mean `weight`?"
    assert found[0].params["suggestion"] == "weight"
    assert found[1].message == "unknown name `foo`"
    assert found[1].params["suggestion"] is None


def test_function_used_as_a_name():
    problem = only("visit_date < today")
    assert problem.code.id == "E440"
    assert problem.message == "unknown name `today` — `today` is a function: write today()"


def test_group_ids_are_not_values():
    problem = only("meds > 2")
    assert (problem.code.id, problem.offset) == ("E454", 0)
    assert "count(meds)" in problem.fix
    assert vtype("count(meds) > 2") is VType.BOOL


def test_context_values_are_names_like_fields():
    assert vtype("age_months(dob, today()) < 18") is VType.BOOL


# -- functions -------------------------------------------------------------------------------


def test_unknown_function_suggests_the_closest():
    problem = only("lenght(comment) > 3")
    assert (problem.code.id, problem.offset) == ("E441", 0)
    assert problem.message == "unknown function `lenght` — did you mean `len`?"
    assert "age_months" in problem.fix
    assert only("isblank(weight)").params["suggestion"] == "is_blank"
    assert only("frobnicate()").message == "unknown function `frobnicate`"


def test_unknown_function_arguments_are_still_checked():
    assert codes("lenght(wieght)") == [("E441", 0), ("E440", 7)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("today(1)", "`today` takes no arguments, found 1"),
        ("age_months(dob)", "`age_months` takes exactly 2 arguments, found 1"),
        ("days_between(dob, dob, dob)", "`days_between` takes exactly 2 arguments, found 3"),
        ("is_blank()", "`is_blank` takes exactly 1 argument, found 0"),
        ("selected(sites)", "`selected` takes exactly 2 arguments, found 1"),
        ("count(dose, dose)", "`count` takes exactly 1 argument, found 2"),
        ("sum()", "`sum` takes exactly 1 argument, found 0"),
        ("min()", "`min` takes at least 1 argument, found 0"),
        ("max()", "`max` takes at least 1 argument, found 0"),
        ("round(weight, 1, 2)", "`round` takes 1 or 2 arguments, found 3"),
        ("coalesce()", "`coalesce` takes at least 1 argument, found 0"),
        ("if(consented, 1)", "`if` takes exactly 3 arguments, found 2"),
        ("any()", "`any` takes exactly 1 argument, found 0"),
        ("all(dose > 1, dose > 2)", "`all` takes exactly 1 argument, found 2"),
        ("len()", "`len` takes exactly 1 argument, found 0"),
    ],
)
def test_wrong_number_of_arguments(text, message):
    problem = only(text)
    assert (problem.code.id, problem.offset) == ("E442", 0)
    assert problem.message == message
    assert problem.fix == f"write {FUNCTIONS[text.split('(')[0]].signature}"


@pytest.mark.parametrize(
    ("text", "position", "found"),
    [
        ("age_months(weight, today())", 1, "a number"),
        ("days_between(dob, comment)", 2, "text"),
        ("days_between(dob, sample_time)", 2, "a time"),
        ("selected(comment, 'x')", 1, "text"),
        ("selected(sites, 3)", 2, "a number"),
        ("round(comment)", 1, "text"),
        ("round(weight, dob)", 2, "a date"),
        ("len(weight)", 1, "a number"),
        ("min(weight, comment)", 2, "text"),
        ("max(consented, true)", 1, "yes/no"),
    ],
)
def test_argument_types(text, position, found):
    problem = problems(text)[0]
    assert problem.code.id == "E450"
    assert (problem.params["position"], problem.params["found"]) == (position, found)
    assert problem.message.startswith(f"`{text.split('(')[0]}` needs ")


def test_branches_and_alternatives_must_agree():
    problem = only("if(consented, weight, comment)")
    assert (problem.code.id, problem.offset) == ("E456", 22)
    assert problem.message == "`if` mixes a number and text"
    assert codes("coalesce(dob, admitted_at)") == [("E456", 14)]
    assert codes("min(dob, weight)") == [("E456", 9)]


def test_round_digits():
    assert codes("round(weight, -1)") == [("E457", 14)]
    assert codes("round(weight, 1.5)") == [("E457", 14)]
    assert codes("round(weight, 31)") == [("E457", 14)]
    assert codes("round(weight, 30)") == []
    assert only("round(weight, -1)").message == (
        "round() digits must be a whole number from 0 to 30, found -1"
    )


def test_count_takes_a_column_a_group_or_a_multichoice():
    problem = only("count(weight)")
    assert (problem.code.id, problem.offset) == ("E455", 6)
    assert problem.params["found"] == "a number"
    assert vtype("count(sites) >= 2") is VType.BOOL


def test_sum_min_max_of_a_single_value_are_refused():
    assert codes("sum(weight)") == [("E455", 4)]
    assert "a + b" in only("sum(weight)").message
    assert codes("min(weight)") == [("E455", 4)]
    assert codes("max(dob)") == [("E455", 4)]


# -- all problems at once --------------------------------------------------------------------


def test_every_problem_is_reported_in_text_order():
    found = codes("wieght + comment > dob and lenght(x) or inrg_stage == 'L9' and meds")
    assert found == [
        ("E440", 0),
        ("E445", 7),
        ("E443", 17),
        ("E441", 27),
        ("E440", 34),
        ("E447", 54),
        ("E454", 63),
    ]


def test_an_error_is_not_reported_again_by_what_contains_it():
    # `foo` is unknown: its comparison with a date, the `+` and the `and` stay silent.
    assert codes("foo + 1 > 2 and foo") == [("E440", 0), ("E440", 16)]


def test_problems_locate_in_the_yaml_file():
    from forms_dsl.errors import Location

    located = only("wieght > 3").at(Location("f.yaml", 3, 10))
    assert located.location == Location("f.yaml", 3, 10)
    assert "did you mean `weight`" in str(located)


def test_every_code_formats_and_is_declared_once():
    ids = [c.id for c in ErrorCode.all() if c.id.startswith("E4")]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 40


def test_trees_built_by_hand_with_unknown_nodes_or_huge_depth():
    deep: Name | Binary = Name("weight")
    for _ in range(5_000):
        deep = Binary("+", deep, Name("weight"))
    result, found = check(deep, ENV)
    assert result is VType.ANY
    assert [p.code.id for p in found] == ["E436"]
    assert check(Call("today"), ENV) == (VType.DATE, [])
