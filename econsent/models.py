"""Consent sessions in clinic, their signatures and the sealed copy.

A session is prepared by staff for one subject, one approved document version and language;
signers sign on a tablet handed over in kiosk mode; the investigator countersigns; the copy is
then sealed, stored encrypted, and the consent put in force (`edc.services.consent_scope`).
Signatures are never changed once made: a new consent is a new session."""

from __future__ import annotations

import datetime as dt
import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from edc.models.base import Base, UTCDateTime, utcnow
from edc.models.studies import Site
from edc.models.subjects import Subject


class IdentityDocument(enum.StrEnum):
    """The kind of identity document staff saw (never its number, never a copy)."""

    PASSPORT = "passport"
    NATIONAL_ID = "national_id"
    RESIDENCE_PERMIT = "residence_permit"
    DRIVING_LICENCE = "driving_licence"
    KNOWN_TO_STAFF = "known_to_staff"


class Status(enum.StrEnum):
    PREPARED = "prepared"
    IN_PROGRESS = "in_progress"
    SIGNED = "signed"  # every required signer signed
    COUNTERSIGNED = "countersigned"
    ACTIVE = "active"  # sealed, stored, and in force
    BLOCKED = "blocked"  # waiting for staff (a wrong answer) or stopped (a child's refusal)


class Blocked(enum.StrEnum):
    WRONG_ANSWER = "wrong_answer"
    CHILD_REFUSED = "child_refused"
    SIGNER_DECLINED = "signer_declined"


class Role(enum.StrEnum):
    PARENT_1 = "parent_1"
    PARENT_2 = "parent_2"
    ADULT = "adult"
    CHILD = "child_assent"
    WITNESS = "witness"
    INVESTIGATOR = "investigator"


class ConsentSession(Base):
    __tablename__ = "consent_session"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    #: The document the (adult or parent) signers read, its version and the approval used.
    document: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    approval_reference: Mapped[str] = mapped_column(String(128))
    language: Mapped[str] = mapped_column(String(8))
    text_hash: Mapped[str] = mapped_column(String(64))
    #: "parent" (a minor's parents sign) or "adult" (the patient signs).
    audience: Mapped[str] = mapped_column(String(16))
    #: The child's assent text (document and band) when the child's age falls in a band.
    child_document: Mapped[str] = mapped_column(String(64), default="", server_default="")
    child_band: Mapped[str] = mapped_column(String(32), default="", server_default="")
    child_mode: Mapped[str] = mapped_column(String(16), default="", server_default="")
    child_age: Mapped[int | None] = mapped_column(Integer)
    #: The rule applied: place and effective date, as the rule table names them.
    rule_place: Mapped[str] = mapped_column(String(16))
    rule_effective: Mapped[str] = mapped_column(String(10))
    parents_required: Mapped[int] = mapped_column(Integer, default=0)
    #: Why only one parent signs where two are required (a PARENT_EXCEPTIONS code, or "").
    parent_exception: Mapped[str] = mapped_column(String(32), default="", server_default="")
    witness_required: Mapped[bool] = mapped_column(Boolean, default=False)
    identity_document: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16), default=Status.PREPARED.value)
    blocked_reason: Mapped[str] = mapped_column(String(24), default="", server_default="")
    #: sha256 of the kiosk token the tablet's browser session holds while handed over.
    kiosk_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    countersigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    countersigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    sealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: `clinic` (a tablet handed over) or `remote` (the signer's own device, by invitation).
    mode: Mapped[str] = mapped_column(String(8), default="clinic", server_default="clinic")

    subject: Mapped[Subject] = relationship()
    site: Mapped[Site] = relationship()
    signatures: Mapped[list[ConsentSignature]] = relationship(
        back_populates="session", order_by="ConsentSignature.id"
    )


class ConsentSignature(Base):
    """One signer's signature (or a child's refusal), as the server recorded it."""

    __tablename__ = "consent_signature"
    __audited__ = True
    #: One signature per role and session: a double tap, or a second tablet, cannot sign twice.
    __table_args__ = (UniqueConstraint("session_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("consent_session.id"), index=True)
    role: Mapped[str] = mapped_column(String(24))
    relationship_to_subject: Mapped[str] = mapped_column(String(32), default="", server_default="")
    printed_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    meaning: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: "consent", "assent", "refusal", "witnessed" or "countersigned".
    decision: Mapped[str] = mapped_column(String(16))
    options: Mapped[dict[str, bool]] = mapped_column(JSON, default=dict)
    answers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    #: The drawn strokes as [[[x, y, ms], …], …] (bounded when received).
    strokes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    image_png: Mapped[bytes | None] = mapped_column(LargeBinary)
    document: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    text_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The staff account, for the investigator's countersignature (signers have none).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    session: Mapped[ConsentSession] = relationship(back_populates="signatures")


class ConsentCopy(Base):
    """The sealed PDF, encrypted with the vault's key, and the seal check made when stored."""

    __tablename__ = "consent_copy"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("consent_session.id"), unique=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    filename: Mapped[str] = mapped_column(String(128))
    validation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsentInvitation(Base):
    """A remote consent's invitation: a single-use link sent by e-mail and a one-time code sent
    apart (`code_channel`: a second e-mail address, or printed for a phone call). Only hashes
    are kept; wrong codes are counted and lock the invitation."""

    __tablename__ = "consent_invitation"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("consent_session.id"), unique=True)
    #: Which of the subject's guardians (their place in the identity vault) was invited.
    guardian_index: Mapped[int] = mapped_column(Integer, default=0)
    link_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    #: `email` (a second address) or `printed` (read out on a phone call).
    code_channel: Mapped[str] = mapped_column(String(8))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    link_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    code_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_codes: Mapped[int] = mapped_column(Integer, default=0)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    copy_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    session: Mapped[ConsentSession] = relationship()


class ReconsentTask(Base):
    """A subject who must consent again: a new version approved for all active subjects
    (`new_version`), or a child reaching the age of majority (`majority`). The consent before
    stays in force until the new one is signed or `grace_until` passes; signing closes it."""

    __tablename__ = "reconsent_task"
    __audited__ = True
    #: One task per subject, reason and document version, however often the library is read.
    __table_args__ = (UniqueConstraint("subject_id", "reason", "document", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    reason: Mapped[str] = mapped_column(String(16))
    document: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    grace_until: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_session_id: Mapped[int | None] = mapped_column(ForeignKey("consent_session.id"))
