"""Where an item lives, built and read in one place.

Inside a record an item is addressed by its key: the field id (`weight`), or for a repeating
section `group-<row id>-field` (`meds-7-dose`), the row's id being its identity for life (see
services/repeat_rows.py). The key names the item in the request, in the stored items, on the page
and in conflicts. The audit trail qualifies it with the visit and the form version it was entered
with: `event/occurrence/form@version/key` (`diagnosis/1/diagnosis@2/mycn`).

Keys come from requests and URLs: `parse` is bounded (no regular expression runs on more than
`MAX_KEY` characters) and refuses anything else with `Invalid`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from edc.errors import Invalid
from forms_dsl.engine import MAX_ROW_ID

#: A form's ids (forms_dsl's `ID_RE`): fields and sections.
_ID = r"[a-z][a-z0-9_]{0,63}"
_ROW_DIGITS = len(str(MAX_ROW_ID))
_KEY = re.compile(rf"(?:(?P<group>{_ID})-(?P<row>[0-9]{{1,{_ROW_DIGITS}}})-)?(?P<field>{_ID})")
#: A row item's key with a row number of any length: `posted_rows` refuses the too long ones.
ANY_ROW_KEY = re.compile(r"(?P<group>[a-z][a-z0-9_]*)-(?P<row>[0-9]+)-(?P<field>[a-z][a-z0-9_]*)")
_RECORD_PATH = re.compile(
    rf"(?P<event>{_ID})/(?P<number>[0-9]{{1,9}})/(?P<form>{_ID})@(?P<version>[0-9]{{1,9}})/"
    rf"(?P<key>[^/]+)"
)
#: Longer than any key a form can have (and than `item_value.path`).
MAX_KEY = 200
ROW_SEPARATOR = "-"


@dataclass(frozen=True, order=True)
class ItemAddress:
    """An item of a record: a field, in a row of a repeating section (`group`, `row`) or not."""

    field: str
    group: str | None = None
    row: int | None = None

    def __post_init__(self) -> None:
        if (self.group is None) != (self.row is None):
            raise Invalid()
        if self.row is not None and not 0 <= self.row <= MAX_ROW_ID:
            raise Invalid()

    @classmethod
    def parse(cls, key: str) -> ItemAddress:
        """The address a key names; `Invalid` for anything no form's item has."""
        match = _KEY.fullmatch(key) if len(key) <= MAX_KEY else None
        if match is None:
            raise Invalid()
        row = match["row"]
        return cls(match["field"], match["group"], None if row is None else int(row))

    @classmethod
    def of(cls, key: str) -> ItemAddress | None:
        """The address a key names, or None (a request's other names, markers, typos)."""
        try:
            return cls.parse(key)
        except Invalid:
            return None

    @property
    def key(self) -> str:
        """How the item is named in the request, the stored items and the page."""
        if self.group is None:
            return self.field
        return f"{row_prefix(self.group, self.row or 0)}{ROW_SEPARATOR}{self.field}"

    @property
    def row_key(self) -> tuple[str, int] | None:
        """(section, row id) of an item in a repeating section; None for a top-level item."""
        return None if self.group is None or self.row is None else (self.group, self.row)

    def in_record(self, event_id: str, number: int, form_id: str, version: int) -> str:
        """The audit trail's address: the visit, the form at its version, the item."""
        return f"{event_id}/{number}/{form_id}@{version}/{self.key}"

    def __str__(self) -> str:
        return self.key


def row_prefix(group: str, row: int) -> str:
    """What every key of one row starts with (the row form's prefix on the page)."""
    return f"{group}{ROW_SEPARATOR}{row}"


def field_of(key: str) -> str:
    """The field id a key names (its last part), for any name a request may hold."""
    return key.rsplit(ROW_SEPARATOR, 1)[-1]


def row_of(key: str) -> tuple[str, int] | None:
    """(section, row id) of a key in a repeating section; None otherwise (or not a key)."""
    address = ItemAddress.of(key)
    return address.row_key if address is not None else None


def in_row(key: str, group: str, row: int) -> bool:
    """Whether a key names an item of this row."""
    return key.startswith(row_prefix(group, row) + ROW_SEPARATOR)


def record_suffix(address: ItemAddress) -> str:
    """What the audit address of this item ends with, whatever the visit and version."""
    return f"/{address.key}"


@dataclass(frozen=True)
class RecordItem:
    """An audit trail's item address, read back."""

    event_id: str
    number: int
    form_id: str
    version: int
    item: ItemAddress

    @classmethod
    def parse(cls, path: str) -> RecordItem:
        """`event/occurrence/form@version/key`; `Invalid` for anything else."""
        match = _RECORD_PATH.fullmatch(path) if len(path) <= 2 * MAX_KEY else None
        if match is None:
            raise Invalid()
        item = ItemAddress.parse(match["key"])
        return cls(match["event"], int(match["number"]), match["form"], int(match["version"]), item)

    @property
    def form_version(self) -> str:
        """The form at the version the item was entered with, as the history page shows it."""
        return f"{self.form_id}@{self.version}"

    def __str__(self) -> str:
        return self.item.in_record(self.event_id, self.number, self.form_id, self.version)


def entered_with(path: str) -> str:
    """The form at the version an audit trail's item was entered with (`visit@2`)."""
    return RecordItem.parse(path).form_version


def version_entered(path: str) -> int:
    """The version of the form an audit trail's item was entered with, as pages show it."""
    return RecordItem.parse(path).version
