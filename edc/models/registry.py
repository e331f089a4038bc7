"""What leaves the portal: the registry outbox (one row per thing to push, written in the same
transaction as the lock or withdrawal that causes it) and export jobs (one per export asked for).

Neither is clinical data: rows change as they are worked (attempts, progress), so they are not
audited row by row; every push and every export is an audit event of its own.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from edc.models.base import Base, UTCDateTime, utcnow


class RegistryOutbox(Base):
    """One thing to send to the registry: a locked form record (`record`) or a subject's consent
    after a change that the registry must learn of (`consent`, e.g. a withdrawal).

    `state`: `pending` (waiting for `next_attempt_at`), `sent`, `parked` (failed too often; a
    data manager may retry), `withheld` (consent no longer allows it when its turn came) or
    `cancelled` (the record was unlocked before it was sent; the next lock queues it again).
    """

    __tablename__ = "registry_outbox"
    __table_args__ = (Index("ix_registry_outbox_state_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"))
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    record_id: Mapped[int | None] = mapped_column(ForeignKey("form_record.id"), index=True)
    #: The lock that queued it (a record), for the data manager's page.
    lock_id: Mapped[int | None] = mapped_column(ForeignKey("data_lock.id"))
    state: Mapped[str] = mapped_column(String(12), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The last failure, as the worker saw it (status and a bounded excerpt of the answer).
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: SHA-256 of the bundle as sent: the same record sent twice sends the same bytes.
    bundle_sha256: Mapped[str] = mapped_column(String(64), default="", server_default="")


class ExportJob(Base):
    """One export asked for (from the web or `flask export`): what, by whom, its progress and
    where its file is. The manifest (who, when, scope, form versions, consent filter) is kept
    with the job and written beside the file."""

    __tablename__ = "export_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    #: One site's data only (an investigator's export or certified copy); None: the study.
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"))
    #: `csv`, `odm`, `fhir` or `certified_copy`.
    format: Mapped[str] = mapped_column(String(16))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: `queued`, `running`, `done` or `failed`.
    state: Mapped[str] = mapped_column(String(12), default="queued", server_default="queued")
    done_subjects: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    total_subjects: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The file's name under the export folder (never a path the client gave).
    file_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    file_sha256: Mapped[str] = mapped_column(String(64), default="", server_default="")
    file_size: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    manifest: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="", server_default="")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
