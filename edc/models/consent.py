"""What each subject's consent allows, and since when: the one record of consent that `edc`
reads (data entry, enrolment, later the registry push). The consent itself — documents,
signers, the sealed copy — belongs to `econsent`, which writes here only through
`edc.services.consent_scope`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from edc.models.base import Base, UTCDateTime, utcnow


class ConsentScope(Base):
    """One consent in force for a subject from `since` until `ended_at` (superseded by a newer
    consent, or withdrawn). Rows are never deleted: the history of what was allowed when stays."""

    __tablename__ = "consent_scope"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    #: The consent that grants it, as its owner names it (e.g. `econsent:17`, `paper:…`).
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    document: Mapped[str] = mapped_column(String(64))
    #: The document's title as signed (in the signers' language), for people reading it.
    title: Mapped[str] = mapped_column(String(200), default="", server_default="")
    version: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    #: Each optional item of the document and whether it was granted: {"biobank_storage": true}.
    options: Mapped[dict[str, bool]] = mapped_column(JSON, default=dict)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Why it ended: `superseded` or `withdrawn` ("" while in force).
    end_reason: Mapped[str] = mapped_column(String(24), default="", server_default="")
