"""Domain errors: what a service says went wrong, without knowing it is answering a web request.

Services raise these; `edc.web` maps them, in one place, to the status a browser gets (a refusal
reads like a missing page, so nobody learns what exists where they may not look). The command
line prints their message instead.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of the errors a service raises on purpose. `message` is for the user (translated)."""

    status = 400

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        """The message, else the kind and status (for logs and the command line)."""
        return self.message or f"{type(self).__name__} ({self.status})"


class NotFound(DomainError):
    """No such thing, as far as this actor may know."""

    status = 404


class Denied(NotFound):
    """The actor may not do this here. Answered like `NotFound` (404): a refusal must not tell
    an outsider that a subject or a form exists at a site they cannot see."""


class Conflict(DomainError):
    """Someone else changed it first, or its state does not allow this now."""

    status = 409


class Invalid(DomainError):
    """The request is well formed but its content cannot be accepted (e.g. a row no form has)."""

    status = 422
