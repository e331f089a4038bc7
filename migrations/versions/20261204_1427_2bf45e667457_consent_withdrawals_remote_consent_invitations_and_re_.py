"""consent withdrawals, remote consent invitations and re-consent tasks

Revision ID: 2bf45e667457
Revises: ce2a811c814d
Create Date: 2026-12-04 14:27:05

Withdrawals govern entry, exports and the registry push through edc.services.consent_scope;
invitations carry remote consent; re-consent tasks follow a new version or the age of majority.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from edc.models.base import UTCDateTime

revision = "2bf45e667457"
down_revision = "ce2a811c814d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_invitation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("guardian_index", sa.Integer(), nullable=False),
        sa.Column("link_token_hash", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("code_channel", sa.String(length=8), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("link_used_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("code_used_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("failed_codes", sa.Integer(), nullable=False),
        sa.Column("locked_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("copy_sent_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_consent_invitation_created_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["consent_session.id"],
            name=op.f("fk_consent_invitation_session_id_consent_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_invitation")),
        sa.UniqueConstraint("link_token_hash", name=op.f("uq_consent_invitation_link_token_hash")),
        sa.UniqueConstraint("session_id", name=op.f("uq_consent_invitation_session_id")),
    )
    op.create_table(
        "consent_withdrawal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("scope_id", sa.Integer(), nullable=True),
        sa.Column("stops", sa.String(length=24), nullable=False),
        sa.Column("option", sa.String(length=32), server_default="", nullable=False),
        sa.Column("withdrawn_by", sa.String(length=24), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("withdrawn_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("recorded_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["user_account.id"],
            name=op.f("fk_consent_withdrawal_recorded_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["scope_id"],
            ["consent_scope.id"],
            name=op.f("fk_consent_withdrawal_scope_id_consent_scope"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_consent_withdrawal_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_withdrawal")),
    )
    with op.batch_alter_table("consent_withdrawal", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_withdrawal_subject_id"), ["subject_id"], unique=False
        )

    op.create_table(
        "reconsent_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("document", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("grace_until", sa.Date(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by_session_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["closed_by_session_id"],
            ["consent_session.id"],
            name=op.f("fk_reconsent_task_closed_by_session_id_consent_session"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_reconsent_task_site_id_site")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_reconsent_task_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconsent_task")),
        sa.UniqueConstraint(
            "subject_id", "reason", "document", "version", name=op.f("uq_reconsent_task_subject_id")
        ),
    )
    with op.batch_alter_table("reconsent_task", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reconsent_task_site_id"), ["site_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_reconsent_task_subject_id"), ["subject_id"], unique=False
        )

    with op.batch_alter_table("consent_session", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("mode", sa.String(length=8), server_default="clinic", nullable=False)
        )
    with op.batch_alter_table("consent_scope", schema=None) as batch_op:
        batch_op.add_column(sa.Column("valid_until", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("consent_scope", schema=None) as batch_op:
        batch_op.drop_column("valid_until")
    with op.batch_alter_table("consent_session", schema=None) as batch_op:
        batch_op.drop_column("mode")

    with op.batch_alter_table("reconsent_task", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconsent_task_subject_id"))
        batch_op.drop_index(batch_op.f("ix_reconsent_task_site_id"))

    op.drop_table("reconsent_task")
    with op.batch_alter_table("consent_withdrawal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_withdrawal_subject_id"))

    op.drop_table("consent_withdrawal")
    op.drop_table("consent_invitation")
