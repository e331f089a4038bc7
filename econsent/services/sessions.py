"""Consent sessions: staff prepare one for a subject, hand the tablet over, take it back.

The document, version, band and who must sign come from the study's consent library and the
country rule in force on the site's date; the child's age from the identity vault. Only versions
approved for the site on that date can be used (site activation). A session is reached by site
staff only (CONSENT_RUN at the subject's site), through its id or, on the tablet, its kiosk
token: never another subject's session."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from econsent import rules_record
from econsent.documents import (
    ConsentLibrary,
    CountryRule,
    Pick,
    RenderedText,
    age_on,
    render_text,
)
from econsent.library import library_for
from econsent.models import (
    Blocked,
    ConsentSession,
    IdentityDocument,
    Role,
    Status,
)
from edc import audit
from edc.access import Permission
from edc.context import Context
from edc.errors import Conflict, Denied, Invalid
from edc.i18n import _
from edc.models.subjects import Subject
from edc.services import auth, subjects

#: Statuses in which signers may still sign on the tablet.
OPEN = frozenset({Status.PREPARED.value, Status.IN_PROGRESS.value})
#: What one witness condition asks of staff at preparation.
CANNOT_READ = "signer_cannot_read"
#: A remote session: no document is seen; the invitation's link and code are the evidence.
REMOTE_EVIDENCE = "remote_link_and_code"
#: The label of the actor signing remotely (no account), followed by its session's id.
REMOTE_SIGNER = "remote-signer:"


@dataclass(frozen=True)
class Preparation:
    """What staff choose before handing the tablet over."""

    language: str
    identity_document: str
    parent_exception: str = ""
    signer_cannot_read: bool = False
    mode: str = "clinic"  # or "remote" (econsent.services.invitations)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _library(subject: Subject) -> ConsentLibrary:
    library = library_for(subject.study.slug)
    if library is None:
        raise Invalid(_("This study has no consent documents."))
    return library


def library_languages(subject: Subject) -> tuple[str, ...]:
    """The languages the study's consent texts are written in (none: no consent documents)."""
    library = library_for(subject.study.slug)
    return library.languages if library is not None else ()


def library_of(cs: ConsentSession) -> ConsentLibrary:
    return _library(cs.subject)


def _age(ctx: Context, subject: Subject) -> int:
    identity = subjects.read_identity(ctx, subject, purpose="consent")
    if identity is None or identity.date_of_birth is None:
        raise Invalid(_("The date of birth is needed to choose the consent text."))
    return age_on(identity.date_of_birth, subjects.site_today(subject.site, ctx.now()))


def _picks(
    ctx: Context, subject: Subject, library: ConsentLibrary, age: int
) -> tuple[Pick, Pick | None]:
    site = subject.site
    today = subjects.site_today(site, ctx.now())
    rule = library.rules.rule_for(site.country, site.code, today)
    if rule is None:
        raise Invalid(_("No consent rule applies to this site's country."))
    audience = "adult" if age >= rule.age_of_majority else "parent"
    main = library.pick(site.country, site.code, today, audience)
    if main is None:
        raise Invalid(_("No consent version is approved for this site today."))
    if audience == "adult" or rule.band_for(age) is None:
        return main, None
    child = library.pick(site.country, site.code, today, "child", age)
    if child is None:
        raise Invalid(_("No assent text for this child's age is approved for this site today."))
    return main, child


def _check_remote(rule: CountryRule, audience: str, prep: Preparation) -> None:
    """Remote consent only where the country's rule allows it, and for one parent: a witness
    and a second parent cannot be checked at a distance."""
    if not rule.remote_allowed:
        raise Invalid(_("Remote consent is not allowed in this country."))
    if audience != "parent" or prep.signer_cannot_read:
        raise Invalid(_("Remote consent is for one parent who can read: use the tablet."))
    if rule.parents_required >= 2 and not prep.parent_exception:
        raise Invalid(_("Two parents must sign here: use the tablet in clinic."))


def _check_choices(rule: CountryRule, audience: str, prep: Preparation) -> None:
    if prep.mode == "remote":
        _check_remote(rule, audience, prep)
    elif prep.identity_document not in {d.value for d in IdentityDocument}:
        raise Invalid(_("Choose the kind of identity document you saw."))
    if prep.parent_exception and (
        audience != "parent"
        or rule.parents_required < 2
        or prep.parent_exception not in rule.parent_exceptions
    ):
        raise Invalid(_("This reason for one parent is not allowed here."))
    if prep.signer_cannot_read and CANNOT_READ not in rule.witness_when:
        raise Invalid(_("The rules of this country name no witness for this case."))


