"""CRF data: event occurrences, form records (one per subject × occurrence × form) and items."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from edc.models.base import Base, UTCDateTime, utcnow
from edc.models.definitions import FormVersion
from edc.models.subjects import Subject


class EventOccurrence(Base):
    """One happening of a study event for a subject (the 2nd response assessment, …).

    `number` is the visit's identity (`response/3`) for life. An occurrence added by mistake,
    before any of its forms was saved, is marked removed rather than deleted, so that its number
    is never given again to another visit.
    """

    __tablename__ = "event_occurrence"
    __table_args__ = (UniqueConstraint("subject_id", "event_id", "number"),)
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    #: As the site's staff gave it when adding the occurrence (in the site's own calendar).
    visit_date: Mapped[date | None] = mapped_column(Date)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    removal_reason: Mapped[str | None] = mapped_column(Text)

    subject: Mapped[Subject] = relationship()


class FormRecord(Base):
    """One form filled for one occurrence; `row_version` refuses saves made on stale data."""

    __tablename__ = "form_record"
    __table_args__ = (UniqueConstraint("occurrence_id", "form_id"),)
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("event_occurrence.id"), index=True)
    form_id: Mapped[str] = mapped_column(String(64))
    form_version_id: Mapped[int] = mapped_column(ForeignKey("form_version.id"))
    #: Set by the save as `edc.lifecycle` says (its statuses, steps and read-only states).
    status: Mapped[str] = mapped_column(String(16))
    row_version: Mapped[int] = mapped_column(Integer, default=1)
    #: The id the next new row of a repeating section gets: row ids are never reused, so an
    #: item's history is always one real row's (see services/repeat_rows.py).
    next_row: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    subject: Mapped[Subject] = relationship()
    occurrence: Mapped[EventOccurrence] = relationship()
    form_version: Mapped[FormVersion] = relationship()
    items: Mapped[list[ItemValue]] = relationship(
        back_populates="record", order_by="ItemValue.path"
    )


class ItemValue(Base):
    """The current value of one item; its history is the audit trail (one event per change).

    `path` is the field id, or `group-<row id>-field` inside a repeating section: the row's id is
    its identity for life, never its position, so removing a row touches no other row.
    `value` is JSON: text, a number as text (exact decimals), ISO dates, lists of codes, or null.
    """

    __tablename__ = "item_value"
    __table_args__ = (UniqueConstraint("record_id", "path"),)
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("form_record.id"), index=True)
    path: Mapped[str] = mapped_column(String(200))
    value: Mapped[object | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    record: Mapped[FormRecord] = relationship(back_populates="items")
