"""The request context: what every service is handed first, instead of reaching for globals.

A view (or a command) builds one `Context` and passes it down; a service reads the database
session, who is acting, their grants, the clock and the language from it, and nothing from Flask.
That keeps services callable from the command line, from tests and, later, from background jobs
with exactly the same checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from edc import access
from edc.access import Grant
from edc.actor import Actor
from edc.models.base import utcnow


@dataclass(frozen=True)
class Context:
    """One unit of work: the session it writes in, who acts, their grants, clock and language."""

    session: Session
    actor: Actor
    language: str = "en"
    clock: Callable[[], datetime] = field(default=utcnow)

    @property
    def grants(self) -> list[Grant]:
        """The actor's live grants (read once per session: see `access.grants`)."""
        if self.actor.user is None or self.actor.signing_in:
            return []
        return access.grants(self.session, self.actor.user)

    def now(self) -> datetime:
        """The server's UTC time (aware): the only clock the trail trusts."""
        return self.clock()
