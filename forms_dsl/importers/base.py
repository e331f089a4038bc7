"""What every importer builds with: cell locations, located nodes, and the one way to load them.

A form read from a spreadsheet becomes the same node tree a YAML file gives, with each node
located at its cell, then goes through the same builder (see the package's contract).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from forms_dsl.errors import Location
from forms_dsl.model import ChoiceList
from forms_dsl.source import Map, Node, Scalar, ScalarValue, Seq, plain_value
from forms_dsl.study import LoadResult, load_form_node
from forms_dsl.types import VType


class Importer(Protocol):
    """Reads one file of a foreign format into a form's node tree (a `Map` like a YAML form).

    Problems are collected in a `forms_dsl.errors.Problems` and raised as `FormsDslError`
    (`raise_if_errors`) when the file cannot be turned into a tree at all.
    """

    #: The format's name in messages, e.g. "REDCap data dictionary".
    format: str

    def read(self, path: Path, display: str) -> Node:
        """The form's root node; every location names the file as `display`."""
        ...


def cell(file: str, row: int, column: int, sheet: str | None = None) -> Location:
    """Where a cell is: `row` as the line, the column number (A = 1) as the column.

    For a CSV file the row is the record's first line in the file (the header is line 1); for a
    workbook it is the sheet's row number, and the sheet is named: `form.xlsx[survey]:12:3`.
    """
    if row < 1 or column < 1:
        raise ValueError("rows and columns count from 1")
    return Location(f"{file}[{sheet}]" if sheet else file, row, column)


def text(content: str, loc: Location) -> Scalar:
    """A cell taken as text whatever it looks like: labels, choice codes (`no`, `1` stay text)."""
    return Scalar(loc, content, content)


def plain(content: str, loc: Location) -> Scalar:
    """A cell read as YAML reads an unquoted word: `12` → 12, `true` → true, empty → nothing;
    `yes`, `no` and dates stay text (the same small schema as the YAML reader)."""
    return Scalar(loc, plain_value(content), content)


def value(given: ScalarValue, loc: Location) -> Scalar:
    """A value the importer decided (e.g. `required: true` from REDCap's `y`), at its cell."""
    if isinstance(given, bool):
        shown = "true" if given else "false"
    elif given is None:
        shown = ""
    elif isinstance(given, int | Decimal):
        shown = str(given)
    else:
        shown = given
    return Scalar(loc, given, shown)


def mapping(loc: Location, entries: Mapping[str, Node]) -> Map:
    """A mapping whose keys are located at their value's cell (where a reader would look)."""
    return Map(loc, tuple((Scalar(node.loc, key, key), node) for key, node in entries.items()))


def sequence(loc: Location, items: Iterable[Node]) -> Seq:
    return Seq(loc, tuple(items))


def load_imported(
    importer: Importer,
    path: Path,
    languages: tuple[str, ...] = ("en",),
    shared_lists: dict[str, ChoiceList] | None = None,
    context: dict[str, VType] | None = None,
) -> LoadResult:
    """Read `path` with `importer` and check the form like a YAML one (raises FormsDslError)."""
    display = str(path)
    root = importer.read(path, display)
    return load_form_node(root, display, languages, shared_lists, context)
