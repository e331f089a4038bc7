"""Located, coded errors: every problem names its file, line and column, what was found and a fix.

Each stage declares its own codes with `ErrorCode(...)`; the registry lets documentation and tests
list them all. `DslError` is one problem; `FormsDslError` is the only exception the library raises
for bad input, and it carries every problem found, not just the first.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True, order=True)
class Location:
    """1-based line and column in a source file."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def shifted(self, offset: int) -> Location:
        """A position `offset` characters further on the same line (inside an expression)."""
        return Location(self.file, self.line, self.column + offset)


NOWHERE = Location("<unknown>", 0, 0)


@dataclass(frozen=True)
class ErrorCode:
    """A kind of author mistake: a stable id, a message template and a fix template."""

    id: str
    message: str
    fix: str
    severity: str = "error"
    registry: ClassVar[dict[str, ErrorCode]] = {}

    def __post_init__(self) -> None:
        if self.id in ErrorCode.registry and ErrorCode.registry[self.id] != self:
            raise ValueError(f"error code {self.id} declared twice")
        ErrorCode.registry[self.id] = self

    @classmethod
    def all(cls) -> list[ErrorCode]:
        return sorted(cls.registry.values(), key=lambda c: c.id)


class Coded:
    """Message and fix of anything holding a `code` and its `params`."""

    code: ErrorCode
    params: dict[str, Any]

    @property
    def message(self) -> str:
        return self.code.message.format(**self.params)

    @property
    def fix(self) -> str:
        return self.code.fix.format(**self.params)

    @property
    def is_warning(self) -> bool:
        return self.code.severity == "warning"


@dataclass(frozen=True)
class DslError(Coded):
    """One problem at one place."""

    code: ErrorCode
    location: Location
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        return f"{self.location}: {self.code.id}: {self.message} ({self.fix})"


class FormsDslError(Exception):
    """Bad input. `errors` holds every problem found, sorted by place."""

    def __init__(self, errors: Iterable[DslError]) -> None:
        self.errors = tuple(sorted(errors, key=lambda e: (e.location, e.code.id)))
        super().__init__("\n".join(str(e) for e in self.errors) or "invalid form definition")


class Problems:
    """Collects problems during a stage so that all of them are reported at once."""

    def __init__(self) -> None:
        self._items: list[DslError] = []

    def add(self, code: ErrorCode, location: Location, /, **params: Any) -> None:
        self._items.append(DslError(code, location, params))

    def extend(self, errors: Iterable[DslError]) -> None:
        self._items.extend(errors)

    def __iter__(self) -> Iterator[DslError]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def errors(self) -> list[DslError]:
        return [e for e in self._items if not e.is_warning]

    @property
    def warnings(self) -> list[DslError]:
        return [e for e in self._items if e.is_warning]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise FormsDslError(self._items)


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The known word `word` was most likely meant to be (for "did you mean" hints), if any."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def reference() -> str:
    """Every error code as a Markdown table, for the authors' documentation."""
    rows = ["| code | severity | problem | how to fix |", "|---|---|---|---|"]
    for code in ErrorCode.all():
        message = code.message.replace("|", "\\|").replace("{", "‹").replace("}", "›")
        fix = code.fix.replace("|", "\\|").replace("{", "‹").replace("}", "›")
        rows.append(f"| {code.id} | {code.severity} | {message} | {fix} |")
    return "\n".join(rows)
