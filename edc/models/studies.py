"""Studies and the sites that take part in them."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from edc.models.base import Base


class Study(Base):
    __tablename__ = "study"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    subject_prefix: Mapped[str] = mapped_column(String(8), default="NB", server_default="NB")

    sites: Mapped[list[Site]] = relationship(back_populates="study", order_by="Site.code")


class Site(Base):
    __tablename__ = "site"
    __table_args__ = (UniqueConstraint("study_id", "code"),)
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))
    #: Whether the site's monitors may open identities (national rules and the consent form's
    #: wording decide; off unless the site's agreement allows it).
    monitors_see_identity: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )

    study: Mapped[Study] = relationship(back_populates="sites")

    def __str__(self) -> str:
        return f"{self.code} – {self.name}"
