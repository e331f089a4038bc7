"""correct identities with encrypted revisions; sites choose whether monitors see identities

Revision ID: 50629c58cc72
Revises: 35407492c99e
Create Date: 2026-11-27 23:05:52.802525
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import edc.models.base

revision = "50629c58cc72"
down_revision = "35407492c99e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("replaced_at", edc.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("replaced_by_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["replaced_by_id"],
            ["user_account.id"],
            name=op.f("fk_identity_revision_replaced_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_identity_revision_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_revision")),
        sa.UniqueConstraint("subject_id", "revision", name=op.f("uq_identity_revision_subject_id")),
    )
    with op.batch_alter_table("identity_revision", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_revision_subject_id"), ["subject_id"], unique=False
        )

    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "monitors_see_identity", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.drop_column("monitors_see_identity")

    with op.batch_alter_table("identity_revision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_revision_subject_id"))

    op.drop_table("identity_revision")
