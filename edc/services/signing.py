"""Investigators' electronic signatures of a form record, a visit or a whole casebook
(21 CFR 11.50, 11.70, 11.100, 11.200; checklist 14-19).

A signature needs the password and a fresh TOTP code every time (a replayed code is refused,
failures count towards the sign-in lockout), the signer's one-time certification that it is
the legal equivalent of their handwritten signature, and a meaning chosen from `MEANINGS`. It
stores the SHA-256 of a canonical JSON of exactly the data signed (`data_hash`), so that it
stays linked to those data: a change invalidates it (`invalidate_for_change`, called by the
save), and a page re-checks the hash (`still_valid`) so a change that bypassed the hook shows
too. Signatures are never deleted nor moved: an invalidated one stays, struck through.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select

import forms_dsl
from edc import access, audit, lifecycle
from edc.access import Permission
from edc.context import Context
from edc.errors import Conflict, Denied, Invalid, NotFound
from edc.i18n import _, _l
from edc.models.crf import EventOccurrence, FormRecord, ItemValue
from edc.models.definitions import FormVersion
from edc.models.monitoring import ESignature, SignatureCertification
from edc.models.subjects import Subject
from edc.services import auth, locks
from edc.services.definitions import study_model


class Level(enum.StrEnum):
    """What one signature covers."""

    FORM = "form"
    EVENT = "event"
    CASEBOOK = "casebook"


class Meaning(enum.StrEnum):
    """Why the investigator signs (11.50(a)(3)); stored as the code, shown as the label."""

    APPROVE = "approve"
    REVIEW = "review"
    AUTHOR = "author"


MEANINGS: dict[str, Any] = {
    Meaning.APPROVE: _l("I approve these data"),
    Meaning.REVIEW: _l("I have reviewed these data"),
    Meaning.AUTHOR: _l("I am the author of these data"),
}

#: The certification (11.100(c)) accepted once, before a user's first signature; stored in the
#: words the signer read.
STATEMENT = _l(
    "I certify that my electronic signature is the legally binding equivalent of my "
    "handwritten signature."
)


def utc_stamp(moment: datetime) -> str:
    """A signature's time as its manifestation shows it, whatever the reader's zone: the date
    and time in UTC with the offset, e.g. `2026-12-04 10:15:03 UTC+00:00`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC+00:00")


# --- The data a signature binds ---------------------------------------------------------------


@dataclass
class SignedRecord:
    """One record as a signature sees it: where it is, its form version, status and items."""

    record_id: int
    occurrence_id: int
    event_id: str
    number: int
    form_id: str
    version: int
    status: str
    items: dict[str, Any] = field(default_factory=dict)


def _read_records(
    ctx: Context,
    subject: Subject,
    occurrence_id: int | None = None,
    record_id: int | None = None,
    *,
    lock: bool = False,
) -> list[SignedRecord]:
    """The subject's records (of one occurrence, or one record) with their items: one query.
    With `lock`, a save of them waits until the signature is committed (PostgreSQL)."""
    query = (
        select(
            FormRecord.id,
            FormRecord.occurrence_id,
            EventOccurrence.event_id,
            EventOccurrence.number,
            FormRecord.form_id,
            FormVersion.version,
            FormRecord.status,
            ItemValue.path,
            ItemValue.value,
        )
        .select_from(FormRecord)
        .join(EventOccurrence, EventOccurrence.id == FormRecord.occurrence_id)
        .join(FormVersion, FormVersion.id == FormRecord.form_version_id)
        .outerjoin(ItemValue, ItemValue.record_id == FormRecord.id)
        .where(FormRecord.subject_id == subject.id, EventOccurrence.removed_at.is_(None))
        .order_by(FormRecord.id, ItemValue.path)
    )
    if occurrence_id is not None:
        query = query.where(FormRecord.occurrence_id == occurrence_id)
    if record_id is not None:
        query = query.where(FormRecord.id == record_id)
    if lock:
        query = query.with_for_update(read=True, of=FormRecord)
    found: dict[int, SignedRecord] = {}
    for rid, oid, event_id, number, form_id, version, status, path, value in ctx.session.execute(
        query
    ):
        record = found.setdefault(
            rid, SignedRecord(rid, oid, event_id, number, form_id, version, status)
        )
        if path is not None:
            record.items[path] = value
    return sorted(found.values(), key=lambda r: (r.event_id, r.number, r.form_id))


