"""Subjects (pseudonymous) and their identity vault (encrypted, never exported)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from edc.models.base import Base, UTCDateTime, utcnow
from edc.models.studies import Site, Study


class Subject(Base):
    """A child in the study, known outside the site only by `study_code` (e.g. NB-FR01-0007)."""

    __tablename__ = "subject"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    study_code: Mapped[str] = mapped_column(String(32), unique=True)
    number: Mapped[int] = mapped_column(Integer)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: Where the child stands in the study (edc.services.subject_status): the date is the site's
    #: own date the status began (the registration date while registered); changes never delete.
    status: Mapped[str] = mapped_column(
        String(24), default="registered", server_default="registered"
    )
    status_date: Mapped[date] = mapped_column(Date)
    status_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    site: Mapped[Site] = relationship()
    study: Mapped[Study] = relationship()
    identity: Mapped[SubjectIdentity] = relationship(back_populates="subject", uselist=False)


class SubjectIdentity(Base):
    """The direct identifiers of one subject, as one encrypted, authenticated blob."""

    __tablename__ = "subject_identity"
    __audited__ = True

    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), primary_key=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Blind indexes (keyed HMACs, edc.crypto.blind_index) of the normalised names with the birth
    #: date, and of the hospital number: a duplicate is found without decrypting the vault.
    name_index: Mapped[str | None] = mapped_column(String(64), index=True)
    hospital_number_index: Mapped[str | None] = mapped_column(String(64), index=True)
    #: Search indexes (edc.services.patient_search): family name alone, family and given names,
    #: birth date alone; each a keyed HMAC of the normalised value, never the value.
    family_name_index: Mapped[str | None] = mapped_column(String(64), index=True)
    full_name_index: Mapped[str | None] = mapped_column(String(64), index=True)
    birth_date_index: Mapped[str | None] = mapped_column(String(64), index=True)

    subject: Mapped[Subject] = relationship(back_populates="identity")


class IdentityRevision(Base):
    """An identity as it was before a correction, still encrypted: old values are kept, as for
    CRF items, but never in the audit trail in clear (the audit event names the fields)."""

    __tablename__ = "identity_revision"
    __table_args__ = (UniqueConstraint("subject_id", "revision"),)
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reason: Mapped[str] = mapped_column(Text)


class SubjectStatusChange(Base):
    """One change of a subject's status, kept for good: the subject page shows them all."""

    __tablename__ = "subject_status_change"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    old_status: Mapped[str] = mapped_column(String(24))
    new_status: Mapped[str] = mapped_column(String(24))
    status_date: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class SiteCounter(Base):
    """The last subject number given at a site: locked while numbering, so numbers never clash."""

    __tablename__ = "site_counter"

    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)
