"""Review of entered data: queries and their threads, source data verification and its plan,
locks, investigators' e-signatures and monitors' site visits (DESIGN §3, checklist 14–19, 23–25).

Nothing here is deleted: a closed query, a verification reset by a change, a lifted lock and an
invalidated signature all stay, so the history of the review is readable and auditable.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from edc.models.base import Base, UTCDateTime, utcnow
from edc.models.crf import EventOccurrence, FormRecord
from edc.models.studies import Site
from edc.models.subjects import Subject


class DataQuery(Base):
    """A question on an item of a record (or the whole record: `item_key` empty), asked of the
    site. `status` follows `edc.services.queries` (open → answered → closed, re-openable)."""

    __tablename__ = "data_query"
    __table_args__ = (Index("ix_data_query_site_status", "site_id", "status"),)
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("form_record.id"), index=True)
    #: The item's key in the record (`edc.item_address`), or "" for the whole form.
    item_key: Mapped[str] = mapped_column(String(200), default="", server_default="")
    status: Mapped[str] = mapped_column(String(16))
    #: `manual` (a monitor or data manager asked), or `check` (a soft check confirmed on entry).
    origin: Mapped[str] = mapped_column(String(16), default="manual", server_default="manual")
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    raised_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    site: Mapped[Site] = relationship()
    subject: Mapped[Subject] = relationship()
    record: Mapped[FormRecord] = relationship()
    messages: Mapped[list[QueryMessage]] = relationship(
        back_populates="query", order_by="QueryMessage.id"
    )


class QueryMessage(Base):
    """One message of a query's thread. An answer that changed the data carries the change and
    the audit event that recorded it (`change_seq`). Messages are only ever added, each with
    its query's audit event (`query.<kind>`, holding the text), which covers it."""

    __tablename__ = "query_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    query_id: Mapped[int] = mapped_column(ForeignKey("data_query.id"), index=True)
    #: raised, answered, closed, reopened.
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    role: Mapped[str] = mapped_column(String(64), default="", server_default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    old: Mapped[object | None] = mapped_column(JSON)
    new: Mapped[object | None] = mapped_column(JSON)
    change_seq: Mapped[int | None] = mapped_column(Integer)

    query: Mapped[DataQuery] = relationship(back_populates="messages")


class ItemVerification(Base):
    """An item verified against the source: the value seen, by whom and when. A later change of
    the item resets it (`reset_at`), which the pages show as "changed after SDV"."""

    __tablename__ = "item_verification"
    __table_args__ = (UniqueConstraint("record_id", "item_key"),)
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("form_record.id"), index=True)
    item_key: Mapped[str] = mapped_column(String(200))
    value: Mapped[object | None] = mapped_column(JSON)
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reset_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SdvPlan(Base):
    """A site's source data verification plan. Which subjects a sample holds follows from the
    seed alone (reproducible); a re-draw writes a new plan with a reason and ends this one."""

    __tablename__ = "sdv_plan"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)
    #: all, critical, sample (critical items of a random N% of subjects).
    mode: Mapped[str] = mapped_column(String(16))
    percent: Mapped[int] = mapped_column(Integer, default=100, server_default="100")
    seed: Mapped[str] = mapped_column(String(64), default="", server_default="")
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    made_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    made_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DataLock(Base):
    """A lock on a form record, a visit, a subject, a site or the whole study: everything it
    covers is read-only until it is lifted (with a reason)."""

    __tablename__ = "data_lock"
    __table_args__ = (Index("ix_data_lock_live", "study_id", "lifted_at"),)
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    #: form, event, subject, site, study.
    level: Mapped[str] = mapped_column(String(16))
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"))
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subject.id"))
    occurrence_id: Mapped[int | None] = mapped_column(ForeignKey("event_occurrence.id"))
    form_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    locked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    lift_reason: Mapped[str | None] = mapped_column(Text)

    occurrence: Mapped[EventOccurrence | None] = relationship()


class ESignature(Base):
    """An investigator's signature of a form record, a visit or the casebook: the meaning, the
    printed name and the hash of exactly the data signed. A later change invalidates it."""

    __tablename__ = "e_signature"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    #: form, event, casebook.
    level: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    occurrence_id: Mapped[int | None] = mapped_column(ForeignKey("event_occurrence.id"))
    record_id: Mapped[int | None] = mapped_column(ForeignKey("form_record.id"))
    signer_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    printed_name: Mapped[str] = mapped_column(String(200))
    meaning: Mapped[str] = mapped_column(String(32))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    data_hash: Mapped[str] = mapped_column(String(64))
    invalidated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invalidated_reason: Mapped[str | None] = mapped_column(Text)


class SignatureCertification(Base):
    """A user's certification that their electronic signature is the legal equivalent of a
    handwritten one (21 CFR 11.100(c)), given once, before their first signature."""

    __tablename__ = "signature_certification"
    __audited__ = True

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    certified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    statement: Mapped[str] = mapped_column(Text)


class MonitorVisit(Base):
    """A monitor's visit to a site (on site or remote): "changed since my last visit" counts from
    the end of the previous one."""

    __tablename__ = "monitor_visit"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    remote: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
