"""THE CSV writer: every CSV the portal writes goes through it, streamed and formula-safe.

A spreadsheet opening a CSV runs a cell that starts with `=`, `+`, `-` or `@` as a formula (and
a leading tab or carriage return can hide one): a user agent, a name or a free-text answer could
then fetch a URL or run a command on the reader's computer (CSV injection). Such cells are written
with a leading apostrophe, which spreadsheets show as text and programs can strip.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import TextIO
from typing import cast as typed

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: How much is written before a piece is handed to the response: memory stays flat.
CHUNK = 16_384


def cell(value: object) -> str:
    """One value as a safe CSV cell: structured values as JSON, times in ISO, formulas as text."""
    kind = type(value)
    if kind is str:  # the most common cell first: an export writes millions
        text = typed(str, value)
        return "'" + text if text.startswith(FORMULA_STARTS) else text
    if value is None:
        return ""
    if kind is int or kind is Decimal or kind is float:
        return str(value)  # a number, even a negative one, is no formula
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    elif isinstance(value, datetime | date):
        text = value.isoformat()
    elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return str(value)
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def rows(header: Iterable[str], body: Iterable[Iterable[object]]) -> Iterator[str]:
    """The CSV text of a header and rows, in pieces of about CHUNK characters."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([cell(h) for h in header])
    for row in body:
        writer.writerow([cell(v) for v in row])
        if buffer.tell() > CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def writer(out: TextIO) -> Callable[[Iterable[object]], None]:
    """A function writing one row at a time to `out` (a text file opened with newline=""):
    for a file filled row by row from a stream, every cell made safe by `cell`."""
    target = csv.writer(out)

    def write(row: Iterable[object]) -> None:
        target.writerow([cell(v) for v in row])

    return write
