"""Properties over generated input: parse refuses only with ExprError, printing round-trips,
and check and evaluate are total over any tree and any values."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from forms_dsl.expr import FUNCTIONS, Expr, ExprError, Scope, check, evaluate, parse, to_text
from forms_dsl.expr.lexer import KEYWORDS
from forms_dsl.expr.nodes import Binary, Blank, Bool, Call, InList, Name, Number, String, Unary
from forms_dsl.types import FieldInfo, VType

LIMIT_CODES = {"E401", "E428", "E436"}  # a generated tree may be too big to write: not a failure

# -- trees -----------------------------------------------------------------------------------

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: not s.startswith("__") and s.lower() not in KEYWORDS | {"none"}
)
numbers = st.one_of(
    st.integers(min_value=0, max_value=10**30 - 1),
    st.from_regex(r"[0-9]{1,12}\.[0-9]{1,12}", fullmatch=True).map(Decimal),
).map(Number)
leaves = st.one_of(
    numbers,
    st.text(max_size=12).map(String),
    st.booleans().map(Bool),
    st.just(Blank()),
    names.map(Name),
)
UNARY = ("-", "not")
BINARY = ("or", "and", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/")


def trees(leaf: st.SearchStrategy[Expr], functions: st.SearchStrategy[str]) -> st.SearchStrategy:
    def extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        return st.one_of(
            st.builds(Unary, st.sampled_from(UNARY), children),
            st.builds(Binary, st.sampled_from(BINARY), children, children),
            st.builds(
                InList,
                children,
                st.lists(children, min_size=1, max_size=3).map(tuple),
                st.booleans(),
            ),
            st.builds(Call, functions, st.lists(children, max_size=3).map(tuple)),
        )

    return st.recursive(leaf, extend, max_leaves=20)


any_trees = trees(leaves, st.one_of(names, st.sampled_from(sorted(FUNCTIONS))))


@settings(max_examples=300, deadline=None)
@given(any_trees)
def test_printing_round_trips(tree):
    text = to_text(tree)
    try:
        parsed = parse(text)
    except ExprError as err:
        assume(err.code.id not in LIMIT_CODES)
        raise
    assert parsed == tree
    assert to_text(parsed) == text


# -- text ------------------------------------------------------------------------------------

TOKENS = [
    "a",
    "b_2",
    "x",
    "1",
    "2.5",
    "0",
    "'t'",
    '"q"',
    "true",
    "false",
    "blank",
    "null",
    "and",
    "or",
    "not",
    "in",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "+",
    "-",
    "*",
    "/",
    "(",
    ")",
    "[",
    "]",
    ",",
    "max(",
    "if(",
    "count(",
    "is_blank(",
    "today()",
    ".",
    "=",
    "**",
    "&&",
]
token_soup = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=25).flatmap(
    lambda tokens: st.lists(
        st.sampled_from(["", " ", "\n"]), min_size=len(tokens), max_size=len(tokens)
    ).map(lambda gaps: "".join(t + g for t, g in zip(tokens, gaps, strict=True)))
)


def parse_or_error(text: str) -> Expr | ExprError:
    try:
        return parse(text)
    except ExprError as err:
        return err


def assert_well_formed(err: ExprError, text: str) -> None:
    assert err.code.id.startswith("E4")
    assert 0 <= err.offset <= len(text)
    assert err.message
    assert err.fix


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_parses_or_raises_expr_error(text):
    result = parse_or_error(text)
    if isinstance(result, ExprError):
        assert_well_formed(result, text)


@settings(max_examples=500, deadline=None)
@given(token_soup)
def test_token_soup_parses_or_raises_and_canonical_text_is_a_fixed_point(text):
    tree = parse_or_error(text)
    if isinstance(tree, ExprError):
        assert_well_formed(tree, text)
        return
    canonical = to_text(tree)
    assert parse(canonical) == tree
    assert to_text(parse(canonical)) == canonical


# -- check and evaluate are total ------------------------------------------------------------

POOL = ["a", "b", "t", "m", "c", "d", "g", "h", "k", "zz"]  # zz: unknown
ENV = {
    "a": FieldInfo(VType.NUMBER),
    "b": FieldInfo(VType.DATE),
    "t": FieldInfo(VType.TEXT),
    "m": FieldInfo(VType.CODES, codes=frozenset({"x", "y"})),
    "c": FieldInfo(VType.NUMBER, repeat="g"),
    "d": FieldInfo(VType.CODE, repeat="g", codes=frozenset({"x"})),
    "k": FieldInfo(VType.BOOL, repeat="h"),
    "g": FieldInfo(VType.GROUP),
    "h": FieldInfo(VType.GROUP),
}
GROUPS = {"c": "g", "d": "g", "k": "h"}

pool_leaves = st.one_of(
    numbers,
    st.sampled_from(["", "x", "y", "long text"]).map(String),
    st.booleans().map(Bool),
    st.just(Blank()),
    st.sampled_from(POOL).map(Name),
)
pool_trees = trees(pool_leaves, st.sampled_from([*sorted(FUNCTIONS), "nosuch"]))

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.dates(),
    st.datetimes(timezones=st.one_of(st.none(), st.just(dt.UTC))),
    st.times(),
    st.frozensets(st.sampled_from(["x", "y", "z"])),
)
rows = st.lists(
    st.fixed_dictionaries({}, optional={"c": values, "d": values, "k": values}), max_size=4
)


@st.composite
def scopes(draw: st.DrawFn) -> Scope:
    top = draw(st.dictionaries(st.sampled_from(POOL), values, max_size=len(POOL)))
    row_group = draw(st.sampled_from([None, "g", "h"]))
    row = draw(st.one_of(st.none(), st.fixed_dictionaries({}, optional={"c": values, "k": values})))
    return Scope(
        values=top,
        rows={"g": draw(rows), "h": draw(rows)},
        groups=GROUPS,
        row_group=row_group,
        row=row,
        today=draw(st.dates()),
    )


@settings(max_examples=400, deadline=None)
@given(pool_trees, scopes())
def test_evaluate_never_raises(tree, scope):
    result = evaluate(tree, scope)
    assert not isinstance(result, float)
    if isinstance(result, int | Decimal) and not isinstance(result, bool):
        assert abs(result) <= 10**30


@settings(max_examples=300, deadline=None)
@given(pool_trees, st.sampled_from([None, "g", "h"]))
def test_check_never_raises_and_always_types(tree, row_group):
    vtype, problems = check(tree, ENV, row_group=row_group)
    assert isinstance(vtype, VType)
    for problem in problems:
        assert problem.message
        assert problem.fix
        assert problem.code.id.startswith("E4")


CONDITIONS = [
    "a > 3 and not is_blank(t)",
    "b < today() or a in [1, 2.5]",
    "selected(m, 'x') or count(m) >= 2",
    "any(c > a) and all(d == 'x')",
    "any(k) or count(h) == 0",
    "t != 'x' and len(t) > 2",
    "sum(c) / count(c) > 1.5",
    "age_months(b, today()) < 18 or days_between(b, today()) > 100",
    "if(a > 1, true, false)",
    "coalesce(a, 0) == max(c)",
    "round(a, 1) <= min(c)",
]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(CONDITIONS), scopes())
def test_well_typed_conditions_give_yes_or_no(text, scope):
    tree = parse(text)
    assert check(tree, ENV) == (VType.BOOL, [])
    assert evaluate(tree, scope) in (True, False, None)
