"""Remote consent: staff invite a parent registered in the identity vault to sign from home.

The parent gets an e-mail with a single-use link; a separate one-time code reaches them another
way (their second e-mail address, or read out by staff on a phone call when they have none: the
code is then shown once to staff as "printed"). Opening the link binds it to that browser and
uses it up; the right code then gives that browser a signer token (like the kiosk's, only its
hash is kept, on the session) and the signer reads, answers, chooses and signs on the same pages
as in clinic. Wrong codes are counted under the invitation's row lock, and the third locks it.

Only hashes of the link and the code are stored. Everything is audited: the invitation, the
link opened, each wrong code, the lock, the identity evidence (link and code proven, channel,
client), a revocation, and the signer's copy e-mailed after the investigator countersigns."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from econsent import pdf
from econsent.models import ConsentCopy, ConsentInvitation, ConsentSession, Status
from econsent.services import sessions
from edc import audit, mail
from edc.access import Permission
from edc.actor import Actor
from edc.context import Context
from edc.errors import Conflict, Denied, Invalid
from edc.i18n import _
from edc.models.subjects import Subject
from edc.services import subjects
from edc.services.subjects import Guardian

CODE_DIGITS = 8
CODE_ATTEMPTS = 3  # wrong codes before the invitation locks
MAX_TOKEN = 128
MAX_CODE = 32
EMAIL, PRINTED = "email", "printed"


class InvitationClosed(Conflict):
    """The link or code cannot be used any more (used, expired, locked or revoked)."""

    def __init__(self, message: str, state: str) -> None:
        super().__init__(message)
        self.state = state


class WrongCode(Invalid):
    """A wrong code: counted; `left` more tries before the invitation locks."""

    def __init__(self, message: str, left: int) -> None:
        super().__init__(message)
        self.left = left


@dataclass(frozen=True)
class Invite:
    """What staff choose: the parent (their place in the vault), the language, and, where two
    parents are required, why one signs."""

    guardian_index: int
    language: str
    parent_exception: str = ""


@dataclass(frozen=True)
class Invited:
    """What staff are told once: where the link went, and the code if they must read it out."""

    session: ConsentSession
    invitation: ConsentInvitation
    printed_code: str = ""


@dataclass(frozen=True)
class InvitationState:
    """An invitation as staff see it on the session page."""

    state: str  # waiting, link_opened, code_used, locked, revoked, expired
    code_channel: str
    expires_at: datetime
    failed_codes: int
    link_used_at: datetime | None
    code_used_at: datetime | None
    copy_sent_at: datetime | None
    may_revoke: bool


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _code_hash(ctx: Context, link_hash: str, code: str) -> str:
    """Keyed with the portal's secret and bound to the link: 8 digits are no secret offline."""
    key = ctx.config.secret_key.encode("utf-8")
    return hmac.new(key, f"consent-code:{link_hash}:{code}".encode(), "sha256").hexdigest()


def guardians(ctx: Context, subject: Subject) -> list[tuple[int, Guardian]]:
    """The subject's parents who can be invited (they have an e-mail address), with their place
    in the vault; an audited identity read."""
    ctx.require(Permission.CONSENT_RUN, subject.site_id)
    identity = subjects.read_identity(ctx, subject, purpose="remote_consent")
    if identity is None:
        return []
    return [(i, g) for i, g in enumerate(identity.guardians) if g.email]


def _guardian(ctx: Context, subject: Subject, index: int, purpose: str) -> Guardian:
    identity = subjects.read_identity(ctx, subject, purpose=purpose)
    if identity is None or not 0 <= index < len(identity.guardians):
        raise Invalid(_("Choose a parent registered with the child."))
    guardian = identity.guardians[index]
    if not guardian.email:
        raise Invalid(_("This parent has no e-mail address in the child's identity."))
    return guardian


