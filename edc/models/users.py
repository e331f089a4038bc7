"""Staff accounts, their role assignments, server-side sessions and recovery codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from edc.models.base import Base, UTCDateTime, utcnow
from edc.models.studies import Site, Study


class User(Base):
    """A personal staff account; ids are never reused (rows are deactivated, not deleted)."""

    __tablename__ = "user_account"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    activation_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locale: Mapped[str | None] = mapped_column(String(8))
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    identity_check: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    roles: Mapped[list[RoleAssignment]] = relationship(
        back_populates="user",
        foreign_keys="RoleAssignment.user_id",
        primaryjoin="and_(RoleAssignment.user_id == User.id, RoleAssignment.revoked_at.is_(None))",
        viewonly=True,
    )

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def totp_enrolled(self) -> bool:
        return self.totp_secret is not None

    def may_log_in(self, now: datetime) -> bool:
        """Active and not past the end date (temporary monitors, inspectors)."""
        return self.is_active and (self.ends_at is None or self.ends_at > now)

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"


class RoleAssignment(Base):
    """One role for one user, at a site, across a study, or system-wide; revoked, never deleted."""

    __tablename__ = "role_assignment"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    study_id: Mapped[int | None] = mapped_column(ForeignKey("study.id"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # A clinical role grants nothing until someone accountable for the site's data approves it
    # (edc.services.role_approval); a refused request is also revoked, so it is no longer live.
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refused_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    refusal_reason: Mapped[str] = mapped_column(Text, default="")

    user: Mapped[User] = relationship(foreign_keys=[user_id], back_populates="roles")
    site: Mapped[Site | None] = relationship()
    study: Mapped[Study | None] = relationship()
    granted_by: Mapped[User | None] = relationship(foreign_keys=[granted_by_id], viewonly=True)
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id], viewonly=True)
    refused_by: Mapped[User | None] = relationship(foreign_keys=[refused_by_id], viewonly=True)

    @property
    def pending(self) -> bool:
        """Requested, neither approved nor refused nor revoked yet: it grants nothing."""
        return self.approved_at is None and self.revoked_at is None


class UserSession(Base):
    """Server-side session: the cookie holds only its random id, so ending it here ends it."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(32))
    ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    #: SHA-256 of the browser's long-lived device cookie: a sign-in from a new one is told.
    device_hash: Mapped[str | None] = mapped_column(String(64), index=True)

    user: Mapped[User] = relationship()


class RecoveryCode(Base):
    """A single-use second factor, stored as an Argon2 hash."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AccountLink(Base):
    """A single-use link mailed to the account's owner: an invitation, a password reset or a new
    authenticator after a factor reset. Only hashes are kept; nobody else ever sees the link.

    Without mail a link starts as a request (`token_hash` empty) that a second administrator
    approves; the user then needs both the approver's link and the requester's code."""

    __tablename__ = "account_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    code_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
