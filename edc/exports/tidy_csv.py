"""Tidy CSV: one file per form grain in a ZIP, with a codebook and a manifest.

A form's non-repeating items make one file (`<form>.csv`: one row per subject × visit occurrence
× form record); each repeating section makes another (`<form>__<section>.csv`: one row per
subject × occurrence × row id). Every file starts with the same columns (`LEADING`), then one
column per item: a multichoice item gives one 0/1 column per choice, REDCap-style
`<field>___<code>` (empty when the item holds no answer); yes/no is 1/0; decimals are written
exactly as stored; dates and times in ISO 8601. Every cell goes through the one formula-safe
writer (`csv_writer`).

`consent.csv` says, per subject and optional item, what the consent in force (else the last
one) grants now, withdrawals applied: what the data may be used for.

The rows are written in one pass over the subjects into one temporary file per grain (memory
holds one subject), then copied into the ZIP, which is streamed to the caller's file object.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import IO, Any, TextIO

from edc.exports import csv_writer
from edc.exports.model import FieldSpec, FormSpec, Layout, RecordData, SectionSpec, SubjectData
from edc.item_address import ROW_SEPARATOR, ItemAddress, row_prefix
from forms_dsl.model import FieldType
from forms_dsl.types import VType

LEADING = ("study_code", "site_code", "event", "occurrence", "form_version", "status")
ROW = "row"
LEADING_LABELS = {
    "study_code": "Subject's study code (pseudonymous)",
    "site_code": "Site code",
    "event": "Study event (visit) id",
    "occurrence": "Occurrence number of the event (1 for non-repeating events)",
    "form_version": "Version of the form the record was entered with",
    "status": "Record status (in_progress, complete, verified)",
    ROW: "Row id within the repeating section (stable for the row's life, never reused)",
}
CODEBOOK = "codebook.csv"
CONSENT = "consent.csv"
#: The consent file: one row per subject and optional item (what stands now), with its label.
CONSENT_LABELS = {
    "study_code": "Subject's study code (pseudonymous)",
    "site_code": "Site code",
    "document": "Consent document signed (e.g. parent_consent, child_assent)",
    "version": "Version of the consent document",
    "language": "Language the consent was given in",
    "signed_at": "When the consent took effect (UTC, ISO 8601)",
    "state": "in_force; withdrawn (all further collection); ended (superseded by a newer "
    "consent); lapsed (past its last valid day)",
    "end_reason": "Why an ended consent ended (superseded…)",
    "valid_until": "Last day the consent counts, if limited (re-consent due, age of majority)",
    "option": "Optional item of the consent (registry_transfer, biobank_storage…)",
    "granted": "1 = the item stands granted now, 0 = refused or withdrawn since",
}
CONSENT_COLUMNS = tuple(CONSENT_LABELS)
CONSENT_CODEBOOK: list[list[object]] = [
    [CONSENT, name, "", "", "", "integer" if name == "granted" else "text", label,
     "1=Granted | 0=Not granted" if name == "granted" else "", "", "", "", ""]
    for name, label in CONSENT_LABELS.items()
]  # fmt: skip
MANIFEST = "manifest.json"
CODEBOOK_COLUMNS = (
    "file", "column", "form", "section", "field", "type", "label", "choices", "unit", "min",
    "max", "form_versions",
)  # fmt: skip
CHOICE_SEPARATOR = "___"
_COPY = 1 << 16


@dataclass(frozen=True)
class Column:
    name: str
    spec: FieldSpec | None = None  # None: a leading column
    code: str = ""  # a multichoice column's choice code

    def converter(self) -> Callable[[object], object]:
        """How a stored value becomes this column's cell, chosen once per file, not per cell."""
        assert self.spec is not None
        if self.code:
            return partial(_checked, self.code)
        return _number if _numeric(self.spec) else _plain


@dataclass(frozen=True)
class Grain:
    """One file: a form's non-repeating items (`section` None) or one repeating section."""

    file: str
    form: FormSpec
    section: SectionSpec | None
    columns: tuple[Column, ...]


def _item_columns(fields: tuple[FieldSpec, ...], reserved: set[str]) -> list[Column]:
    columns = []
    for spec in fields:
        name = spec.id if spec.id not in reserved else f"item_{spec.id}"
        if spec.field.type is FieldType.MULTICHOICE and spec.field.choices is not None:
            columns += [
                Column(f"{name}{CHOICE_SEPARATOR}{c.code}", spec, c.code)
                for c in spec.field.choices.choices
            ]
        else:
            columns.append(Column(name, spec))
    return columns


