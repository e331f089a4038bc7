"""investigators get in-app notices when a decision changes

Revision ID: c4d7e2a91b38
Revises: 5d2e8c71a4b9
Create Date: 2026-12-03 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import edc.models.base

revision = "c4d7e2a91b38"
down_revision = "5d2e8c71a4b9"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", edc.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", edc.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_notice_subject_id_subject")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_notice_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice")),
    )
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_subject_id"), ["subject_id"], unique=False)
        batch_op.create_index("ix_notice_user_read", ["user_id", "read_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_user_read")
        batch_op.drop_index(batch_op.f("ix_notice_subject_id"))
    op.drop_table("notice")
