"""Hostile input: code injection attempts, explosive arithmetic and oversized or over-nested text
are all refused with ExprError, quickly, never with RecursionError, MemoryError or a hang."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import pytest

from forms_dsl.expr import ExprError, Scope, check, evaluate, parse
from forms_dsl.expr.limits import MAX_ARGS, MAX_DEPTH, MAX_ITEMS, MAX_TEXT
from forms_dsl.types import FieldInfo, VType

FAST = 0.5  # seconds of this process's CPU time (other processes on a busy machine do not count)


def refused(text: str) -> ExprError:
    start = time.process_time()
    with pytest.raises(ExprError) as caught:
        parse(text)
    assert time.process_time() - start < FAST
    return caught.value


def timed(action: Callable[[], Any]) -> Any:
    start = time.process_time()
    result = action()
    assert time.process_time() - start < FAST
    return result


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("a.__class__", "E412"),
        ("a.__class__.__mro__[1].__subclasses__()", "E412"),
        ("().__class__", "E412"),
        ("__import__('os')", "E413"),
        ("__import__('os').system('ls')", "E413"),
        ("__builtins__", "E413"),
        ("9**9**9", "E409"),
        ("'x' * 10**9", "E409"),
        ("1" + "0" * 200, "E406"),
        ("x == 1" + "0" * 200, "E406"),
        ("lambda: 1", "E402"),
        ("exec('1')", None),  # a call of an unknown function: refused by check, not parse
        ("open('/etc/passwd').read()", "E412"),
        ("a[0]", "E426"),
        ("a := 1", "E402"),
        ("f'{a}'", "E420"),
    ],
)
def test_injection_and_explosion_attempts(text, code):
    if code is None:
        tree = timed(lambda: parse(text))
        _type, problems = check(tree, {})
        assert [p.code.id for p in problems] == ["E441"]
        assert evaluate(tree, Scope(today=dt.date(2024, 1, 1))) is None
        return
    assert refused(text).code.id == code


def test_huge_text_literals_and_texts():
    assert refused("'" + "x" * 100_000 + "'").code.id == "E401"
    assert refused("x" * 100_000).code.id == "E401"
    assert refused("'" + "x" * 1_001 + "'").code.id == "E405"
    assert parse("'" + "x" * 1_000 + "'")
    assert refused("a" * (MAX_TEXT + 1)).params == {"length": MAX_TEXT + 1, "limit": MAX_TEXT}
    assert parse("a" * MAX_TEXT)


def test_deep_nesting_fails_fast():
    assert refused("(" * 10_000 + "a" + ")" * 10_000).code.id == "E401"
    assert refused("(" * 999 + "a" + ")" * 999).code.id == "E428"
    assert refused("(" * 1999).code.id == "E428"
    assert refused("-" * 1_000 + "a").code.id == "E428"
    assert refused("not " * 400 + "a").code.id == "E428"
    assert refused("f(" * 600 + ")" * 600).code.id == "E428"
    assert refused("a in [" * 300).code.id == "E428"
    assert refused("[" * 300).code.id == "E425"
    error = refused("(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1))
    assert (error.code.id, error.offset) == ("E428", MAX_DEPTH)


def test_nesting_up_to_the_limit_is_fine_in_every_stage():
    text = "(" * MAX_DEPTH + "a + 1" + ")" * MAX_DEPTH
    tree = parse(text)
    assert check(tree, {"a": FieldInfo(VType.NUMBER)}) == (VType.NUMBER, [])
    assert evaluate(tree, Scope(values={"a": 1}, today=dt.date(2024, 1, 1))) == 2
    calls = "round(" * (MAX_DEPTH - 1) + "1" + ")" * (MAX_DEPTH - 1)
    assert evaluate(parse(calls), Scope(today=dt.date(2024, 1, 1))) == 1


def test_long_operator_chains_are_bounded():
    assert refused("a + " * 499 + "a").code.id == "E436"
    assert refused("a and " * 300 + "a").code.id == "E436"
    chain = "a + " * 150 + "a"
    tree = parse(chain)
    env = {"a": FieldInfo(VType.NUMBER)}
    assert timed(lambda: check(tree, env)) == (VType.NUMBER, [])
    assert timed(lambda: evaluate(tree, Scope(values={"a": 1}, today=dt.date(2024, 1, 1)))) == 151


def test_too_many_items_or_arguments():
    items = ", ".join(["1"] * (MAX_ITEMS + 1))
    assert refused(f"a in [{items}]").code.id == "E429"
    assert parse("a in [" + ", ".join(["1"] * MAX_ITEMS) + "]")
    args = ", ".join(["1"] * (MAX_ARGS + 1))
    error = refused(f"max({args})")
    assert (error.code.id, error.params["function"]) == ("E430", "max")
    assert parse("max(" + ", ".join(["1"] * MAX_ARGS) + ")")


def test_explosive_values_are_blank_not_slow():
    scope = Scope(values={"x": 10**29, "t": "x" * 1000}, today=dt.date(2024, 1, 1))
    for text in ("'x' * 1000000000", "t * 1000000000", "x * x * x * x * x", "t + t"):
        assert timed(lambda text=text: evaluate(parse(text), scope)) is None
    huge = Scope(values={"x": 10**100_000}, today=dt.date(2024, 1, 1))
    assert timed(lambda: evaluate(parse("x * x * x"), huge)) is None


def test_a_thousand_random_hostile_snippets_are_quick():
    snippets = [
        "((((((((((",
        "))))))))))",
        "'''''''",
        '"\\',
        "a..b",
        "1.2.3",
        "[[[[",
        "not not not",
        "in in in",
        "- - - -",
        ",,,,",
        "\x00\x01",
        "\u202e",
        "é",
    ]
    start = time.process_time()
    for i in range(1_000):
        text = snippets[i % len(snippets)] * (1 + i % 50)
        with contextlib.suppress(ExprError):
            parse(text)
    assert time.process_time() - start < 2 * FAST