def _covered(records: Sequence[SignedRecord], level: str, occurrence_id: int | None,
             record_id: int | None) -> list[SignedRecord]:  # fmt: skip
    """The records a signature at `level` covers, of all the subject's records."""
    if level == Level.FORM:
        return [r for r in records if r.record_id == record_id]
    if level == Level.EVENT:
        return [r for r in records if r.occurrence_id == occurrence_id]
    return list(records)


def _hash(subject: Subject, records: Sequence[SignedRecord]) -> str:
    """SHA-256 of the canonical JSON of the records: per record the subject's code, the event,
    the occurrence number, the form, its version and every item's key and stored value; keys
    sorted, no spaces, UTF-8. Statuses are not data: verifying a record keeps the hash."""
    canonical = [
        {
            "subject": subject.study_code,
            "event": r.event_id,
            "occurrence": r.number,
            "form": r.form_id,
            "version": r.version,
            "items": r.items,
        }
        for r in sorted(records, key=lambda r: (r.event_id, r.number, r.form_id))
    ]
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def data_hash(
    ctx: Context, subject: Subject, occurrence_id: int | None = None, record_id: int | None = None
) -> str:
    """The hash of the data a signature of the subject's casebook, of one occurrence (all its
    records) or of one record covers, as they are stored now."""
    ctx.require(Permission.SUBJECT_VIEW, subject.site_id)
    return _hash(subject, _read_records(ctx, subject, occurrence_id, record_id))


def still_valid(ctx: Context, signature: ESignature) -> bool:
    """Whether the signature holds: not invalidated, and the data it covers are still exactly
    those it signed (a change that missed `invalidate_for_change` shows here too)."""
    if signature.invalidated_at is not None:
        return False
    subject = ctx.session.get(Subject, signature.subject_id)
    if subject is None:
        return False
    occurrence = signature.occurrence_id if signature.level != Level.CASEBOOK else None
    record = signature.record_id if signature.level == Level.FORM else None
    return data_hash(ctx, subject, occurrence, record) == signature.data_hash


# --- What is to be signed ---------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What the investigator is about to sign: a subject's casebook, one visit, or one form."""

    subject: Subject
    level: Level
    study: forms_dsl.Study
    event: forms_dsl.Event | None = None
    number: int | None = None
    occurrence: EventOccurrence | None = None
    form_id: str | None = None
    record: FormRecord | None = None

    @property
    def occurrence_id(self) -> int | None:
        return self.occurrence.id if self.occurrence is not None else None

    @property
    def record_id(self) -> int | None:
        return self.record.id if self.record is not None else None


def may_sign(ctx: Context, subject: Subject) -> bool:
    """Whether the actor signs at the subject's site (investigators at their own sites)."""
    return ctx.holds(Permission.CASEBOOK_SIGN, subject.site_id)


def target(
    ctx: Context,
    subject: Subject,
    event_id: str | None = None,
    number: int | None = None,
    form_id: str | None = None,
) -> Target:
    """The casebook (no event), a visit (event and number) or a form of a visit, for the one
    who may sign at the subject's site; NotFound for an event or form the study lacks."""
    if not may_sign(ctx, subject):
        raise Denied()
    study = study_model(ctx.session, subject.study_id)
    if study is None:
        raise NotFound()
    if event_id is None:
        return Target(subject, Level.CASEBOOK, study)
    event = next((e for e in study.events if e.id == event_id), None)
    number = number or 0
    if event is None or number < 1 or (number > 1 and not event.repeating):
        raise NotFound()
    if form_id is not None and form_id not in event.forms:
        raise NotFound()
    occurrence = ctx.session.scalar(
        select(EventOccurrence).where(
            EventOccurrence.subject_id == subject.id,
            EventOccurrence.event_id == event_id,
            EventOccurrence.number == number,
            EventOccurrence.removed_at.is_(None),
        )
    )
    if occurrence is None and number > 1:  # only the first visit opens with its first save
        raise NotFound()
    if form_id is None:
        return Target(subject, Level.EVENT, study, event, number, occurrence)
    record = None
    if occurrence is not None:
        record = ctx.session.scalar(
            select(FormRecord).where(
                FormRecord.occurrence_id == occurrence.id, FormRecord.form_id == form_id
            )
        )
    return Target(subject, Level.FORM, study, event, number, occurrence, form_id, record)


