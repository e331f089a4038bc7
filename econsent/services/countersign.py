"""The investigator's countersignature: password and a fresh TOTP code (a replayed code is
refused), a drawn signature, and, when only one parent signed where two are required, the
confirmation of the reason. It is followed at once by the seal and the consent in force, and,
for a remote consent, the signer's copy e-mailed to them."""

from __future__ import annotations

from econsent.models import ConsentCopy, ConsentSession, ConsentSignature, Role, Status
from econsent.services import invitations, sealing, sessions, signing
from edc import audit
from edc.access import Permission
from edc.context import Context
from edc.errors import Conflict, Invalid
from edc.i18n import _


def countersign(
    ctx: Context,
    cs: ConsentSession,
    *,
    password: str,
    code: str,
    signature: signing.Signing,
    confirm_exception: bool = False,
) -> ConsentCopy:
    """Countersign, seal and put in force; nothing is kept if any step is refused."""
    ctx.require(Permission.CONSENT_COUNTERSIGN, cs.site_id)
    sessions.lock(ctx, cs)  # two countersignatures at once: the second finds it done
    if cs.status != Status.SIGNED.value:
        raise Conflict(_("This consent is not ready to be countersigned."))
    if cs.parent_exception and not confirm_exception:
        raise Invalid(_("Confirm why only one parent signed."))
    name = signing.printed_name(signature.printed_name)
    picture = signing.drawn(signature.strokes_json, signature.png_data_url)
    keys = sealing.keys_for(ctx, cs)  # refused before anything else if sealing cannot happen
    sessions.reauthenticate(ctx, password, code)
    text = sessions.text_for(cs, Role.INVESTIGATOR.value)
    now = ctx.now()
    row = ConsentSignature(
        session_id=cs.id, role=Role.INVESTIGATOR.value, printed_name=name,
        meaning=str(signing.MEANINGS[Role.INVESTIGATOR.value]), decision="countersigned",
        options={}, answers={}, strokes=picture.strokes, image_png=picture.png,
        document=text.document, language=text.language, text_hash=text.hash, signed_at=now,
        user_id=ctx.actor.user_id,
    )  # fmt: skip
    cs.signatures.append(row)  # loads the others first, then adds this one
    ctx.session.add(row)
    audit.record(
        ctx.session, ctx.actor, "consent.countersigned", target=row,
        site_code=sessions.site_code(ctx, cs),
        new={"session": cs.id, "signed_at": now, "text_hash": text.hash,
             "parent_exception_confirmed": cs.parent_exception or None},
    )  # fmt: skip
    cs.status, cs.countersigned_at, cs.countersigned_by_id = (
        Status.COUNTERSIGNED.value,
        now,
        (ctx.actor.user_id),
    )
    cs.updated_at = now
    audit.record(
        ctx.session, ctx.actor, "consent.status", target=cs, site_code=sessions.site_code(ctx, cs),
        new={"status": cs.status},
    )  # fmt: skip
    ctx.session.flush()
    copy = sealing.seal_and_activate(ctx, cs, keys)
    invitations.send_copy(ctx, cs, copy)  # a remote signer gets the copy by e-mail
    return copy
