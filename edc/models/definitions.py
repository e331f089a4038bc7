"""Stored study definitions and form versions: what every record was entered with, byte for byte.

Rows are written once and never changed: a changed form gets a new version, a changed study.yaml
a new definition row. The hashes let anyone check a stored text against the file it came from.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from edc.models.base import Base, UTCDateTime, utcnow


class StudyDefinition(Base):
    """One text of a study's study.yaml, stored when its hash differs from the latest one.

    `form_versions` ({form id: version}) names the forms it was checked with when stored: together
    they form a folder known to load, from which `form_model` rebuilds the study's languages,
    shared choice lists and context.
    """

    __tablename__ = "study_definition"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    yaml_text: Mapped[str] = mapped_column(Text)
    form_versions: Mapped[dict[str, int]] = mapped_column(JSON)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    loaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class FormVersion(Base):
    """One version of one form: its exact YAML, its hash and the study.yaml it was checked with."""

    __tablename__ = "form_version"
    __table_args__ = (
        UniqueConstraint("study_id", "form_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
    )
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"))
    definition_id: Mapped[int] = mapped_column(ForeignKey("study_definition.id"))
    form_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    yaml_text: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    loaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    definition: Mapped[StudyDefinition] = relationship()

    def __str__(self) -> str:
        return f"{self.form_id} v{self.version}"
