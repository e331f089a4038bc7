"""Who is acting: passed first to every service so services never read the request."""

from __future__ import annotations

import getpass
import re
from dataclasses import dataclass

from flask import request
from flask_login import current_user

from edc.models.users import User

#: The label of an actor who names an account but has not signed in to it yet.
CLAIMING = "signing-in"

#: As long as the audit trail and the session row keep them.
MAX_IP, MAX_USER_AGENT = 64, 300
# Control characters (C0, DEL, C1) and lone surrogates: PostgreSQL stores neither NUL nor
# surrogates, and none has any business in a log line.
_UNSTORABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_header(value: str, limit: int) -> str:
    """What the client sent (a header, its address), fit to be stored: without control
    characters and cut to `limit`. Stored values must never make the write fail: a sign-in
    whose failure cannot be recorded would not count."""
    return _UNSTORABLE.sub("", value)[:limit]


@dataclass(frozen=True)
class Actor:
    """A signed-in user (or the command line) plus the client it acts from."""

    user: User | None
    ip: str = ""
    user_agent: str = ""
    label: str = ""

    def __post_init__(self) -> None:
        # Every actor is built here, whichever path builds it: what the client sent is cleaned
        # once, and whatever stores it (audit trail, session row) can.
        object.__setattr__(self, "ip", clean_header(self.ip, MAX_IP))
        object.__setattr__(self, "user_agent", clean_header(self.user_agent, MAX_USER_AGENT))

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user is not None else None

    @property
    def email(self) -> str:
        return self.user.email if self.user is not None else self.label

    @property
    def is_cli(self) -> bool:
        """The operator at the command line (no account: the OS user names them)."""
        return self.user is None and self.label.startswith("cli:")

    @property
    def signing_in(self) -> bool:
        """Someone claiming an account who has not finished signing in (see `claiming`)."""
        return self.user is not None and self.label == CLAIMING

    @classmethod
    def cli(cls) -> Actor:
        """The operator at the server's command line, named by their OS account."""
        return cls(user=None, user_agent="flask-cli", label=f"cli:{getpass.getuser()}")

    @classmethod
    def anonymous(cls, ip: str, user_agent: str) -> Actor:
        return cls(user=None, ip=ip, user_agent=user_agent, label="anonymous")

    def claiming(self, user: User) -> Actor:
        """This caller, named by the account they are signing in to: events say whose account
        was tried, without crediting the caller with that account's roles before it is proven."""
        return Actor(user=user, ip=self.ip, user_agent=self.user_agent, label=CLAIMING)


def current_actor() -> Actor:
    """The signed-in user (or an anonymous caller) of this request, with their client."""
    agent = request.user_agent.string[: 4 * MAX_USER_AGENT]  # cleaned and cut by Actor
    ip = request.remote_addr or ""
    if current_user and current_user.is_authenticated:
        return Actor(user=current_user._get_current_object(), ip=ip, user_agent=agent)
    return Actor.anonymous(ip, agent)
