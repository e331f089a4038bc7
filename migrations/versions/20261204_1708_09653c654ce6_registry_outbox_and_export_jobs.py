"""registry outbox and export jobs

Revision ID: 09653c654ce6
Revises: 2bf45e667457
Create Date: 2026-12-04 17:08:35

Locking a record queues its registry push in the same transaction (registry_outbox); export
jobs keep each export's progress, file and manifest.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from edc.models.base import UTCDateTime

revision = "09653c654ce6"
down_revision = "2bf45e667457"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "export_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=12), server_default="queued", nullable=False),
        sa.Column("done_subjects", sa.Integer(), server_default="0", nullable=False),
        sa.Column("total_subjects", sa.Integer(), server_default="0", nullable=False),
        sa.Column("file_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("file_sha256", sa.String(length=64), server_default="", nullable=False),
        sa.Column("file_size", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), server_default="", nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["user_account.id"],
            name=op.f("fk_export_job_requested_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_export_job_site_id_site")),
        sa.ForeignKeyConstraint(
            ["study_id"], ["study.id"], name=op.f("fk_export_job_study_id_study")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_job")),
    )
    with op.batch_alter_table("export_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_export_job_study_id"), ["study_id"], unique=False)

    op.create_table(
        "registry_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("lock_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=12), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("bundle_sha256", sa.String(length=64), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["lock_id"], ["data_lock.id"], name=op.f("fk_registry_outbox_lock_id_data_lock")
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["form_record.id"], name=op.f("fk_registry_outbox_record_id_form_record")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_registry_outbox_site_id_site")
        ),
        sa.ForeignKeyConstraint(
            ["study_id"], ["study.id"], name=op.f("fk_registry_outbox_study_id_study")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_registry_outbox_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_outbox")),
    )
    with op.batch_alter_table("registry_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registry_outbox_record_id"), ["record_id"], unique=False
        )
        batch_op.create_index(
            "ix_registry_outbox_state_due", ["state", "next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_registry_outbox_study_id"), ["study_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_registry_outbox_subject_id"), ["subject_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("registry_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_outbox_subject_id"))
        batch_op.drop_index(batch_op.f("ix_registry_outbox_study_id"))
        batch_op.drop_index("ix_registry_outbox_state_due")
        batch_op.drop_index(batch_op.f("ix_registry_outbox_record_id"))

    op.drop_table("registry_outbox")
    with op.batch_alter_table("export_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_export_job_study_id"))

    op.drop_table("export_job")
