"""A real SMTP server on this machine (aiosmtpd) that keeps what it receives, for the mail tests."""

from __future__ import annotations

import email
import email.policy
import re
import socket
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class Mailbox:
    """Every message the server accepted, parsed, oldest first."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse = False  # answer every message with a permanent error

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse:
            return "554 refused for the test"
        raw = envelope.original_content or b""
        self.messages.append(
            email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[arg-type]
        )
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]

    def body(self, message: EmailMessage) -> str:
        part = message.get_body(("plain",))
        assert part is not None
        return part.get_content()

    def link(self, address: str) -> str:
        """The path of the single-use link in the latest message to `address`."""
        found = re.search(
            r"https?://[^/\s]+(/account/activate/\S+)", self.body(self.to(address)[-1])
        )
        assert found, self.body(self.to(address)[-1])
        return found.group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(mailbox: Mailbox) -> Controller:
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller
