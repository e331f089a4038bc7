"""Signing on the tablet: comprehension answers, optional items, the drawn signature, and the
child's assent or refusal.

Everything the tablet sends is bounded before any work (strokes, image, names), and the time
of a signature is the server's. A wrong comprehension answer sends the signer back to staff
(the system never decides whether the consent is valid); a child's refusal stops the consent,
with no parental override."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from econsent.models import Blocked, ConsentSession, ConsentSignature, Role, Status
from econsent.pdf.evidence import PNG_MAGIC
from econsent.services import sessions
from edc import audit
from edc.context import Context
from edc.errors import Conflict, Invalid
from edc.i18n import _, _l

MAX_STROKES_JSON = 200 * 1024
MAX_PNG = 300 * 1024
MAX_NAME = 200
MAX_STROKES = 300
MAX_POINTS = 20_000
PNG_PREFIX = "data:image/png;base64,"

ROLE_LABELS = {
    Role.PARENT_1.value: _l("Parent or legal guardian"),
    Role.PARENT_2.value: _l("Second parent or legal guardian"),
    Role.ADULT.value: _l("Patient"),
    Role.CHILD.value: _l("Child"),
    Role.WITNESS.value: _l("Impartial witness"),
    Role.INVESTIGATOR.value: _l("Investigator"),
}
MEANINGS = {
    Role.PARENT_1.value: _l("I give consent for my child to take part."),
    Role.PARENT_2.value: _l("I give consent for my child to take part."),
    Role.ADULT.value: _l("I give my consent to take part."),
    Role.CHILD.value: _l("I agree to take part."),
    Role.WITNESS.value: _l(
        "I was present for the whole discussion and the signer freely gave consent."
    ),
    Role.INVESTIGATOR.value: _l("I explained the study and answered the questions."),
}
#: Which signers choose the optional items (the child and the witness do not).
CHOOSERS = frozenset({Role.PARENT_1.value, Role.PARENT_2.value, Role.ADULT.value})


@dataclass(frozen=True)
class Drawn:
    """A signature as drawn on the canvas, checked: strokes of (x, y, ms) and the PNG."""

    strokes: list[list[list[float]]]
    png: bytes


@dataclass(frozen=True)
class Signing:
    """What a signer sends from the signing page (raw, as posted)."""

    printed_name: str = ""
    strokes_json: str = ""
    png_data_url: str = ""
    options: Mapping[str, str] = field(default_factory=dict)
    relationship: str = ""
    refuse: bool = False  # the child says no


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("not a number")
    if not -1e6 < value < 1e6:
        raise ValueError("out of range")
    return round(float(value), 1)


def _strokes(text: str) -> list[list[list[float]]]:
    if len(text.encode("utf-8")) > MAX_STROKES_JSON:
        raise Invalid(_("The signature is too large. Clear it and sign again."))
    try:
        raw = json.loads(text or "[]")
        if not isinstance(raw, list) or not 0 < len(raw) <= MAX_STROKES:
            raise ValueError("strokes")
        strokes = []
        count = 0
        for stroke in raw:
            if not isinstance(stroke, list) or not stroke:
                raise ValueError("stroke")
            count += len(stroke)
            if count > MAX_POINTS:
                raise ValueError("points")
            strokes.append(
                [[_number(p[0]), _number(p[1]), _number(p[2])] for p in stroke if len(p) == 3]
            )
            if len(strokes[-1]) != len(stroke):
                raise ValueError("point")
    except (ValueError, TypeError, IndexError, RecursionError):  # nested arrays: recursion
        raise Invalid(_("Please sign in the box.")) from None
    return strokes


def _png(data_url: str) -> bytes:
    if not data_url.startswith(PNG_PREFIX) or len(data_url) > MAX_PNG * 4 // 3 + 64:
        raise Invalid(_("Please sign in the box."))
    try:
        png = base64.b64decode(data_url[len(PNG_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(_("Please sign in the box.")) from None
    if len(png) > MAX_PNG or not png.startswith(PNG_MAGIC):
        raise Invalid(_("Please sign in the box."))
    return png


def drawn(strokes_json: str, png_data_url: str) -> Drawn:
    """The drawn signature, or Invalid (422) for anything empty, malformed or too large."""
    return Drawn(_strokes(strokes_json), _png(png_data_url))


def printed_name(text: str) -> str:
    name = " ".join(text.split())
    if not name:
        raise Invalid(_("Type your name."))
    if len(name) > MAX_NAME or any(ord(c) < 0x20 for c in name):
        raise Invalid(_("The name is too long."))
    return name


def _open_for(ctx: Context, cs: ConsentSession, role: str) -> None:
    sessions.require_signer(ctx, cs)
    sessions.lock(ctx, cs)
    if cs.status not in sessions.OPEN:
        raise Conflict(_("This consent cannot be signed any more."))
    if sessions.next_signer(cs) != role:
        raise Conflict(_("It is someone else's turn to sign."))


def check_answers(ctx: Context, cs: ConsentSession, role: str, given: Mapping[str, str]) -> bool:
    """True when every comprehension question is answered as the text explains; otherwise the
    session waits for staff (blocked), and nothing is decided about the consent itself."""
    _open_for(ctx, cs, role)
    correct = sessions.correct_answers(cs, role)
    wrong = sorted(q for q, answer in correct.items() if given.get(q) != answer)
    if wrong:
        sessions.block(ctx, cs, Blocked.WRONG_ANSWER, role=role, questions=wrong)
        return False
    return True


def _options(cs: ConsentSession, role: str, posted: Mapping[str, str]) -> dict[str, bool]:
    if role not in CHOOSERS:
        return {}
    chosen = {}
    for item in sessions.text_for(cs, role).options:
        value = posted.get(item.id, "")
        if value not in ("yes", "no"):
            raise Invalid(_("Choose yes or no for each item."))
        chosen[item.id] = value == "yes"
    return chosen


def sign(
    ctx: Context, cs: ConsentSession, role: str, signing: Signing, answers: Mapping[str, str]
) -> ConsentSignature:
    """Record `role`'s signature (or the child's refusal) at the server's time."""
    _open_for(ctx, cs, role)
    if signing.refuse:
        if role != Role.CHILD.value:
            raise Invalid(_("Only the child's answer can be a refusal here."))
        return _refusal(ctx, cs)
    text = sessions.text_for(cs, role)
    options = _options(cs, role, signing.options)
    name = printed_name(signing.printed_name)
    picture = drawn(signing.strokes_json, signing.png_data_url)
    signature = ConsentSignature(
        session_id=cs.id, role=role, relationship_to_subject=signing.relationship[:32],
        printed_name=name, meaning=str(MEANINGS[role]),
        decision="assent" if role == Role.CHILD.value else "consent",
        options=options, answers=dict(answers), strokes=picture.strokes, image_png=picture.png,
        document=text.document, language=text.language, text_hash=text.hash,
        signed_at=ctx.now(),
    )  # fmt: skip
    return _store(ctx, cs, signature, "consent.signed")