def prepare(ctx: Context, subject: Subject, prep: Preparation) -> ConsentSession:
    """A new session for the subject, with the text and signers the rules choose."""
    ctx.require(Permission.CONSENT_RUN, subject.site_id)
    library = _library(subject)
    if prep.language not in library.languages:
        raise Invalid(_("The consent is not available in this language."))
    rules_record.record_if_new(ctx, subject.study.slug, library)  # the rules this runs under
    age = _age(ctx, subject)
    main, child = _picks(ctx, subject, library, age)
    _check_choices(main.rule, main.document.audience, prep)
    text = render_text(main.document, main.version, prep.language)
    now = ctx.now()
    cs = ConsentSession(
        subject_id=subject.id, site_id=subject.site_id, document=main.document.id,
        version=main.version.number, approval_reference=main.approval.reference,
        language=prep.language, text_hash=text.hash, audience=main.document.audience,
        child_document=child.document.id if child else "",
        child_band=(child.band or "") if child else "",
        child_mode=_mode(main.rule, age) if child else "", child_age=age if child else None,
        rule_place=main.rule.place, rule_effective=main.rule.effective.isoformat(),
        parents_required=main.rule.parents_required if main.document.audience == "parent" else 0,
        parent_exception=prep.parent_exception, witness_required=prep.signer_cannot_read,
        identity_document=REMOTE_EVIDENCE if prep.mode == "remote" else prep.identity_document,
        status=Status.PREPARED.value, mode=prep.mode,
        created_by_id=ctx.actor.user_id, created_at=now, updated_at=now,
    )  # fmt: skip
    cs.subject = subject
    ctx.session.add(cs)
    audit.record(
        ctx.session, ctx.actor, "consent.session_prepared", target=cs,
        site_code=subject.site.code,
        new={"subject": subject.study_code, "document": cs.document, "version": cs.version,
             "language": cs.language, "band": cs.child_band, "rule": cs.rule_place,
             "identity_document": cs.identity_document, "signers": required_roles(cs),
             "parent_exception": cs.parent_exception, "mode": cs.mode},
    )  # fmt: skip
    ctx.session.flush()
    return cs


def _mode(rule: CountryRule, age: int) -> str:
    band = rule.band_for(age)
    return band.mode if band else ""


def required_roles(cs: ConsentSession) -> list[str]:
    """Who signs on the tablet, in order (the investigator countersigns afterwards)."""
    if cs.audience == "adult":
        roles = [Role.ADULT.value]
    else:
        roles = [Role.PARENT_1.value]
        if cs.parents_required >= 2 and not cs.parent_exception:
            roles.append(Role.PARENT_2.value)
        if cs.child_band:
            roles.append(Role.CHILD.value)
    if cs.witness_required:
        roles.append(Role.WITNESS.value)
    return roles


def next_signer(cs: ConsentSession) -> str | None:
    """The first signer still to sign, or None when every one has."""
    done = {s.role for s in cs.signatures}
    return next((role for role in required_roles(cs) if role not in done), None)


def lock(ctx: Context, cs: ConsentSession) -> None:
    """Take the session's row lock (PostgreSQL) and read it afresh, signatures included: two
    taps on the same button, or two tablets, take turns, and the second sees what the first
    did (its turn is over, or the consent is countersigned) instead of doing it again."""
    ctx.session.flush()  # what this unit of work changed is kept, not read over
    ctx.session.refresh(cs, with_for_update=True)
    ctx.session.expire(cs, ["signatures"])


def titles(cs: ConsentSession, language: str) -> tuple[str, str]:
    """The titles of the session's document and of the child's text, for staff reading in
    `language` (else in the signers' language): people read titles, not document ids."""
    library = library_of(cs)

    def title(document_id: str) -> str:
        document = library.documents.get(document_id)
        if document is None:
            return document_id
        return document.title.get(language) or document.title.get(cs.language) or document_id

    return title(cs.document), title(cs.child_document) if cs.child_document else ""


def text_for(cs: ConsentSession, role: str, language: str | None = None) -> RenderedText:
    """What `role` reads: the child's band text for the child, the main text otherwise."""
    library = library_of(cs)
    language = language or cs.language
    if role == Role.CHILD.value:
        document = library.documents[cs.child_document]
        return render_text(document, document.version(cs.version), language, cs.child_band)
    document = library.documents[cs.document]
    return render_text(document, document.version(cs.version), language)


def correct_answers(cs: ConsentSession, role: str) -> dict[str, str]:
    library = library_of(cs)
    if role == Role.CHILD.value:
        reading = library.documents[cs.child_document].version(cs.version).reading(cs.child_band)
    else:
        reading = library.documents[cs.document].version(cs.version).reading(None)
    return {q.id: q.correct for q in reading.questions}


def find_session(ctx: Context, session_id: int) -> ConsentSession:
    """A session of a subject at a site where the actor runs consents (else: not found)."""
    cs = ctx.session.get(ConsentSession, session_id)
    if cs is None or not ctx.holds(Permission.CONSENT_RUN, cs.site_id):
        raise Denied()
    return cs


