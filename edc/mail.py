"""Outgoing mail: rendered in the recipient's language, sent only after the change is committed.

A message is queued on the database session and leaves when that session commits (the request's
single commit point, or a CLI command's); a rollback drops it, so nobody is mailed about a change
that did not happen. Sending never fails a request: a refused or unreachable server is logged and
the administrator is told the mail could not be sent.

Backends (EDC_MAIL_BACKEND): `smtp` sends through EDC_SMTP_*; `console` logs the whole message
(the demo: links appear in the terminal); `none` sends nothing (see edc/services/links.py for
what changes then).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid, parseaddr

from flask import current_app, flash, has_request_context
from flask_babel import force_locale
from sqlalchemy import event
from sqlalchemy.orm import Session

from edc.i18n import _
from edc.models.users import User
from edc.settings import Settings

log = logging.getLogger(__name__)

_QUEUE = "edc_outbox"
SMTP_TIMEOUT = 15  # seconds: a slow relay delays one page, it does not hang it


@dataclass(frozen=True)
class Outgoing:
    """One message, rendered and ready; `announce` tells the administrator it left."""

    message: EmailMessage
    announce: bool = False


def enabled(settings: Settings) -> bool:
    return settings.mail_backend != "none"


def language(user: User, settings: Settings) -> str:
    """The recipient's own language (their saved choice), else the portal's first language."""
    return user.locale if user.locale in settings.languages else settings.languages[0]


def render(
    settings: Settings, user: User, template: str, announce: bool = False, **context: object
) -> Outgoing:
    """The message `mail/<template>.txt` (first line: the subject) in the user's language."""
    return render_to(
        settings, (user.full_name, user.email), language(user, settings),
        f"mail/{template}.txt", {"user": user, **context}, announce=announce,
    )  # fmt: skip


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message (e.g. a signer's sealed consent copy)."""

    filename: str
    data: bytes
    mime: str = "application/pdf"


def render_to(
    settings: Settings,
    to: tuple[str, str],
    lang: str,
    template: str,
    context: Mapping[str, object],
    *,
    announce: bool = False,
    attachments: tuple[Attachment, ...] = (),
) -> Outgoing:
    """The message of `template` (first line: the subject) in `lang` for someone who has no
    account (a parent invited to consent remotely): `to` is their (name, address)."""
    env = current_app.jinja_env
    with force_locale(lang if lang in settings.languages else settings.languages[0]):
        text = env.get_template(template).render(base_url=settings.base_url, **context)
    subject, _sep, body = text.strip().partition("\n")
    message = EmailMessage()
    message["Subject"] = subject.strip()
    message["From"] = settings.mail_from
    message["To"] = formataddr(to)
    message["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2] or None)
    message.set_content(body.strip() + "\n")
    for item in attachments:
        maintype, _slash, subtype = item.mime.partition("/")
        message.add_attachment(
            item.data, maintype=maintype, subtype=subtype, filename=item.filename
        )
    return Outgoing(message, announce)


def send_after_commit(session: Session, outgoing: Outgoing) -> None:
    """Queue `outgoing` on the session: it leaves when the session commits."""
    session.info.setdefault(_QUEUE, []).append(outgoing)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    queued: list[Outgoing] = session.info.pop(_QUEUE, [])
    if not queued:
        return
    settings: Settings = current_app.config["EDC_SETTINGS"]
    for outgoing in queued:
        _deliver(settings, outgoing)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    dropped = session.info.pop(_QUEUE, [])
    if dropped:
        log.info("%d message(s) not sent: the change was rolled back", len(dropped))


def _deliver(settings: Settings, outgoing: Outgoing) -> None:
    """Send one message; a failure is logged and told, never raised."""
    message = outgoing.message
    to = parseaddr(str(message["To"]))[1]
    if settings.mail_backend == "console":
        log.info("mail to %s (console backend, not sent):\n%s", to, _readable(message))
    elif settings.mail_backend == "smtp":
        try:
            _smtp(settings, message)
        except (OSError, smtplib.SMTPException) as exc:
            log.error("could not send mail to %s: %s", to, exc)
            if has_request_context():
                flash(_("The e-mail to %(to)s could not be sent. Try again later.", to=to), "error")
            return
        log.info("mail sent to %s: %s", to, message["Subject"])
    else:
        return
    if outgoing.announce and has_request_context():
        flash(_("An e-mail was sent to %(to)s.", to=to))


def _readable(message: EmailMessage) -> str:
    """The message as a person reads it (not transfer-encoded): links stay whole to copy."""
    head = "\n".join(f"{name}: {message[name]}" for name in ("From", "To", "Subject"))
    body = message.get_body(("plain",))  # a message with attachments is multipart
    return f"{head}\n\n{body.get_content() if body is not None else ''}"


def _smtp(settings: Settings, message: EmailMessage) -> None:
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.smtp_security == "ssl":
        smtp = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT)
    with smtp:
        if settings.smtp_security == "starttls":
            smtp.starttls(context=context)
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(message)
