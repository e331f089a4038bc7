"""Parsing and printing: precedence, literals, canonical text, and every syntax error's code,
offset and advice."""

from __future__ import annotations

from decimal import Decimal

import pytest

from forms_dsl.expr import ExprError, parse, references, to_text
from forms_dsl.expr.nodes import Binary, Blank, Bool, Call, InList, Name, Number, String, Unary


def n(value: int | str) -> Number:
    return Number(Decimal(value) if isinstance(value, str) else value)


a, b, c = Name("a"), Name("b"), Name("c")


def error(text: str) -> ExprError:
    with pytest.raises(ExprError) as caught:
        parse(text)
    return caught.value


# -- literals --------------------------------------------------------------------------------


def test_numbers_are_int_or_decimal_never_float():
    assert parse("12") == Number(12)
    assert isinstance(parse("12").value, int)  # type: ignore[attr-defined]
    three_and_a_half = parse("3.5")
    assert three_and_a_half == Number(Decimal("3.5"))
    assert isinstance(three_and_a_half.value, Decimal)  # type: ignore[attr-defined]
    assert parse("-2") == Unary("-", Number(2))


def test_strings_in_either_quote_with_escapes():
    assert parse("'abc'") == String("abc")
    assert parse('"abc"') == String("abc")
    assert parse(r"'it\'s'") == String("it's")
    assert parse(r'"say \"hi\""') == String('say "hi"')
    assert parse(r"'back\\slash'") == String("back\\slash")
    assert parse("'mixed \"quotes\"'") == String('mixed "quotes"')
    assert parse("''") == String("")


def test_keywords():
    assert parse("true") == Bool(True)
    assert parse("false") == Bool(False)
    assert parse("blank") == Blank()
    assert parse("null") == Blank()


def test_names_and_calls():
    assert parse("weight_kg") == Name("weight_kg")
    assert parse("_x1") == Name("_x1")
    assert parse("today()") == Call("today")
    assert parse("max(a, b, c)") == Call("max", (a, b, c))
    assert parse("f(a,)") == Call("f", (a,))


def test_lists_only_after_in():
    assert parse("a in [1, 2]") == InList(a, (Number(1), Number(2)))
    assert parse("a not in ['x']") == InList(a, (String("x"),), negated=True)
    assert parse("a in [b + 1, 'x',]") == InList(a, (Binary("+", b, Number(1)), String("x")))


# -- precedence ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("a or b and c", Binary("or", a, Binary("and", b, c))),
        ("a and b or c", Binary("or", Binary("and", a, b), c)),
        ("not a and b", Binary("and", Unary("not", a), b)),
        ("not a == b", Unary("not", Binary("==", a, b))),
        ("not not a", Unary("not", Unary("not", a))),
        ("a == b + c", Binary("==", a, Binary("+", b, c))),
        ("a + b * c", Binary("+", a, Binary("*", b, c))),
        ("(a + b) * c", Binary("*", Binary("+", a, b), c)),
        ("a - b - c", Binary("-", Binary("-", a, b), c)),
        ("a / b / c", Binary("/", Binary("/", a, b), c)),
        ("-a * b", Binary("*", Unary("-", a), b)),
        ("--a", Unary("-", Unary("-", a))),
        ("a * -b", Binary("*", a, Unary("-", b))),
        ("-f(a)", Unary("-", Call("f", (a,)))),
        ("a + b in [1]", InList(Binary("+", a, b), (Number(1),))),
        ("not a in [1]", Unary("not", InList(a, (Number(1),)))),
        ("a < b and b <= c", Binary("and", Binary("<", a, b), Binary("<=", b, c))),
        ("(a < b) == true", Binary("==", Binary("<", a, b), Bool(True))),
        ("a != b", Binary("!=", a, b)),
        ("a >= b", Binary(">=", a, b)),
        ("a > b", Binary(">", a, b)),
    ],
)
def test_precedence(text, tree):
    assert parse(text) == tree


def test_whitespace_and_newlines_are_insignificant():
    assert parse("a\n  and\tb") == parse("a and b")
    assert parse("  a+b  ") == parse("a + b")


def test_offsets_point_at_the_key_token():
    tree = parse("weight > 10 and sex == 'F'")
    assert isinstance(tree, Binary)
    assert tree.offset == 12
    assert tree.left.offset == 7
    assert tree.right.offset == 20  # type: ignore[attr-defined]
    assert tree.right.left.offset == 16  # type: ignore[attr-defined]


def test_offsets_do_not_take_part_in_equality():
    assert parse("a+b") == parse("  a + b")
    assert hash(parse("a+b")) == hash(parse(" a +  b"))


# -- printing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("a+b*c", "a + b * c"),
        ("(a+b)*c", "(a + b) * c"),
        ("((a))", "a"),
        ("a-(b-c)", "a - (b - c)"),
        ("(a-b)-c", "a - b - c"),
        ("a and (b and c)", "a and (b and c)"),
        ("(a or b) and c", "(a or b) and c"),
        ("not (a or b)", "not (a or b)"),
        ("(not a) == b", "(not a) == b"),
        ("-(a + b)", "-(a + b)"),
        ("- - a", "--a"),
        ('"it\'s"', r"'it\'s'"),
        ("null", "blank"),
        ("x not in [1,2]", "x not in [1, 2]"),
        ("(a < b) in [true]", "(a < b) in [true]"),
        ("f( a ,b )", "f(a, b)"),
        ("3.50", "3.50"),
        ("007", "7"),
    ],
)
def test_canonical_text(text, canonical):
    assert to_text(parse(text)) == canonical
    assert parse(canonical) == parse(text)


def test_decimal_printing_never_uses_exponents():
    assert to_text(Number(Decimal("1E+3"))) == "1000.0"
    assert to_text(Number(Decimal("1E-5"))) == "0.00001"
    assert parse(to_text(Number(Decimal("1E+3")))) == Number(Decimal("1000.0"))


def test_references_lists_every_name_but_not_functions():
    tree = parse("count(meds) > 0 and any(dose > max_dose) or selected(sites, 'bone')")
    assert references(tree) == {"meds", "dose", "max_dose", "sites"}
    assert references(parse("today()")) == frozenset()


# -- syntax errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "offset", "fix_contains"),
    [
        ("a && b", "E408", 2, "write `and` instead of `&&`"),
        ("a || b", "E408", 2, "write `or`"),
        ("!a", "E408", 0, "write `not`"),
        ("a = 1", "E408", 2, "write `==` instead of `=`"),
        ("a === 1", "E408", 2, "write `==` instead of `===`"),
        ("a !== 1", "E408", 2, "write `!=`"),
        ("a <> 1", "E408", 2, "write `!=`"),
        ("a => 1", "E408", 2, "write `>=`"),
        ("a =< 1", "E408", 2, "write `<=`"),
        ("a ** 2", "E409", 2, "x * x"),
        ("a % 2", "E410", 2, "+ - * /"),
        ("a & b", "E411", 2, "`and`"),
        ("a | b", "E411", 2, "`or`"),
        ("a ^ b", "E411", 2, "`not`"),
        ("~a", "E411", 0, "`and`"),
        ("a << 1", "E411", 2, "`and`"),
        ("a >> 1", "E411", 2, "`and`"),
        ("a.b", "E412", 1, "field by its id"),
        ("'x'.upper()", "E412", 3, "field by its id"),
        ("__import__('os')", "E413", 0, "ids"),
        ("a + __x", "E413", 4, "ids"),
        ("True", "E414", 0, "write `true`"),
        ("x == None", "E414", 5, "write `blank`"),
        ("a AND b", "E414", 2, "write `and`"),
        ("'abc", "E403", 0, "closing quote"),
        ('a == "abc', "E403", 5, 'end the text with "'),
        ("'a\\", "E403", 0, "closing quote"),
        (r"'a\nb'", "E404", 2, "escapes"),
        ("a @ b", "E402", 2, "field ids"),
        ("a ; b", "E402", 2, "field ids"),
        ("a == ‘x’", "E402", 5, "plain '"),
        ("3.", "E407", 0, "digits on both sides"),
        (".5", "E407", 0, "digits on both sides"),
        ("1e5", "E407", 0, "no exponent"),
        ("3kg", "E407", 0, "no unit"),
        ("a b", "E420", 2, "missing or extra operator"),
        ("a == == b", "E420", 5, "missing or extra operator"),
        ("f(a b)", "E420", 4, "missing or extra operator"),
        ("a +", "E421", 3, "complete the expression"),
        ("a in", "E421", 4, "complete the expression"),
        ("(a + b", "E422", 0, "add the matching `)`"),
        ("f(a, b", "E422", 1, "add the matching `)`"),
        ("a in [1, 2", "E422", 5, "add the matching `]`"),
        ("a + b)", "E423", 5, "add the missing `(`"),
        ("a in [1]]", "E423", 8, "add the missing `[`"),
        ("a < b < c", "E424", 6, "a < b and b < c"),
        ("a == b in [1]", "E424", 7, "a < b and b < c"),
        ("a in [1] not in [2]", "E424", 9, "a < b and b < c"),
        ("[1, 2]", "E425", 0, "stage in ['L1', 'L2']"),
        ("a == [1]", "E425", 5, "stage in"),
        ("a[0]", "E426", 1, "count/sum/min/max/any/all"),
        ("f(a)[0]", "E426", 4, "count/sum/min/max/any/all"),
        ("(a)(b)", "E427", 3, "put an operator"),
        ("3(b)", "E427", 1, "put an operator"),
        ("a in []", "E431", 5, "put the allowed values"),
        ("", "E432", 0, "write a condition"),
        ("   ", "E432", 0, "write a condition"),
        ("a if b else c", "E433", 2, "if(condition"),
        ("a is blank", "E434", 2, "is_blank(x)"),
        ("a in b", "E435", 5, "x in ['a', 'b']"),
        ("a not in 'x'", "E435", 9, "selected(field"),
    ],
)
def test_syntax_errors(text, code, offset, fix_contains):
    err = error(text)
    assert (err.code.id, err.offset) == (code, offset), str(err)
    assert fix_contains in err.fix
    assert err.message  # every template formats with the params given
    assert code in str(err)


def test_error_messages_quote_what_was_found():
    assert error("a.__class__").message == (
        "`a.__class__`: attribute access with `.` is not part of the language"
    )
    assert error("__import__('os')").params["name"] == "__import__"
    assert (
        error("a b").message
        == "unexpected name `b`; expected an operator or the end of the expression"
    )
    assert "`<` followed by `<`" in error("a < b < c").message
    assert error("3kg").params["found"] == "3kg"
    assert error("a 'x'").message.startswith("unexpected text 'x'")


def test_invisible_characters_are_named_by_code_point():
    assert error("a\u00a0== 1").message == "unexpected character `U+00A0`"
    assert error("a\x00").params["char"] == "U+0000"
    assert error("a € 1").params["char"] == "€"


def test_error_locates_in_the_yaml_file():
    from forms_dsl.errors import Location

    located = error("a && b").at(Location("forms/x.yaml", 12, 15))
    assert located.location == Location("forms/x.yaml", 12, 17)
    assert located.code.id == "E408"
    assert "write `and`" in str(located)
