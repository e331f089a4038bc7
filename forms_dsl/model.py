"""The frozen model a form definition becomes once every check has passed."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from forms_dsl.entry_consent import ConsentRule
from forms_dsl.errors import Location
from forms_dsl.registry_items import RegistryItems
from forms_dsl.text import EMPTY, Text
from forms_dsl.types import Value, VType

if TYPE_CHECKING:
    from forms_dsl.decision import DecisionTable
    from forms_dsl.expr import Expr
    from forms_dsl.schedule import Schedule


class FieldType(enum.StrEnum):
    TEXT = "text"
    TEXTAREA = "textarea"
    INTEGER = "integer"
    DECIMAL = "decimal"
    DATE = "date"
    DATETIME = "datetime"
    TIME = "time"
    YESNO = "yesno"
    CHOICE = "choice"
    MULTICHOICE = "multichoice"
    CALC = "calc"
    NOTE = "note"


#: How each stored type is seen from expressions.
VTYPE_OF = {
    FieldType.TEXT: VType.TEXT,
    FieldType.TEXTAREA: VType.TEXT,
    FieldType.INTEGER: VType.NUMBER,
    FieldType.DECIMAL: VType.NUMBER,
    FieldType.DATE: VType.DATE,
    FieldType.DATETIME: VType.DATETIME,
    FieldType.TIME: VType.TIME,
    FieldType.YESNO: VType.BOOL,
    FieldType.CHOICE: VType.CODE,
    FieldType.MULTICHOICE: VType.CODES,
}


class Severity(enum.StrEnum):
    ERROR = "error"  # blocks `complete`
    WARNING = "warning"  # may be confirmed with a reason (raises a query)


@dataclass(frozen=True)
class Choice:
    code: str
    label: Text


@dataclass(frozen=True)
class ChoiceList:
    id: str
    choices: tuple[Choice, ...]

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(c.code for c in self.choices)

    def label(self, code: str, lang: str) -> str:
        for choice in self.choices:
            if choice.code == code:
                return choice.label.get(lang)
        return code


@dataclass(frozen=True)
class Code:
    """A terminology code carried by an item (SNOMED CT, LOINC …) for exports."""

    system: str
    code: str
    display: str = ""


@dataclass(frozen=True)
class Bound:
    """A min or max: a literal value, or an expression (e.g. `today()`) when `expr` is set."""

    expr: Expr | None
    text: str
    value: Value = None


@dataclass(frozen=True)
class Check:
    """An edit check: when `when` is true the value is wrong (error) or doubtful (warning)."""

    id: str
    when: Expr
    when_text: str
    severity: Severity
    message: Text
    loc: Location


@dataclass(frozen=True)
class Field:
    id: str
    type: FieldType
    label: Text
    loc: Location
    section: str
    repeat: str | None = None  # id of the repeating section holding it
    hint: Text = EMPTY
    unit: str = ""
    default: Value = None
    readonly: bool = False
    required: bool = False
    required_if: Expr | None = None  # `required: "<condition>"`: required while it is true
    required_if_text: str = ""
    min: Bound | None = None
    max: Bound | None = None
    decimals: int | None = None
    pattern: re.Pattern[str] | None = None
    pattern_message: Text = EMPTY  # what a wrong answer should look like, in the author's words
    max_length: int | None = None
    show_if: Expr | None = None
    show_if_text: str = ""
    checks: tuple[Check, ...] = ()
    sdv: bool = False
    identifier: bool = False
    codes: tuple[Code, ...] = ()
    choices: ChoiceList | None = None
    widget: str = ""
    calc: Expr | None = None
    calc_text: str = ""
    calc_vtype: VType | None = None  # what a calc field yields

    @property
    def stores_value(self) -> bool:
        return self.type is not FieldType.NOTE

    @property
    def vtype(self) -> VType:
        if self.type is FieldType.CALC:
            return self.calc_vtype or VType.ANY
        return VTYPE_OF.get(self.type, VType.ANY)


@dataclass(frozen=True)
class Repeat:
    min: int = 0
    max: int = 50


@dataclass(frozen=True)
class Section:
    id: str
    title: Text
    fields: tuple[Field, ...]
    loc: Location
    repeat: Repeat | None = None
    show_if: Expr | None = None
    show_if_text: str = ""


@dataclass(frozen=True)
class Form:
    id: str
    version: int
    title: Text
    sections: tuple[Section, ...]
    choice_lists: dict[str, ChoiceList]
    decision_tables: dict[str, DecisionTable]
    languages: tuple[str, ...]
    file: str
    context: dict[str, VType] = field(default_factory=dict)
    calc_order: tuple[str, ...] = ()  # calculation fields, dependencies first

    def __iter__(self) -> Iterator[Field]:
        for section in self.sections:
            yield from section.fields

    @property
    def fields(self) -> dict[str, Field]:
        return {f.id: f for f in self}

    def field(self, field_id: str) -> Field:
        return self.fields[field_id]

    def section(self, section_id: str) -> Section:
        return next(s for s in self.sections if s.id == section_id)


@dataclass(frozen=True)
class Event:
    id: str
    label: Text
    forms: tuple[str, ...]
    repeating: bool
    loc: Location
    #: Adding an occurrence asks for its visit date (repeating events only).
    visit_date: bool = False
    #: When the event is due (forms_dsl.schedule); None: whenever it happens.
    schedule: Schedule | None = None


@dataclass(frozen=True)
class Study:
    slug: str
    title: Text
    languages: tuple[str, ...]
    events: tuple[Event, ...]
    forms: dict[str, Form]
    choice_lists: dict[str, ChoiceList]
    context: dict[str, VType]
    root: str
    consent: ConsentRule = field(default_factory=ConsentRule)
    registry: RegistryItems = field(default_factory=RegistryItems)


def describe(value: Any) -> str:
    """A value as authors wrote it, for messages."""
    return repr(value) if isinstance(value, str) else str(value)
