"""subjects have a consent scope: which document version and options are in force, since when

Revision ID: a7c3e9d1b2f4
Revises: f4b8d1c2a7e9
Create Date: 2026-12-04 04:40:00

Written only by edc.services.consent_scope (from e-consent); data entry and enrolment read it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from edc.models.base import UTCDateTime

revision = "a7c3e9d1b2f4"
down_revision = "f4b8d1c2a7e9"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_scope",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("document", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), server_default="", nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("since", UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("ended_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=24), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["user_account.id"],
            name=op.f("fk_consent_scope_recorded_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_consent_scope_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_scope")),
        sa.UniqueConstraint("reference", name=op.f("uq_consent_scope_reference")),
    )  # fmt: skip
    with op.batch_alter_table("consent_scope", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_scope_subject_id"), ["subject_id"])


def downgrade() -> None:
    with op.batch_alter_table("consent_scope", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_scope_subject_id"))
    op.drop_table("consent_scope")
