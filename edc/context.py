"""The request context: what every service is handed first, instead of reaching for globals.

A view (or a command) builds one `Context` and passes it down; a service reads the database
session, who is acting, their grants, the clock and the language from it, and nothing from Flask.
That keeps services callable from the command line, from tests and, later, from background jobs
with exactly the same checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.orm import Session

from edc import access
from edc.access import Grant, Permission
from edc.actor import Actor
from edc.errors import Denied
from edc.models.base import utcnow
from edc.settings import Settings


@dataclass(frozen=True)
class Context:
    """One unit of work: the session it writes in, who acts, their grants, clock and language."""

    session: Session
    actor: Actor
    language: str = "en"
    clock: Callable[[], datetime] = field(default=utcnow)
    #: The portal's settings, when running inside it (mail, time zone); None for a bare call.
    settings: Settings | None = None

    @property
    def config(self) -> Settings:
        """The portal's settings, for a service that mails, links or counts in its time zone
        (a context built outside the portal has none: such a service cannot run there)."""
        if self.settings is None:
            raise RuntimeError("this needs the portal's settings: build the context in the app")
        return self.settings

    @property
    def grants(self) -> list[Grant]:
        """The actor's live grants (read once per session: see `access.grants`)."""
        if self.actor.user is None or self.actor.signing_in:
            return []
        return access.grants(self.session, self.actor.user)

    def now(self) -> datetime:
        """The server's UTC time (aware): the only clock the trail trusts."""
        return self.clock()

    def acting_as(self, actor: Actor) -> Context:
        """The same unit of work done by another actor (e.g. a link's owner claiming it)."""
        return replace(self, actor=actor)

    def require(self, permission: Permission, site_id: int | None = None) -> None:
        """Raise `Denied` unless the actor holds `permission` (at `site_id`, when named)."""
        if self.actor.user is None:
            raise Denied()
        access.require(self.session, self.actor.user, permission, site_id)

    def holds(self, permission: Permission, site_id: int | None = None) -> bool:
        """Whether the actor holds `permission` (at `site_id`, when named)."""
        return access.holds(self.grants, permission, site_id)