def invite(ctx: Context, subject: Subject, choice: Invite) -> Invited:
    """A remote session for the subject and its invitation, mailed when this commits."""
    ctx.require(Permission.CONSENT_RUN, subject.site_id)
    settings = ctx.config
    if not mail.enabled(settings):
        raise Invalid(_("Remote consent needs the portal to send e-mail."))
    guardian = _guardian(ctx, subject, choice.guardian_index, "remote_consent")
    prep = sessions.Preparation(
        language=choice.language, identity_document=sessions.REMOTE_EVIDENCE,
        parent_exception=choice.parent_exception, mode="remote",
    )  # fmt: skip
    cs = sessions.prepare(ctx, subject, prep)
    link, code = secrets.token_urlsafe(32), f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    second = guardian.second_email.strip()
    channel = EMAIL if second and second.lower() != guardian.email.lower() else PRINTED
    now = ctx.now()
    invitation = ConsentInvitation(
        session_id=cs.id, guardian_index=choice.guardian_index, link_token_hash=_sha(link),
        code_hash=_code_hash(ctx, _sha(link), code), code_channel=channel,
        expires_at=now + settings.consent_invitation_lifetime, failed_codes=0,
        created_at=now, created_by_id=ctx.actor.user_id,
    )  # fmt: skip
    invitation.session = cs
    ctx.session.add(invitation)
    audit.record(
        ctx.session, ctx.actor, "consent.invited", target=invitation,
        site_code=sessions.site_code(ctx, cs),
        new={"session": cs.id, "guardian": choice.guardian_index + 1,
             "relationship": guardian.relationship, "code_channel": channel,
             "expires_at": invitation.expires_at},
    )  # fmt: skip
    ctx.session.flush()
    _mail_invitation(ctx, invitation, guardian, link, code if channel == EMAIL else "")
    return Invited(cs, invitation, code if channel == PRINTED else "")


def _mail_invitation(
    ctx: Context, invitation: ConsentInvitation, guardian: Guardian, link: str, code: str
) -> None:
    cs, expires_at = invitation.session, invitation.expires_at
    settings = ctx.config
    common = {"name": guardian.name, "site": cs.site.name, "study": cs.subject.study.title}
    mail.send_after_commit(
        ctx.session,
        mail.render_to(
            settings, (guardian.name, guardian.email), cs.language,
            "mail/remote_invitation.txt",
            {"url": f"{settings.base_url}/remote/invitation/{link}", "expires_at": expires_at,
             "by_phone": not code, **common},
            announce=True,
        ),
    )  # fmt: skip
    if code:
        mail.send_after_commit(
            ctx.session,
            mail.render_to(
                settings, (guardian.name, guardian.second_email), cs.language,
                "mail/remote_code.txt", {"code": f"{code[:4]} {code[4:]}", **common},
                announce=True,
            ),
        )  # fmt: skip


def _state(invitation: ConsentInvitation, now: datetime) -> str:
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.locked_at is not None:
        return "locked"
    if invitation.code_used_at is not None:
        return "code_used"
    if invitation.expires_at <= now:
        return "expired"
    return "link_opened" if invitation.link_used_at is not None else "waiting"


def closed(state: str) -> InvitationClosed:
    """The refusal of a link or code in `state` (used, expired, locked, revoked)."""
    messages = {
        "revoked": _("This invitation was withdrawn by the study team."),
        "locked": _("This invitation is locked after too many wrong codes."),
        "expired": _("This invitation has expired."),
        "used": _("This link was already used. It works only once."),
    }
    return InvitationClosed(messages.get(state, messages["used"]), state)


