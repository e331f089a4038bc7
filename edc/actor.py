"""Who is acting: passed first to every service so services never read the request."""

from __future__ import annotations

import getpass
from dataclasses import dataclass

from flask import request
from flask_login import current_user

from edc.models.users import User

#: The label of an actor who names an account but has not signed in to it yet.
CLAIMING = "signing-in"


@dataclass(frozen=True)
class Actor:
    """A signed-in user (or the command line) plus the client it acts from."""

    user: User | None
    ip: str = ""
    user_agent: str = ""
    label: str = ""

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
    agent = request.user_agent.string[:300]
    ip = request.remote_addr or ""
    if current_user and current_user.is_authenticated:
        return Actor(user=current_user._get_current_object(), ip=ip, user_agent=agent)
    return Actor.anonymous(ip, agent)
