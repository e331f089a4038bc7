"""Studies and the sites that take part in them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.core import get_global
from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from edc.models.base import Base


def timezone_for(country: str) -> str:
    """The usual time zone of a country (ISO code): its European zone when it has several."""
    zones = get_global("territory_zones").get(country.upper(), [])
    european = [z for z in zones if z.startswith("Europe/")]
    return (european or zones or ["UTC"])[0]


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
    #: Where the site is (IANA name): today() and now() in its forms are the site's own clock.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    #: Whether the site's monitors may open identities (national rules and the consent form's
    #: wording decide; off unless the site's agreement allows it).
    monitors_see_identity: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )

    study: Mapped[Study] = relationship(back_populates="sites")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local_time(self, at: datetime) -> datetime:
        """`at` (aware, UTC) as the site's wall clock, naive: what its staff read and type."""
        return at.astimezone(self.zone).replace(tzinfo=None)

    def __str__(self) -> str:
        return f"{self.code} – {self.name}"
