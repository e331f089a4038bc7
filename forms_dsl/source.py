"""YAML text → a tree of located nodes (every mapping, list and scalar knows its line and column).

Scalars follow a deliberately small schema (YAML 1.2 core): `true`/`false`, integers, decimals and
null are recognised; `yes`, `no`, `on`, `off` and dates stay text, so a choice code `no` is never
silently turned into a boolean. Duplicate keys are errors (plain PyYAML keeps the last one).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml

from forms_dsl.errors import DslError, ErrorCode, FormsDslError, Location, Problems

YAML_SYNTAX = ErrorCode(
    "E101",
    "the YAML cannot be read: {problem}",
    "check the indentation (spaces only, the same depth for siblings) and that every "
    "`key: value` has a space after the colon",
)
DUPLICATE_KEY = ErrorCode(
    "E102",
    "key `{key}` appears twice in the same mapping (first on line {first_line})",
    "remove or rename one of them",
)
NOT_A_DOCUMENT = ErrorCode(
    "E103", "the file is empty or has more than one YAML document", "keep exactly one document"
)
COMPLEX_KEY = ErrorCode(
    "E104", "a key must be plain text, found {kind}", "write keys as simple words such as `label`"
)
ANCHORS = ErrorCode(
    "E105",
    "YAML anchors, aliases and tags are not allowed ({what})",
    "write the value out in full; shared choice lists go in the study's `choice_lists`",
)
FILE_NOT_FOUND = ErrorCode("E106", "cannot read {path}: {reason}", "check the path and the file")

MAX_SOURCE_BYTES = 2_000_000

_INT = re.compile(r"[-+]?[0-9]+")
_DEC = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_NULL = {"", "~", "null", "Null", "NULL"}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}

ScalarValue = str | int | Decimal | bool | None
_PLAIN_TAGS = {
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp")
}


@dataclass(frozen=True)
class Node:
    loc: Location


@dataclass(frozen=True)
class Scalar(Node):
    value: ScalarValue
    text: str  # the characters as written (for expressions and messages)
    quoted: bool = False


@dataclass(frozen=True)
class Seq(Node):
    items: tuple[Node, ...]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True)
class Map(Node):
    entries: tuple[tuple[Scalar, Node], ...]

    def get(self, key: str) -> Node | None:
        for k, v in self.entries:
            if k.value == key:
                return v
        return None

    def key(self, key: str) -> Scalar | None:
        """The key node itself (for errors about the key, e.g. an unknown one)."""
        for k, _v in self.entries:
            if k.value == key:
                return k
        return None

    def keys(self) -> list[str]:
        return [str(k.value) for k, _v in self.entries]

    def __iter__(self) -> Iterator[tuple[Scalar, Node]]:
        return iter(self.entries)


def kind_of(node: Node) -> str:
    """How a node is named in messages."""
    if isinstance(node, Map):
        return "a mapping"
    if isinstance(node, Seq):
        return "a list"
    assert isinstance(node, Scalar)
    if node.value is None:
        return "nothing"
    if isinstance(node.value, bool):
        return "true/false"
    if isinstance(node.value, int | Decimal):
        return "a number"
    return "text"


def _scalar_value(node: yaml.ScalarNode) -> ScalarValue:
    if node.style is not None:  # quoted or block scalar: always text
        return str(node.value)
    return plain_value(node.value)


def plain_value(text: str) -> ScalarValue:
    """What an unquoted word means: null, true/false, an integer, a decimal, else the text."""
    if text in _NULL:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if _INT.fullmatch(text) and len(text) <= 30:
        return int(text)
    if _DEC.fullmatch(text) and len(text) <= 40:
        return Decimal(text)
    return text


def _loc(file: str, node: yaml.Node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _convert(file: str, node: yaml.Node, problems: Problems) -> Node:
    loc = _loc(file, node)
    if node.tag not in _PLAIN_TAGS:
        problems.add(ANCHORS, loc, what=f"tag {node.tag}")
    if isinstance(node, yaml.ScalarNode):
        return Scalar(loc, _scalar_value(node), node.value, node.style is not None)
    if isinstance(node, yaml.SequenceNode):
        return Seq(loc, tuple(_convert(file, item, problems) for item in node.value))
    assert isinstance(node, yaml.MappingNode)
    entries: list[tuple[Scalar, Node]] = []
    seen: dict[object, Location] = {}
    for key_node, value_node in node.value:
        key = _convert(file, key_node, problems)
        if not isinstance(key, Scalar) or isinstance(key.value, bool) or key.value is None:
            problems.add(COMPLEX_KEY, key.loc, kind=kind_of(key))
            continue
        if key.value == "<<":
            problems.add(ANCHORS, key.loc, what="merge key <<")
            continue
        if key.value in seen:
            problems.add(DUPLICATE_KEY, key.loc, key=key.text, first_line=seen[key.value].line)
            continue
        seen[key.value] = key.loc
        entries.append((key, _convert(file, value_node, problems)))
    return Map(loc, tuple(entries))


class _Loader(yaml.SafeLoader):
    """Composes nodes only; refuses aliases (no billion-laughs, no hidden sharing)."""

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            mark = event.start_mark
            raise _AliasError(mark)
        return super().compose_node(parent, index)


class _AliasError(Exception):
    def __init__(self, mark: yaml.Mark) -> None:
        self.mark = mark


def parse(text: str, file: str = "<string>") -> Node:
    """Parse one YAML document into located nodes, or raise FormsDslError with every problem."""
    problems = Problems()
    if len(text.encode("utf-8", "surrogatepass")) > MAX_SOURCE_BYTES:
        problems.add(YAML_SYNTAX, Location(file, 1, 1), problem="file larger than 2 MB")
        problems.raise_if_errors()
    try:
        loader = _Loader(text)
        try:
            if not loader.check_node():
                problems.add(NOT_A_DOCUMENT, Location(file, 1, 1))
                problems.raise_if_errors()
            root = loader.get_node()
            if loader.check_node():
                problems.add(NOT_A_DOCUMENT, Location(file, 1, 1))
        finally:
            loader.dispose()
    except _AliasError as alias:
        problems.add(
            ANCHORS,
            Location(file, alias.mark.line + 1, alias.mark.column + 1),
            what="alias *",
        )
        raise FormsDslError(problems) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
        problems.add(YAML_SYNTAX, loc, problem=str(exc.problem or exc.context or "syntax error"))
        raise FormsDslError(problems) from None
    except yaml.YAMLError as exc:  # reader errors (bad characters) carry no mark object
        problems.add(YAML_SYNTAX, Location(file, 1, 1), problem=str(exc).splitlines()[0])
        raise FormsDslError(problems) from None
    except RecursionError:
        problems.add(YAML_SYNTAX, Location(file, 1, 1), problem="nesting too deep")
        raise FormsDslError(problems) from None
    if root is None:  # pragma: no cover - check_node() said a document follows
        problems.add(NOT_A_DOCUMENT, Location(file, 1, 1))
        raise FormsDslError(problems)
    result = _convert(file, root, problems)
    problems.raise_if_errors()
    return result


def parse_file(path: Path, display: str | None = None) -> Node:
    """Read and parse a file; the location names it as `display` (default: the path given)."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormsDslError(
            [_error(FILE_NOT_FOUND, Location(name, 1, 1), path=name, reason=str(exc))]
        ) from None
    return parse(text, name)


def _error(code: ErrorCode, loc: Location, **params: object) -> DslError:
    return DslError(code, loc, dict(params))