def grains(layout: Layout) -> list[Grain]:
    """Every file of the export, in the layout's order."""
    found = []
    for form in layout.forms:
        lead = [Column(name) for name in LEADING]
        found.append(
            Grain(f"{form.id}.csv", form, None, (*lead, *_item_columns(form.flat, set(LEADING))))
        )
        for section in form.sections:
            if section.repeating:
                reserved = {*LEADING, ROW}
                columns = (*lead, Column(ROW), *_item_columns(section.fields, reserved))
                found.append(Grain(f"{form.id}__{section.id}.csv", form, section, columns))
    return found


def _numeric(spec: FieldSpec) -> bool:
    f = spec.field
    return f.type in (FieldType.DECIMAL, FieldType.INTEGER) or (
        f.type is FieldType.CALC and f.vtype is VType.NUMBER
    )


def _plain(stored: object) -> object:
    """A stored value as a cell: yes/no as 1/0, a list of codes space-separated, dates as their
    ISO text; None for no answer."""
    if stored is None or stored == "":
        return None
    if stored is True or stored is False:
        return 1 if stored else 0
    if isinstance(stored, list):
        return " ".join(str(v) for v in stored)
    return stored


def _number(stored: object) -> object:
    """A number's cell: exact (a decimal kept as its stored text), never taken for a formula,
    even negative; what is not a number stays as stored."""
    if isinstance(stored, str) and stored:
        try:
            return Decimal(stored)
        except InvalidOperation:
            return stored
    return _plain(stored)


def _checked(code: str, stored: object) -> object:
    """A multichoice column's cell: 1 when the code is chosen, 0 when not, empty when the item
    holds no answer."""
    if stored is None:
        return None
    return 1 if isinstance(stored, list) and code in stored else 0


@dataclass(frozen=True)
class _Cells:
    """A file's item columns, ready to fill rows: each column's field id and converter."""

    fields: tuple[str, ...]
    converters: tuple[Callable[[object], object], ...]

    @classmethod
    def of(cls, grain: Grain) -> _Cells:
        items = [c for c in grain.columns if c.spec is not None]
        return cls(tuple(c.spec.id for c in items if c.spec), tuple(c.converter() for c in items))

    def row(self, values: Mapping[str, object], prefix: str = "") -> list[object]:
        """The cells of one row; `prefix` is a repeating row's key prefix (`doses-3-`)."""
        get = values.get
        return [
            convert(get(prefix + field))
            for field, convert in zip(self.fields, self.converters, strict=True)
        ]


def _row_ids(section: str, values: Mapping[str, object]) -> list[int]:
    """The ids of the rows of a repeating section that hold a value, in order."""
    start = section + ROW_SEPARATOR
    return sorted(
        {
            address.row
            for key in values
            if key.startswith(start)
            and (address := ItemAddress.of(key)) is not None
            and address.group == section
            and address.row is not None
        }
    )


def _rows_of(
    grain: Grain, cells: _Cells, subject: SubjectData, record: RecordData
) -> Iterator[list[object]]:
    lead: list[object] = [
        subject.study_code, subject.site_code, record.event_id, record.occurrence,
        record.version, record.status,
    ]  # fmt: skip
    if grain.section is None:
        yield lead + cells.row(record.values)
        return
    group = grain.section.id
    for row in _row_ids(group, record.values):
        yield [*lead, row, *cells.row(record.values, row_prefix(group, row) + ROW_SEPARATOR)]


def _choices_text(spec: FieldSpec) -> str:
    choices = spec.field.choices
    if spec.field.type is FieldType.YESNO:
        return "1=Yes | 0=No"
    if choices is None or spec.field.type is not FieldType.CHOICE:
        return ""
    return " | ".join(f"{c.code}={c.label.get('en')}" for c in choices.choices)


def _bound(bound: Any) -> str:
    return "" if bound is None else str(bound.text)


