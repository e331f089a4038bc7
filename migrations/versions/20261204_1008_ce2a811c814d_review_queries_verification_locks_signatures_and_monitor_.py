"""review: queries, verification, locks, signatures and monitor visits

Revision ID: ce2a811c814d
Revises: b8d2f4a6c1e3
Create Date: 2026-12-04 10:08:43

The review workflow's tables (edc/models/monitoring.py): nothing in them is ever deleted.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from edc.models.base import UTCDateTime

revision = "ce2a811c814d"
down_revision = "b8d2f4a6c1e3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signature_certification",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("certified_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_signature_certification_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_signature_certification")),
    )
    op.create_table(
        "monitor_visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("remote", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["user_account.id"],
            name=op.f("fk_monitor_visit_monitor_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_monitor_visit_site_id_site")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_visit")),
    )
    with op.batch_alter_table("monitor_visit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitor_visit_monitor_id"), ["monitor_id"], unique=False
        )

    op.create_table(
        "sdv_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("percent", sa.Integer(), server_default="100", nullable=False),
        sa.Column("seed", sa.String(length=64), server_default="", nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("made_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("made_by_id", sa.Integer(), nullable=True),
        sa.Column("ended_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["made_by_id"], ["user_account.id"], name=op.f("fk_sdv_plan_made_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_sdv_plan_site_id_site")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sdv_plan")),
    )
    with op.batch_alter_table("sdv_plan", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sdv_plan_site_id"), ["site_id"], unique=False)

    op.create_table(
        "data_lock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("occurrence_id", sa.Integer(), nullable=True),
        sa.Column("form_id", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("locked_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_by_id", sa.Integer(), nullable=True),
        sa.Column("lifted_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("lifted_by_id", sa.Integer(), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["lifted_by_id"],
            ["user_account.id"],
            name=op.f("fk_data_lock_lifted_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["locked_by_id"],
            ["user_account.id"],
            name=op.f("fk_data_lock_locked_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["occurrence_id"],
            ["event_occurrence.id"],
            name=op.f("fk_data_lock_occurrence_id_event_occurrence"),
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_data_lock_site_id_site")),
        sa.ForeignKeyConstraint(
            ["study_id"], ["study.id"], name=op.f("fk_data_lock_study_id_study")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_data_lock_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_lock")),
    )
    with op.batch_alter_table("data_lock", schema=None) as batch_op:
        batch_op.create_index("ix_data_lock_live", ["study_id", "lifted_at"], unique=False)

    op.create_table(
        "data_query",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("item_key", sa.String(length=200), server_default="", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=16), server_default="manual", nullable=False),
        sa.Column("raised_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("raised_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["closed_by_id"],
            ["user_account.id"],
            name=op.f("fk_data_query_closed_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["raised_by_id"],
            ["user_account.id"],
            name=op.f("fk_data_query_raised_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["form_record.id"], name=op.f("fk_data_query_record_id_form_record")
        ),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"], name=op.f("fk_data_query_site_id_site")),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_data_query_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_query")),
    )
    with op.batch_alter_table("data_query", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_query_record_id"), ["record_id"], unique=False)
        batch_op.create_index("ix_data_query_site_status", ["site_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_data_query_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "e_signature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=True),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("signer_id", sa.Integer(), nullable=False),
        sa.Column("printed_name", sa.String(length=200), nullable=False),
        sa.Column("meaning", sa.String(length=32), nullable=False),
        sa.Column("signed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("data_hash", sa.String(length=64), nullable=False),
        sa.Column("invalidated_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("invalidated_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["occurrence_id"],
            ["event_occurrence.id"],
            name=op.f("fk_e_signature_occurrence_id_event_occurrence"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"], ["form_record.id"], name=op.f("fk_e_signature_record_id_form_record")
        ),
        sa.ForeignKeyConstraint(
            ["signer_id"], ["user_account.id"], name=op.f("fk_e_signature_signer_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_e_signature_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_e_signature")),
    )
    with op.batch_alter_table("e_signature", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_e_signature_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "item_verification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("item_key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("verified_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("verified_by_id", sa.Integer(), nullable=True),
        sa.Column("reset_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["form_record.id"],
            name=op.f("fk_item_verification_record_id_form_record"),
        ),
        sa.ForeignKeyConstraint(
            ["verified_by_id"],
            ["user_account.id"],
            name=op.f("fk_item_verification_verified_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_verification")),
        sa.UniqueConstraint("record_id", "item_key", name=op.f("uq_item_verification_record_id")),
    )
    with op.batch_alter_table("item_verification", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_item_verification_record_id"), ["record_id"], unique=False
        )

    op.create_table(
        "query_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("query_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("role", sa.String(length=64), server_default="", nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("old", sa.JSON(), nullable=True),
        sa.Column("new", sa.JSON(), nullable=True),
        sa.Column("change_seq", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"], ["user_account.id"], name=op.f("fk_query_message_author_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["query_id"], ["data_query.id"], name=op.f("fk_query_message_query_id_data_query")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_query_message")),
    )
    with op.batch_alter_table("query_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_query_message_query_id"), ["query_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("query_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_query_message_query_id"))

    op.drop_table("query_message")
    with op.batch_alter_table("item_verification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_verification_record_id"))

    op.drop_table("item_verification")
    with op.batch_alter_table("e_signature", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_e_signature_subject_id"))

    op.drop_table("e_signature")
    with op.batch_alter_table("data_query", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_query_subject_id"))
        batch_op.drop_index("ix_data_query_site_status")
        batch_op.drop_index(batch_op.f("ix_data_query_record_id"))

    op.drop_table("data_query")
    with op.batch_alter_table("data_lock", schema=None) as batch_op:
        batch_op.drop_index("ix_data_lock_live")

    op.drop_table("data_lock")
    with op.batch_alter_table("sdv_plan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sdv_plan_site_id"))

    op.drop_table("sdv_plan")
    with op.batch_alter_table("monitor_visit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitor_visit_monitor_id"))

    op.drop_table("monitor_visit")
    op.drop_table("signature_certification")
