"""An importer feeds the same builder: a spreadsheet's mistakes get the YAML codes, at the cell.

The importer here is a toy (one CSV row per field: id, type, label, min); the real REDCap and
XLSForm importers keep the same contract (see forms_dsl.importers).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from forms_dsl import FormsDslError
from forms_dsl.errors import Location
from forms_dsl.importers import cell, load_imported, mapping, plain, sequence, text, value
from forms_dsl.model import Form
from forms_dsl.source import Node

COLUMNS = ("id", "type", "label", "min")


class ToyCsv:
    """One form from a CSV of fields; empty cells are options left out."""

    format = "toy CSV"

    def read(self, path: Path, display: str) -> Node:
        top = cell(display, 1, 1)
        fields = []
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader)  # the header, line 1
            for row in reader:
                line = reader.line_num
                options: dict[str, Node] = {}
                for n, (key, content) in enumerate(zip(COLUMNS, row, strict=True), start=1):
                    if content:
                        at = cell(display, line, n)
                        options[key] = plain(content, at) if key == "min" else text(content, at)
                fields.append(mapping(cell(display, line, 1), options))
        section = mapping(
            top,
            {"id": text("main", top), "title": text("Main", top), "fields": sequence(top, fields)},
        )
        return mapping(
            top,
            {
                "form": text(path.stem, top),
                "version": value(1, top),
                "title": text("Imported", top),
                "sections": sequence(top, [section]),
            },
        )


def write(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "dd.csv"
    path.write_text("id,type,label,min\n" + "".join(f"{r}\n" for r in rows), encoding="utf-8")
    return path


def test_a_clean_sheet_becomes_a_checked_form(tmp_path):
    path = write(tmp_path, ["weight,integer,Weight (kg),0", "answer,text,Answer,"])
    form = load_imported(ToyCsv(), path).value
    assert isinstance(form, Form)
    assert [f.id for f in form] == ["weight", "answer"]
    assert form.fields["weight"].min is not None
    assert form.fields["weight"].min.value == 0


def test_mistakes_carry_the_builders_codes_at_their_cells(tmp_path):
    path = write(tmp_path, ["weight,integr,Weight,", "answer,text,Answer,3", "Bad Id,text,X,"])
    with pytest.raises(FormsDslError) as caught:
        load_imported(ToyCsv(), path)
    found = {(p.code.id, str(p.location)) for p in caught.value.errors}
    assert found == {
        ("E207", f"{path}:2:2"),  # unknown type, at the type cell
        ("E216", f"{path}:3:4"),  # min on a text field, at the min cell
        ("E204", f"{path}:4:1"),  # not an id, at the id cell
    }


def test_cells_read_like_yaml_words_or_as_text():
    at = cell("dd.csv", 2, 3)
    assert plain("12", at).value == 12
    assert plain("", at).value is None
    assert plain("no", at).value == "no"  # never silently a boolean
    assert text("1", at).value == "1"  # a choice code stays a code
    assert value(True, at).text == "true"


def test_a_workbook_cell_names_its_sheet():
    assert str(cell("form.xlsx", 12, 3, sheet="survey")) == "form.xlsx[survey]:12:3"
    assert cell("dd.csv", 2, 1) == Location("dd.csv", 2, 1)
    with pytest.raises(ValueError, match="count from 1"):
        cell("dd.csv", 0, 1)