def _refusal(ctx: Context, cs: ConsentSession) -> ConsentSignature:
    text = sessions.text_for(cs, Role.CHILD.value)
    signature = ConsentSignature(
        session_id=cs.id, role=Role.CHILD.value, decision="refusal", options={}, answers={},
        strokes=[], image_png=None, document=text.document, language=text.language,
        text_hash=text.hash, signed_at=ctx.now(),
    )  # fmt: skip
    _store(ctx, cs, signature, "consent.refused")
    sessions.block(ctx, cs, Blocked.CHILD_REFUSED)
    return signature


def _store(
    ctx: Context, cs: ConsentSession, signature: ConsentSignature, action: str
) -> ConsentSignature:
    cs.signatures.append(signature)  # loads the others first, then adds this one
    ctx.session.add(signature)
    audit.record(
        ctx.session, ctx.actor, action, target=signature, site_code=sessions.site_code(ctx, cs),
        new={"session": cs.id, "role": signature.role, "decision": signature.decision,
             "options": signature.options, "document": signature.document,
             "language": signature.language, "text_hash": signature.text_hash,
             "signed_at": signature.signed_at},
    )  # fmt: skip
    if signature.decision != "refusal":
        done = sessions.next_signer(cs) is None
        cs.status = Status.SIGNED.value if done else Status.IN_PROGRESS.value
        cs.updated_at = ctx.now()
        audit.record(
            ctx.session, ctx.actor, "consent.status", target=cs,
            site_code=sessions.site_code(ctx, cs),
            new={"status": cs.status},
        )  # fmt: skip
    ctx.session.flush()
    return signature


def granted_options(cs: ConsentSession) -> dict[str, bool]:
    """An optional item is granted only if every signer who chooses granted it."""
    choices = [s.options for s in cs.signatures if s.role in CHOOSERS]
    items = sorted({item for options in choices for item in options})
    return {item: bool(choices) and all(o.get(item) is True for o in choices) for item in items}
