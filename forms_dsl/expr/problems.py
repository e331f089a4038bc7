"""What the expression stages report: a coded problem at a character offset in the text.

Expressions live inside YAML scalars, so the stages only know offsets; the caller, who knows where
the scalar starts, turns them into located `DslError`s with `at()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from forms_dsl.errors import Coded, DslError, ErrorCode, Location


@dataclass(frozen=True)
class ExprProblem(Coded):
    """A static-check finding; `offset` is the 0-based character offset in the expression text."""

    code: ErrorCode
    offset: int
    params: dict[str, Any] = field(default_factory=dict)

    def at(self, location: Location) -> DslError:
        """The problem as a located error, `location` being where the expression text starts.

        Exact for expressions written on one line; for folded or quoted YAML scalars the column
        is approximate (the offset counts characters of the scalar's value, not of the file).
        """
        return DslError(self.code, location.shifted(self.offset), self.params)

    def __str__(self) -> str:
        return f"{self.code.id} at {self.offset}: {self.message} ({self.fix})"


class ExprError(Coded, Exception):
    """Text that is not an expression (syntax) or exceeds a limit. Raised by `parse` only."""

    def __init__(self, code: ErrorCode, offset: int, params: dict[str, Any] | None = None) -> None:
        self.code = code
        self.offset = offset
        self.params = dict(params or {})
        super().__init__(str(self.problem))

    @property
    def problem(self) -> ExprProblem:
        return ExprProblem(self.code, self.offset, self.params)

    def at(self, location: Location) -> DslError:
        return self.problem.at(location)


def fail(code: ErrorCode, offset: int, /, **params: Any) -> ExprError:
    """Build an ExprError with keyword params (the stages write `raise fail(CODE, at, x=...)`)."""
    return ExprError(code, offset, params)