@dataclass(frozen=True)
class Covered:
    """A record the signature would cover, as the signing page lists it."""

    record: SignedRecord
    event_label: str
    form_title: str
    repeating: bool

    @property
    def signable(self) -> bool:
        return lifecycle.status_of(self.record.status) in lifecycle.SIGNABLE


@dataclass(frozen=True)
class Review:
    """What the signing page shows before the investigator signs."""

    target: Target
    records: list[Covered]
    needs_certification: bool
    signatures: list[Shown]

    @property
    def refusal(self) -> str:
        """Why these data cannot be signed now, "" when they can."""
        return _refusal(self.records)


def _records_of(ctx: Context, t: Target, *, lock: bool = False) -> list[SignedRecord]:
    if t.level != Level.CASEBOOK and t.occurrence is None:
        return []
    if t.level == Level.FORM and t.record is None:
        return []
    return _read_records(ctx, t.subject, t.occurrence_id, t.record_id, lock=lock)


def _labelled(ctx: Context, t: Target, records: list[SignedRecord]) -> list[Covered]:
    lang = ctx.language
    events = {e.id: e for e in t.study.events}
    covered = []
    for r in records:
        event, form = events.get(r.event_id), t.study.forms.get(r.form_id)
        covered.append(
            Covered(
                r,
                event.label.get(lang) if event is not None else r.event_id,
                form.title.get(lang) if form is not None else r.form_id,
                event is not None and event.repeating,
            )
        )
    return covered


def _refusal(records: Sequence[Covered]) -> str:
    """Why `records` cannot be signed: none entered, or some not complete (each named)."""
    if not records:
        return _("Nothing has been entered here yet: there is nothing to sign.")
    waiting = [c for c in records if not c.signable]
    if not waiting:
        return ""
    names = ", ".join(
        f"{c.form_title} ({c.event_label}{f' #{c.record.number}' if c.repeating else ''}): "
        f"{lifecycle.label(c.record.status)}"
        for c in waiting
    )
    return _(
        "Only complete or verified forms can be signed. Not ready yet: %(forms)s.", forms=names
    )


def _certified(ctx: Context) -> bool:
    user_id = ctx.actor.user_id
    return user_id is not None and ctx.session.get(SignatureCertification, user_id) is not None


def review(ctx: Context, t: Target) -> Review:
    """What signing `t` would cover, whether it may be signed, whether the signer must first
    certify, and the signatures it already has."""
    records = _labelled(ctx, t, _records_of(ctx, t))
    record = t.record if t.level == Level.FORM else None
    if t.level == Level.FORM:
        shown = shown_for_record(ctx, t.subject, record) if record is not None else []
    else:
        shown = [s for s in shown_for_subject(ctx, t.subject) if _shown_in(s, t)]
    return Review(t, records, not _certified(ctx), shown)


def _shown_in(s: Shown, t: Target) -> bool:
    if t.level == Level.CASEBOOK:
        return s.level == Level.CASEBOOK
    return s.level == Level.EVENT and s.occurrence_id == t.occurrence_id


# --- Signing ----------------------------------------------------------------------------------


class CredentialsRefused(Invalid):
    """Wrong password or code, a replayed code, or too many attempts."""


def reauthenticate(ctx: Context, password: str, code: str) -> None:
    """The signer proves it is them, both components every time (11.200(a)): the password,
    then a fresh TOTP code (recovery codes are not accepted here). Failures count towards the
    sign-in lockout; a refusal commits its failure event (nothing else is written before)."""
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


