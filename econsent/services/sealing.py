"""A countersigned consent becomes the sealed copy: evidence → PDF/A → seal → check → stored
encrypted; then it is put in force for the subject (`edc.services.consent_scope`).

The copy names the signers, so it is for the site's staff only: central roles read the
consent's status, version, date and options on the subject page, never the copy."""

from __future__ import annotations

from markupsafe import Markup
from sqlalchemy import or_, select

from econsent import pdf
from econsent.models import ConsentCopy, ConsentSession, ConsentSignature, Status
from econsent.services import reconsent, sessions, signing
from edc import audit
from edc.access import Permission
from edc.context import Context
from edc.errors import Conflict, NotFound
from edc.i18n import _
from edc.models.audit import AuditEvent
from edc.services import consent_scope


class SealingUnavailable(Conflict):
    """No sealing key for the site (development: run `flask econsent keys init`)."""


def keys_for(ctx: Context, cs: ConsentSession) -> pdf.SealingKeys:
    """The site's sealing keys, or a clear refusal saying what the operator must do."""
    try:
        return pdf.sealing_keys(ctx.config, cs.site.code)
    except (pdf.SealingNotConfigured, ValueError):
        raise SealingUnavailable(
            _(
                "The consent copy cannot be sealed: no sealing key for site %(site)s. "
                "On a development machine run `flask econsent keys init`.",
                site=cs.site.code,
            )
        ) from None


def _events(ctx: Context, cs: ConsentSession) -> list[dict[str, object]]:
    signature_ids = [str(s.id) for s in cs.signatures]
    rows = ctx.session.scalars(
        select(AuditEvent)
        .where(
            or_(
                (AuditEvent.entity_type == "consent_session")
                & (AuditEvent.entity_id == str(cs.id)),
                (AuditEvent.entity_type == "consent_signature")
                & (AuditEvent.entity_id.in_(signature_ids)),
            )
        )
        .order_by(AuditEvent.seq)
    )
    return [
        {"seq": e.seq, "at": e.at, "action": e.action, "role": e.role, "new": e.new_value}
        for e in rows
    ]


def _record(signature: ConsentSignature) -> pdf.SignatureRecord:
    strokes = tuple(
        tuple((float(p[0]), float(p[1]), int(p[2])) for p in stroke) for stroke in signature.strokes
    )
    return pdf.SignatureRecord(
        role_code=signature.role,
        role_label=str(signing.ROLE_LABELS[signature.role]),
        printed_name=signature.printed_name,
        meaning=signature.meaning,
        signed_at=signature.signed_at,
        image_png=signature.image_png or b"",
        strokes=strokes,
    )


def evidence(ctx: Context, cs: ConsentSession) -> pdf.ConsentEvidence:
    text = sessions.text_for(cs, "parent_1")
    # The library's HTML (Markdown with raw HTML off): the same the signers saw and hashed.
    labels = {item.id: Markup(item.html).striptags() for item in text.options}  # noqa: S704
    return pdf.build_evidence(
        document=pdf.ConsentDocument(
            title=text.title, version=str(cs.version), approval_reference=cs.approval_reference,
            language=cs.language, text_sha256=text.hash,
        ),
        sections=[pdf.Section(s.title, Markup(s.html)) for s in text.sections],  # noqa: S704
        signatures=[_record(s) for s in cs.signatures if s.image_png],
        choices=[
            pdf.Choice(code, labels.get(code, code), given)
            for code, given in signing.granted_options(cs).items()
        ],
        site_name=cs.site.name, study_code=cs.subject.study.slug,
        subject_code=cs.subject.study_code, audit_events=_events(ctx, cs),
    )  # fmt: skip


def seal_and_activate(ctx: Context, cs: ConsentSession, keys: pdf.SealingKeys) -> ConsentCopy:
    """Seal the countersigned consent, store the copy encrypted, put the consent in force."""
    if cs.status != Status.COUNTERSIGNED.value:
        raise Conflict(_("Only a countersigned consent is sealed."))
    proof = evidence(ctx, cs)
    sealed = pdf.seal_consent(proof, keys)
    check = pdf.validate_sealed(sealed, pdf.trust_roots(ctx.config))
    now = ctx.now()
    copy = ConsentCopy(
        session_id=cs.id, ciphertext=pdf.encrypt_copy(sealed),
        filename=pdf.copy_filename(proof), validation=check.as_dict(), created_at=now,
    )  # fmt: skip
    ctx.session.add(copy)
    audit.record(
        ctx.session, ctx.actor, "consent.sealed", target=copy,
        site_code=sessions.site_code(ctx, cs),
        new={"session": cs.id, "valid": check.valid, "summary": check.summary[:200]},
    )  # fmt: skip
    cs.status, cs.sealed_at, cs.updated_at = Status.ACTIVE.value, now, now
    audit.record(
        ctx.session, ctx.actor, "consent.status", target=cs, site_code=sessions.site_code(ctx, cs),
        new={"status": cs.status},
    )  # fmt: skip
    ctx.session.flush()
    minor = reconsent.minor_rule(ctx, cs)  # a minor's consent counts until majority and grace
    until = minor[0].minor_consent_until(minor[1]) if minor else None
    consent_scope.put_in_force(
        ctx,
        cs.subject,
        consent_scope.Granted(
            reference=f"econsent:{cs.id}", document=cs.document, title=proof.document.title,
            version=str(cs.version), language=cs.language,
            options=signing.granted_options(cs), since=now, valid_until=until,
        ),
    )  # fmt: skip
    reconsent.close_for(ctx, cs)
    if minor and until:
        reconsent.open_majority(ctx, cs.subject, minor[0], until)
    return copy


def signer_copy(ctx: Context, cs: ConsentSession) -> tuple[str, bytes]:
    """The sealed copy for the signer to take (site staff hand it over; nobody else)."""
    ctx.require(Permission.CONSENT_RUN, cs.site_id)
    copy = ctx.session.scalar(select(ConsentCopy).where(ConsentCopy.session_id == cs.id))
    if copy is None:
        raise NotFound()
    audit.record(
        ctx.session, ctx.actor, "consent.copy_downloaded", entity_type="consent_session",
        entity_id=cs.id, site_code=sessions.site_code(ctx, cs),
    )  # fmt: skip
    return copy.filename, pdf.decrypt_copy(copy.ciphertext)
