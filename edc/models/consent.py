"""What each subject's consent allows, and since when: the one record of consent that `edc`
reads (data entry, enrolment, later the registry push). The consent itself — documents,
signers, the sealed copy — belongs to `econsent`, which writes here only through
`edc.services.consent_scope`."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, String, Text
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
    #: The last day it counts (a child's consent until the age of majority and its grace, an
    #: old version until its re-consent grace date); None: until ended.
    valid_until: Mapped[date | None] = mapped_column(Date)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Why it ended: `superseded` or `withdrawn` ("" while in force).
    end_reason: Mapped[str] = mapped_column(String(24), default="", server_default="")


class ConsentWithdrawal(Base):
    """A withdrawal as staff recorded it: what it stops (`scope`, and the optional item for an
    option), who withdrew, how and when. It never deletes data: it governs what happens next
    (entry, exports, the registry push), read through `edc.services.consent_scope`."""

    __tablename__ = "consent_withdrawal"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    #: The consent in force when it was recorded (a later consent starts afresh).
    scope_id: Mapped[int | None] = mapped_column(ForeignKey("consent_scope.id"))
    #: `treatment`, `visits`, `all_collection` or `option`.
    stops: Mapped[str] = mapped_column(String(24))
    #: The optional item withdrawn (`registry_transfer`, …) when `stops` is `option`.
    option: Mapped[str] = mapped_column(String(32), default="", server_default="")
    #: Who withdrew: `patient`, `parent`, `legal_guardian`, `legal_representative`.
    withdrawn_by: Mapped[str] = mapped_column(String(24))
    #: How it reached the site: `in_person`, `letter`, `phone`, `email`.
    method: Mapped[str] = mapped_column(String(16))
    withdrawn_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