def sign(
    ctx: Context, t: Target, *, meaning: str, password: str, code: str, certify: bool = False
) -> ESignature:
    """Sign `t` as the acting investigator: every record covered must be complete or verified
    (locked or not), the meaning one of `MEANINGS`, the certification given before the first
    signature; then the password and a fresh TOTP code. Nothing is written if any is refused."""
    subject = t.subject
    ctx.require(Permission.CASEBOOK_SIGN, subject.site_id)
    user = ctx.actor.user
    assert user is not None  # `require` refuses an actor without an account
    if meaning not in MEANINGS:
        raise Invalid(_("Choose what your signature means."))
    locks.hold_subjects(ctx, [subject.id], exclusive=True)  # a save waits, or we for it
    records = _records_of(ctx, t, lock=True)
    if problem := _refusal(_labelled(ctx, t, records)):
        raise Conflict(problem)
    certified = _certified(ctx)
    if not certified and not certify:
        raise Invalid(_("Certify that your electronic signature binds you before you sign."))
    reauthenticate(ctx, password, code)
    now, site_code = ctx.now(), subject.site.code
    role = access.acting_role(ctx.grants, Permission.CASEBOOK_SIGN, subject.site_id)
    if not certified:
        certification = SignatureCertification(
            user_id=user.id, certified_at=now, statement=str(STATEMENT)
        )
        ctx.session.add(certification)
        audit.record(
            ctx.session, ctx.actor, "signature.certified", target=certification, role=role,
            site_code=site_code, new={"statement": certification.statement, "at": now},
        )  # fmt: skip
    signature = ESignature(
        level=t.level.value, subject_id=subject.id, occurrence_id=t.occurrence_id,
        record_id=t.record_id if t.level == Level.FORM else None, signer_id=user.id,
        printed_name=user.full_name, meaning=meaning, signed_at=now,
        data_hash=_hash(subject, records),
    )  # fmt: skip
    ctx.session.add(signature)
    audit.record(
        ctx.session, ctx.actor, "signature.applied", target=signature, role=role,
        site_code=site_code, new=_applied(t, signature),
    )  # fmt: skip
    ctx.session.flush()
    return signature


def _applied(t: Target, signature: ESignature) -> dict[str, Any]:
    """What the trail keeps of a signature: level, subject, where, meaning, hash, name, time."""
    new: dict[str, Any] = {"level": signature.level, "subject": t.subject.study_code}
    if t.event is not None:
        new |= {"event": t.event.id, "number": t.number}
    if t.form_id is not None:
        new |= {"form": t.form_id, "record": t.record_id}
    return new | {
        "meaning": signature.meaning,
        "data_hash": signature.data_hash,
        "printed_name": signature.printed_name,
        "signed_at": signature.signed_at,
    }


# --- A change invalidates ---------------------------------------------------------------------


def _over(record_id: Any, occurrence_id: Any, subject_id: Any) -> ColumnElement[bool]:
    """Signatures covering a record: its own, its occurrence's and its subject's casebook
    (values, or columns of an outer query)."""
    return and_(
        ESignature.subject_id == subject_id,
        or_(
            ESignature.level == Level.CASEBOOK.value,
            and_(ESignature.level == Level.EVENT.value, ESignature.occurrence_id == occurrence_id),
            and_(ESignature.level == Level.FORM.value, ESignature.record_id == record_id),
        ),
    )


def _covering(record: FormRecord) -> ColumnElement[bool]:
    return _over(record.id, record.occurrence_id, record.subject_id)


def invalidate_for_change(ctx: Context, record: FormRecord, reason: str) -> list[ESignature]:
    """Invalidate every valid signature covering `record`, which a save is changing (11.70,
    FDA-ES III.B.2): each is kept, marked invalidated with when and why, audited. The record
    is then on the investigator's to-sign list again. The save has checked its own access."""
    now = ctx.now()
    found = list(
        ctx.session.scalars(
            select(ESignature)
            .where(_covering(record), ESignature.invalidated_at.is_(None))
            .order_by(ESignature.id)
            .with_for_update()
        )
    )
    subject = ctx.session.get(Subject, record.subject_id)
    site_code = subject.site.code if subject is not None else ""
    for signature in found:
        signature.invalidated_at = now
        signature.invalidated_reason = reason
        audit.record(
            ctx.session, ctx.actor, "signature.invalidated", target=signature,
            site_code=site_code, reason=reason,
            new={"record": record.id, "form": record.form_id, "reason": reason},
        )  # fmt: skip
    if found:
        ctx.session.flush()
    return found