def _locked_by_hash(ctx: Context, link_hash: str) -> ConsentInvitation | None:
    return ctx.session.scalar(
        select(ConsentInvitation)
        .where(ConsentInvitation.link_token_hash == link_hash)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def link_state(ctx: Context, link: str) -> tuple[str, str]:
    """What the link would do now (no change), `waiting` when it can still be opened, and the
    language of its consent (the pages before the code are shown in it)."""
    if not link or len(link) > MAX_TOKEN:
        raise Denied()
    invitation = ctx.session.scalar(
        select(ConsentInvitation).where(ConsentInvitation.link_token_hash == _sha(link))
    )
    if invitation is None:
        raise Denied()
    state = _state(invitation, ctx.now())
    return ("used" if state in ("link_opened", "code_used") else state), invitation.session.language


def open_link(ctx: Context, link: str) -> int:
    """Use the link up, once (under the invitation's row lock): the id the browser keeps to be
    asked for the code. Used, expired, locked or revoked: `InvitationClosed`."""
    if not link or len(link) > MAX_TOKEN:
        raise Denied()
    invitation = _locked_by_hash(ctx, _sha(link))
    if invitation is None:
        raise Denied()
    state = _state(invitation, ctx.now())
    if state != "waiting":
        raise closed("used" if state in ("link_opened", "code_used") else state)
    invitation.link_used_at = ctx.now()
    _event(ctx, invitation, "consent.link_opened")
    return invitation.id


def _event(ctx: Context, invitation: ConsentInvitation, action: str, **new: object) -> None:
    with ctx.session.no_autoflush:
        site = invitation.session.site.code
    audit.record(
        ctx.session, ctx.actor, action, target=invitation, site_code=site,
        new={"session": invitation.session_id, **new},
    )  # fmt: skip


def _locked_by_id(ctx: Context, invitation_id: int) -> ConsentInvitation:
    invitation = ctx.session.scalar(
        select(ConsentInvitation)
        .where(ConsentInvitation.id == invitation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if invitation is None:
        raise Denied()
    return invitation


def check_code(ctx: Context, invitation_id: int, code: str) -> str:
    """The one-time code, once: right, the browser's signer token (its hash goes on the
    session); wrong, counted and committed at once (the error page rolls back the rest), and
    the third wrong code locks the invitation."""
    typed = "".join(code[:MAX_CODE].split())
    invitation = _locked_by_id(ctx, invitation_id)
    state = _state(invitation, ctx.now())
    if state != "link_opened":
        raise closed("used" if state == "code_used" else state)
    if typed.isdigit() and hmac.compare_digest(
        _code_hash(ctx, invitation.link_token_hash, typed), invitation.code_hash
    ):
        return _accept(ctx, invitation)
    left = CODE_ATTEMPTS - _count_wrong(ctx, invitation)  # as counted here, not read again
    if left <= 0:
        raise closed("locked")
    raise WrongCode(_("This code is not right. Tries left: %(n)d.", n=left), left)


def _count_wrong(ctx: Context, invitation: ConsentInvitation) -> int:
    now = ctx.now()
    failed = ctx.session.execute(
        update(ConsentInvitation)
        .where(ConsentInvitation.id == invitation.id)
        .values(failed_codes=ConsentInvitation.failed_codes + 1)
        .returning(ConsentInvitation.failed_codes)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    ctx.session.refresh(invitation)
    _event(ctx, invitation, "consent.code_failed", failed_codes=failed)
    if failed >= CODE_ATTEMPTS:
        invitation.locked_at = now
        _event(ctx, invitation, "consent.invitation_locked", failed_codes=failed)
    ctx.session.commit()  # kept although the page answers with an error
    return int(failed)


def _accept(ctx: Context, invitation: ConsentInvitation) -> str:
    """Link and code proven: the identity evidence goes on the session's trail (the sealed copy
    carries it), and this browser gets the signer token."""
    now = ctx.now()
    cs = invitation.session
    invitation.code_used_at = now
    _event(ctx, invitation, "consent.code_accepted")
    token = secrets.token_urlsafe(32)
    cs.kiosk_token_hash = sessions.token_hash(token)
    cs.updated_at = now
    by = (
        "a second e-mail address"
        if invitation.code_channel == EMAIL
        else "a phone call (code read out by staff)"
    )
    _on_session(
        ctx, cs, "consent.identity_checked", invitation=invitation.id,
        evidence=f"single-use link sent to the parent's e-mail, one-time code by {by}",
        code_channel=invitation.code_channel, link_opened_at=invitation.link_used_at,
        code_used_at=now, ip=ctx.actor.ip, user_agent=ctx.actor.user_agent,
    )  # fmt: skip
    return token


def _on_session(ctx: Context, cs: ConsentSession, action: str, **new: object) -> None:
    audit.record(
        ctx.session, ctx.actor, action, target=cs, site_code=sessions.site_code(ctx, cs),
        new={"status": cs.status, **new},
    )  # fmt: skip


def signer_context(ctx: Context, cs: ConsentSession) -> Context:
    """The same unit of work acted by the remote signer of `cs` (no account)."""
    actor = Actor(
        user=None, ip=ctx.actor.ip, user_agent=ctx.actor.user_agent,
        label=f"{sessions.REMOTE_SIGNER}{cs.id}",
    )  # fmt: skip
    return ctx.acting_as(actor)


def signer_session(ctx: Context, token: str) -> ConsentSession:
    """The remote session whose signer token this browser holds, while its invitation is
    live (code proven, neither revoked nor locked nor expired)."""
    if not token or len(token) > MAX_TOKEN:
        raise Denied()
    cs = ctx.session.scalar(
        select(ConsentSession).where(
            ConsentSession.kiosk_token_hash == sessions.token_hash(token),
            ConsentSession.mode == "remote",
        )
    )
    invitation = _of(ctx, cs) if cs is not None else None
    if cs is None or invitation is None or _state(invitation, ctx.now()) != "code_used":
        raise Denied()
    return cs


def _of(ctx: Context, cs: ConsentSession) -> ConsentInvitation | None:
    return ctx.session.scalar(
        select(ConsentInvitation).where(ConsentInvitation.session_id == cs.id)
    )


def for_session(ctx: Context, cs: ConsentSession) -> InvitationState | None:
    """The session's invitation as its site's staff see it (None: a clinic session)."""
    ctx.require(Permission.CONSENT_RUN, cs.site_id)
    invitation = _of(ctx, cs) if cs.mode == "remote" else None
    if invitation is None:
        return None
    state = _state(invitation, ctx.now())
    return InvitationState(
        state=state, code_channel=invitation.code_channel, expires_at=invitation.expires_at,
        failed_codes=invitation.failed_codes, link_used_at=invitation.link_used_at,
        code_used_at=invitation.code_used_at, copy_sent_at=invitation.copy_sent_at,
        may_revoke=state not in ("revoked",) and cs.status in sessions.OPEN,
    )  # fmt: skip


def revoke(ctx: Context, cs: ConsentSession) -> None:
    """Staff withdraw the invitation: link, code and the signer's browser stop working."""
    ctx.require(Permission.CONSENT_RUN, cs.site_id)
    sessions.lock(ctx, cs)
    invitation = _of(ctx, cs) if cs.mode == "remote" else None
    if invitation is None:
        raise Denied()
    invitation = _locked_by_id(ctx, invitation.id)
    if invitation.revoked_at is not None or cs.status not in sessions.OPEN:
        raise Conflict(_("This invitation can no longer be withdrawn."))
    invitation.revoked_at = ctx.now()
    _event(ctx, invitation, "consent.invitation_revoked")
    cs.kiosk_token_hash = None
    _on_session(ctx, cs, "consent.invitation_revoked", invitation=invitation.id)


def send_copy(ctx: Context, cs: ConsentSession, copy: ConsentCopy) -> None:
    """E-mail the sealed copy to the parent who signed remotely (in the language they read),
    when the countersignature commits; an audited identity read finds their address."""
    invitation = _of(ctx, cs) if cs.mode == "remote" else None
    if invitation is None or cs.status != Status.ACTIVE.value:
        return
    guardian = _guardian(ctx, cs.subject, invitation.guardian_index, "consent_copy")
    settings = ctx.config
    mail.send_after_commit(
        ctx.session,
        mail.render_to(
            settings, (guardian.name, guardian.email), cs.language,
            "mail/remote_copy.txt",
            {"name": guardian.name, "site": cs.site.name, "study": cs.subject.study.title},
            announce=True,
            attachments=(mail.Attachment(copy.filename, pdf.decrypt_copy(copy.ciphertext)),),
        ),
    )  # fmt: skip
    invitation.copy_sent_at = ctx.now()
    _event(ctx, invitation, "consent.copy_sent", filename=copy.filename)
