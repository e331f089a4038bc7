"""clinical roles take effect once approved: who approved or refused a role request, and when

Revision ID: e3a1c6f20d57
Revises: bbb4e45505a3
Create Date: 2026-12-03 18:00:00

Every assignment that exists when this runs was granted before approval was asked for: it is
marked approved at its grant time, by nobody (approved_by_id stays empty; the audit trail says
who granted it), so nobody loses access at the upgrade.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import edc.models.base

revision = "e3a1c6f20d57"
down_revision = "bbb4e45505a3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("role_assignment", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("approved_at", edc.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("approved_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("refused_at", edc.models.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("refused_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("refusal_reason", sa.Text(), server_default="", nullable=False)
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_role_assignment_approved_by_id_user_account"),
            "user_account",
            ["approved_by_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_role_assignment_refused_by_id_user_account"),
            "user_account",
            ["refused_by_id"],
            ["id"],
        )
    op.execute("UPDATE role_assignment SET approved_at = granted_at")


def downgrade() -> None:
    with op.batch_alter_table("role_assignment", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_role_assignment_refused_by_id_user_account"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_role_assignment_approved_by_id_user_account"), type_="foreignkey"
        )
        batch_op.drop_column("refusal_reason")
        batch_op.drop_column("refused_by_id")
        batch_op.drop_column("refused_at")
        batch_op.drop_column("approved_by_id")
        batch_op.drop_column("approved_at")
