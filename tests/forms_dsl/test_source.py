"""Reading YAML: locations, the small scalar schema, and refusal of risky YAML features."""

from __future__ import annotations

from decimal import Decimal

import pytest

from forms_dsl import FormsDslError
from forms_dsl.source import Map, Scalar, Seq, parse


def test_every_node_knows_its_line_and_column():
    root = parse("form: x\nsections:\n  - id: a\n    title: T\n", "f.yaml")
    assert isinstance(root, Map)
    section = root.get("sections")
    assert isinstance(section, Seq)
    item = section.items[0]
    assert isinstance(item, Map)
    assert (item.get("title").loc.line, item.get("title").loc.column) == (4, 12)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12", 12),
        ("-3", -3),
        ("2.50", Decimal("2.50")),
        ("true", True),
        ("false", False),
        ("~", None),
        ("yes", "yes"),
        ("no", "no"),
        ("off", "off"),
        ("2026-01-31", "2026-01-31"),
        ("'12'", "12"),
        ('"true"', "true"),
    ],
)
def test_scalars_follow_a_small_schema(text, value):
    node = parse(f"a: {text}\n").get("a")
    assert isinstance(node, Scalar)
    assert node.value == value
    assert type(node.value) is type(value)


def test_duplicate_keys_are_errors_with_both_lines():
    with pytest.raises(FormsDslError) as caught:
        parse("a: 1\nb: 2\na: 3\n", "f.yaml")
    (error,) = caught.value.errors
    assert (error.code.id, error.location.line, error.location.column) == ("E102", 3, 1)
    assert "first on line 1" in error.message


def test_bad_indentation_is_located():
    text = "form: x\nsections:\n  - id: a\n   title: T\n"
    with pytest.raises(FormsDslError) as caught:
        parse(text, "f.yaml")
    (error,) = caught.value.errors
    assert error.code.id == "E101"
    assert error.location.line == 4
    assert "indentation" in error.fix


@pytest.mark.parametrize(
    "text",
    ["a: &x 1\nb: *x\n", "a: !!python/object:os.system 1\n", "base: &b {x: 1}\nc:\n  <<: *b\n"],
)
def test_anchors_aliases_and_tags_are_refused(text):
    with pytest.raises(FormsDslError) as caught:
        parse(text, "f.yaml")
    assert {e.code.id for e in caught.value.errors} & {"E101", "E105"}


def test_empty_and_multi_document_files_are_refused():
    for text in ("", "a: 1\n---\nb: 2\n"):
        with pytest.raises(FormsDslError) as caught:
            parse(text, "f.yaml")
        assert caught.value.errors[0].code.id == "E103"
