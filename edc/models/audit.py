"""The append-only audit event table and the head of its hash chain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from edc.models.base import Base, UTCDateTime


class AuditEvent(Base):
    """One recorded action: `seq` is its place in the chain, `hash` seals it to its predecessor."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_action_at", "action", "at"),
        Index("ix_audit_event_actor_at", "actor_id", "at"),
        Index("ix_audit_event_ip_at", "ip", "at"),
        Index("ix_audit_event_entity", "entity_type", "entity_id"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    action: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_email: Mapped[str] = mapped_column(String(254), default="")
    role: Mapped[str] = mapped_column(String(64), default="")  # several roles: "investigator,nurse"
    site_code: Mapped[str] = mapped_column(String(128), default="")  # or a study, or "system"
    entity_type: Mapped[str] = mapped_column(String(64), default="")
    entity_id: Mapped[str] = mapped_column(String(64), default="")
    item_path: Mapped[str] = mapped_column(String(200), default="")
    old_value: Mapped[object | None] = mapped_column(JSON)
    new_value: Mapped[object | None] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text, default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """A single row naming the last event: writers lock it, so the chain stays linear."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))
