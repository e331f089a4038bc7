"""In-app notices: a message for one user about one subject (e.g. a risk group that changed).

Not an audited model: a notice is no clinical data and no decision, only a pointer to one. What
changed, who changed it and why is in the audit trail already (the item events and their cause);
the notice keeps when it was sent and when its reader dismissed it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from edc.models.base import Base, UTCDateTime, utcnow
from edc.models.subjects import Subject


class Notice(Base):
    """One notice for one user; unread while `read_at` is empty."""

    __tablename__ = "notice"
    __table_args__ = (Index("ix_notice_user_read", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    #: What the reader needs to see, e.g. {"form", "table", "old", "new", "cause"}.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    subject: Mapped[Subject] = relationship()