def signature_over(
    record_id: Any, occurrence_id: Any, subject_id: Any, *, valid: bool = True
) -> ColumnElement[bool]:
    """SQL: a valid (or with `valid=False`, an invalidated) signature covers the record, for
    lists that tell signed records apart in the same query (the to-sign list)."""
    state = ESignature.invalidated_at.is_(None) if valid else ESignature.invalidated_at.is_not(None)
    return exists().where(_over(record_id, occurrence_id, subject_id), state)


# --- Manifestation (11.50) --------------------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """A signature as the pages show it: printed name, UTC time, meaning, what it covers, and
    whether it still holds."""

    id: int
    level: str
    occurrence_id: int | None
    record_id: int | None
    printed_name: str
    signed_at: datetime
    meaning: str  # the label, in the reader's language
    covers: str  # "Casebook", "Visit: Baseline", "Form: Diagnosis (Baseline)"
    invalidated_at: datetime | None
    invalidated_reason: str
    #: The data no longer match the hash, though nothing marked the signature invalidated.
    stale: bool

    @property
    def valid(self) -> bool:
        return self.invalidated_at is None and not self.stale

    @property
    def stamp(self) -> str:
        return utc_stamp(self.signed_at)

    @property
    def invalidated_stamp(self) -> str:
        return utc_stamp(self.invalidated_at) if self.invalidated_at is not None else ""


def _meaning_label(code: str) -> str:
    label = MEANINGS.get(code)
    return str(label) if label is not None else code


def _covers(
    ctx: Context,
    study: forms_dsl.Study | None,
    level: str,
    where: tuple[str | None, int | None, str | None],
) -> str:
    """What a signature covers, in words: the casebook, a visit, or a form of a visit."""
    if level == Level.CASEBOOK:
        return _("Casebook")
    event_id, number, form_id = where
    lang = ctx.language
    event = next((e for e in study.events if e.id == event_id), None) if study else None
    visit = event.label.get(lang) if event is not None else str(event_id)
    if event is not None and event.repeating:
        visit = f"{visit} #{number}"
    if level == Level.EVENT:
        return _("Visit: %(visit)s", visit=visit)
    form = study.forms.get(form_id or "") if study is not None else None
    title = form.title.get(lang) if form is not None else str(form_id)
    return _("Form: %(form)s (%(visit)s)", form=title, visit=visit)


def _signatures(ctx: Context, subject: Subject, *where: ColumnElement[bool]) -> list[Shown]:
    """The subject's signatures (those matching `where`), oldest first, with what they cover
    and whether they still hold: two queries, however many there are."""
    rows = ctx.session.execute(
        select(ESignature, EventOccurrence.event_id, EventOccurrence.number, FormRecord.form_id)
        .outerjoin(EventOccurrence, EventOccurrence.id == ESignature.occurrence_id)
        .outerjoin(FormRecord, FormRecord.id == ESignature.record_id)
        .where(ESignature.subject_id == subject.id, *where)
        .order_by(ESignature.signed_at, ESignature.id)
    ).all()
    if not rows:
        return []
    live = any(s.invalidated_at is None for s, *_where in rows)
    records = _read_records(ctx, subject) if live else []
    study = study_model(ctx.session, subject.study_id)
    out = []
    for s, event_id, number, form_id in rows:
        covered = _covered(records, s.level, s.occurrence_id, s.record_id)
        out.append(
            Shown(
                s.id, s.level, s.occurrence_id, s.record_id, s.printed_name, s.signed_at,
                _meaning_label(s.meaning),
                _covers(ctx, study, s.level, (event_id, number, form_id)),
                s.invalidated_at, s.invalidated_reason or "",
                stale=s.invalidated_at is None and _hash(subject, covered) != s.data_hash,
            )
        )  # fmt: skip
    return out


def shown_for_subject(ctx: Context, subject: Subject) -> list[Shown]:
    """Every signature of the subject's casebook, its visits and its forms (the subject page)."""
    ctx.require(Permission.SUBJECT_VIEW, subject.site_id)
    return _signatures(ctx, subject)


def shown_for_record(ctx: Context, subject: Subject, record: FormRecord | None) -> list[Shown]:
    """The signatures covering one record, valid or not: its own, its visit's, the casebook's
    (the CRF page)."""
    ctx.require(Permission.SUBJECT_VIEW, subject.site_id)
    if record is None:
        return []
    return _signatures(ctx, subject, _covering(record))
