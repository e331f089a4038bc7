"""Refusals and the OperationOutcome that reports them.

Every refusal of the registry, whatever its cause, answers one shape (an R4 OperationOutcome
listing each issue), so a sending site can log and show why without parsing prose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Issue:
    """One problem: an R4 issue-type code, what is wrong, and where (a FHIRPath-like path)."""

    code: str
    diagnostics: str
    expression: str | None = None

    def as_fhir(self) -> dict[str, Any]:
        """The OperationOutcome.issue element."""
        issue: dict[str, Any] = {
            "severity": "error",
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            issue["expression"] = [self.expression]
        return issue


class Refusal(Exception):
    """A request refused whole: the HTTP status and the issues the answer lists.

    Raised anywhere in the handling of a request; the web layer answers it, and the store
    rolls back whatever the transaction had written, so nothing of a refused Bundle stays.
    """

    def __init__(self, status: int, issues: list[Issue]) -> None:
        super().__init__("; ".join(issue.diagnostics for issue in issues))
        self.status = status
        self.issues = issues


def refuse(status: int, code: str, diagnostics: str, expression: str | None = None) -> Refusal:
    """A refusal with a single issue (for the common case)."""
    return Refusal(status, [Issue(code, diagnostics, expression)])


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    """The OperationOutcome resource listing `issues`."""
    return {"resourceType": "OperationOutcome", "issue": [issue.as_fhir() for issue in issues]}