def codebook_rows(found: list[Grain]) -> Iterator[list[object]]:
    """One row per column of every file: what it holds, in English, with its codes and bounds."""
    for grain in found:
        section = grain.section.id if grain.section is not None else ""
        for column in grain.columns:
            spec = column.spec
            if spec is None:
                kind = "integer" if column.name in ("occurrence", "form_version", ROW) else "text"
                yield [grain.file, column.name, grain.form.id, section, "", kind,
                       LEADING_LABELS[column.name], "", "", "", "", ""]  # fmt: skip
                continue
            f = spec.field
            label = f.label.get("en")
            kind, choices = str(f.type), _choices_text(spec)
            if column.code:
                assert f.choices is not None
                label = f"{label}: {f.choices.label(column.code, 'en')}"
                kind, choices = "checkbox", "1=Checked | 0=Unchecked"
            yield [
                grain.file, column.name, grain.form.id, f.section, f.id, kind, label, choices,
                f.unit, _bound(f.min), _bound(f.max), " ".join(str(v) for v in spec.versions),
            ]  # fmt: skip


@dataclass
class _Spooled:
    """One CSV file being written to a temporary file, before it is copied into the ZIP."""

    name: str
    text: TextIO
    write: Any
    rows: int = 0

    @classmethod
    def start(cls, name: str, header: Iterable[str]) -> _Spooled:
        text = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")  # noqa: SIM115
        spooled = cls(name, text, csv_writer.writer(text))
        spooled.write(header)
        return spooled

    def add(self, row: Iterable[object]) -> None:
        self.write(row)
        self.rows += 1


@dataclass
class _GrainFile:
    grain: Grain
    cells: _Cells
    file: _Spooled


def consent_rows(subject: SubjectData) -> Iterator[list[object]]:
    """The subject's consent: one row per optional item (one row when it has none)."""
    c = subject.consent
    if c is None:
        return
    lead: list[object] = [
        subject.study_code, subject.site_code, c.document, c.version, c.language,
        c.since.isoformat(timespec="seconds"), c.state, c.end_reason, c.valid_until,
    ]  # fmt: skip
    if not c.options:
        yield [*lead, None, None]
    for option, granted in sorted(c.options.items()):
        yield [*lead, option, 1 if granted else 0]


def _spool(found: list[Grain], subjects: Iterable[SubjectData]) -> tuple[list[_Spooled], int]:
    """Every subject's rows, written to one temporary file per grain and to the consent file;
    the files and how many subjects."""
    files = [
        _GrainFile(
            grain, _Cells.of(grain), _Spooled.start(grain.file, [c.name for c in grain.columns])
        )
        for grain in found
    ]
    consent = _Spooled.start(CONSENT, CONSENT_COLUMNS)
    by_form: dict[str, list[_GrainFile]] = {}
    for opened in files:
        by_form.setdefault(opened.grain.form.id, []).append(opened)
    count = 0
    for subject in subjects:
        count += 1
        for record in subject.records:
            for opened in by_form.get(record.form_id, []):
                for row in _rows_of(opened.grain, opened.cells, subject, record):
                    opened.file.add(row)
        for row in consent_rows(subject):
            consent.add(row)
    return [*(f.file for f in files), consent], count


def _member(archive: zipfile.ZipFile, name: str, source: TextIO) -> str:
    """Copy a spooled file into the archive; the SHA-256 of its bytes."""
    digest = hashlib.sha256()
    source.seek(0)
    with archive.open(name, "w", force_zip64=True) as member:
        while piece := source.read(_COPY):
            data = piece.encode("utf-8")
            digest.update(data)
            member.write(data)
    return digest.hexdigest()


def write_zip(
    layout: Layout, subjects: Iterable[SubjectData], out: IO[bytes], manifest: dict[str, Any]
) -> dict[str, Any]:
    """The ZIP (CSV files, codebook.csv, manifest.json) written to `out`. `manifest` gets the
    files (name, rows, SHA-256) and the subject count; the counts are returned."""
    found = grains(layout)
    files, subject_count = _spool(found, subjects)
    listed = []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for spooled in files:
            with spooled.text:
                sha = _member(archive, spooled.name, spooled.text)
            listed.append({"name": spooled.name, "rows": spooled.rows, "sha256": sha})
        described: list[list[object]] = [*codebook_rows(found), *CONSENT_CODEBOOK]
        book = "".join(csv_writer.rows(CODEBOOK_COLUMNS, described))
        archive.writestr(CODEBOOK, book)
        listed.append({"name": CODEBOOK, "rows": len(described),
                       "sha256": hashlib.sha256(book.encode("utf-8")).hexdigest()})  # fmt: skip
        counts = {"subjects": subject_count, "rows": {f["name"]: f["rows"] for f in listed}}
        manifest.update(files=listed, counts=counts)
        archive.writestr(MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False, default=str))
    return counts