def sessions_for(ctx: Context, subject: Subject) -> list[ConsentSession]:
    ctx.require(Permission.CONSENT_RUN, subject.site_id)
    return list(
        ctx.session.scalars(
            select(ConsentSession)
            .where(ConsentSession.subject_id == subject.id)
            .order_by(ConsentSession.id.desc())
        )
    )


def kiosk_session(ctx: Context, token: str) -> ConsentSession:
    """The session handed over with `token` (staff of its site only)."""
    if not token or len(token) > 128:
        raise Denied()
    cs = ctx.session.scalar(
        select(ConsentSession).where(ConsentSession.kiosk_token_hash == token_hash(token))
    )
    if cs is None or cs.mode != "clinic" or not ctx.holds(Permission.CONSENT_RUN, cs.site_id):
        raise Denied()
    return cs


def require_signer(ctx: Context, cs: ConsentSession) -> None:
    """Who may act as the signers: staff of the site on the tablet in clinic; for a remote
    session, only the signer whose browser proved the invitation's link and code (the remote
    pages act as `REMOTE_SIGNER` + the session's id once they found it by its token)."""
    if cs.mode == "remote":
        if ctx.actor.user is not None or ctx.actor.label != f"{REMOTE_SIGNER}{cs.id}":
            raise Denied()
        return
    ctx.require(Permission.CONSENT_RUN, cs.site_id)


def site_code(ctx: Context, cs: ConsentSession) -> str:
    """The session's site code for its audit events, read without flushing the changes that
    event is about to cover."""
    with ctx.session.no_autoflush:
        return cs.site.code


def kiosk_live(ctx: Context, token: str) -> bool:
    """Whether `token` still opens a session this actor may run (the kiosk is still on)."""
    try:
        kiosk_session(ctx, token)
    except Denied:
        return False
    return True


def _status(ctx: Context, cs: ConsentSession, action: str, **new: object) -> None:
    cs.updated_at = ctx.now()
    audit.record(
        ctx.session, ctx.actor, action, target=cs, site_code=site_code(ctx, cs),
        new={"status": cs.status, **new},
    )  # fmt: skip


def hand_over(ctx: Context, cs: ConsentSession) -> str:
    """Start kiosk mode for the session: a new token, which only this tablet's browser holds."""
    ctx.require(Permission.CONSENT_RUN, cs.site_id)
    if cs.status not in OPEN or cs.mode != "clinic":
        raise Conflict(_("This consent cannot be signed any more."))
    token = secrets.token_urlsafe(32)
    cs.kiosk_token_hash = token_hash(token)
    _status(ctx, cs, "consent.kiosk_started")
    return token


def leave_kiosk(ctx: Context, cs: ConsentSession, password: str, code: str) -> None:
    """Staff take the tablet back: their password and a new TOTP code (a replay is refused)."""
    reauthenticate(ctx, password, code)
    cs.kiosk_token_hash = None
    _status(ctx, cs, "consent.kiosk_left")


class CredentialsRefused(Invalid):
    """Wrong password or code, a replayed code, or too many attempts."""


def reauthenticate(ctx: Context, password: str, code: str) -> None:
    """The acting staff member proves it is still them: password, then a TOTP code (recovery
    codes are not accepted here). Failures count towards the sign-in lockout."""
    user = ctx.actor.user
    if user is None:
        raise Denied()
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        raise CredentialsRefused(_("Enter the 6-digit code from your app."))
    try:
        auth.check_current_password(ctx, user, password[:1024], ctx.now())
        auth.check_second_factor(ctx, user, code, ctx.now())
    except auth.LoginRefusedError as refused:
        raise CredentialsRefused(refused.message) from None


def choose_language(ctx: Context, cs: ConsentSession, language: str) -> None:
    """The signer's language: the text (and its hash) shown from now on."""
    if language not in library_of(cs).languages:
        raise Invalid(_("The consent is not available in this language."))
    if language == cs.language:
        return
    cs.language = language
    cs.text_hash = text_for(cs, Role.PARENT_1.value, language).hash
    _status(ctx, cs, "consent.language_chosen", language=language)


def block(ctx: Context, cs: ConsentSession, reason: Blocked, **details: object) -> None:
    cs.status, cs.blocked_reason = Status.BLOCKED.value, reason.value
    _status(ctx, cs, "consent.blocked", reason=reason.value, **details)


def resume(ctx: Context, cs: ConsentSession) -> None:
    """Staff explained again after a wrong answer: the signer may go on. A child's refusal is
    never lifted (no parental override): a new session is needed, when the child agrees."""
    ctx.require(Permission.CONSENT_RUN, cs.site_id)
    if cs.status != Status.BLOCKED.value or cs.blocked_reason != Blocked.WRONG_ANSWER.value:
        raise Conflict(_("This consent cannot go on."))
    cs.status = Status.IN_PROGRESS.value if cs.signatures else Status.PREPARED.value
    cs.blocked_reason = ""
    _status(ctx, cs, "consent.resumed")
