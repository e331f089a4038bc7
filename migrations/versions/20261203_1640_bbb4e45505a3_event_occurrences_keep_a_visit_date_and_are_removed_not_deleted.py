"""event occurrences keep a visit date and are removed, not deleted, so numbers are never reused

Revision ID: bbb4e45505a3
Revises: 96cebaa13e2b
Create Date: 2026-12-03 15:28:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import edc.models.base

revision = "bbb4e45505a3"
down_revision = "96cebaa13e2b"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("event_occurrence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("visit_date", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("removed_at", edc.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("removed_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("removal_reason", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_event_occurrence_removed_by_id_user_account"),
            "user_account",
            ["removed_by_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("event_occurrence", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_event_occurrence_removed_by_id_user_account"), type_="foreignkey"
        )
        batch_op.drop_column("removal_reason")
        batch_op.drop_column("removed_by_id")
        batch_op.drop_column("removed_at")
        batch_op.drop_column("visit_date")
