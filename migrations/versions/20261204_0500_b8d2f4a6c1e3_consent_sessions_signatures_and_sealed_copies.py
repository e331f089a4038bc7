"""consent sessions in clinic, their signatures and the sealed copies

Revision ID: b8d2f4a6c1e3
Revises: a7c3e9d1b2f4
Create Date: 2026-12-04 05:00:00

Written by econsent.services (sessions, signing, countersign, sealing); every row is audited.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from edc.models.base import UTCDateTime

revision = "b8d2f4a6c1e3"
down_revision = "a7c3e9d1b2f4"
branch_labels = None
depends_on = None


def _session() -> None:
    op.create_table(
        "consent_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("document", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("approval_reference", sa.String(length=128), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("child_document", sa.String(length=64), server_default="", nullable=False),
        sa.Column("child_band", sa.String(length=32), server_default="", nullable=False),
        sa.Column("child_mode", sa.String(length=16), server_default="", nullable=False),
        sa.Column("child_age", sa.Integer(), nullable=True),
        sa.Column("rule_place", sa.String(length=16), nullable=False),
        sa.Column("rule_effective", sa.String(length=10), nullable=False),
        sa.Column("parents_required", sa.Integer(), nullable=False),
        sa.Column("parent_exception", sa.String(length=32), server_default="", nullable=False),
        sa.Column("witness_required", sa.Boolean(), nullable=False),
        sa.Column("identity_document", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("blocked_reason", sa.String(length=24), server_default="", nullable=False),
        sa.Column("kiosk_token_hash", sa.String(length=64), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("countersigned_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("countersigned_by_id", sa.Integer(), nullable=True),
        sa.Column("sealed_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["countersigned_by_id"], ["user_account.id"],
            name=op.f("fk_consent_session_countersigned_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user_account.id"],
            name=op.f("fk_consent_session_created_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_consent_session_site_id_site")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_consent_session_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_session")),
        sa.UniqueConstraint("kiosk_token_hash", name=op.f("uq_consent_session_kiosk_token_hash")),
    )  # fmt: skip
    with op.batch_alter_table("consent_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_session_site_id"), ["site_id"])
        batch_op.create_index(batch_op.f("ix_consent_session_subject_id"), ["subject_id"])


def _signature() -> None:
    op.create_table(
        "consent_signature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column(
            "relationship_to_subject", sa.String(length=32), server_default="", nullable=False
        ),
        sa.Column("printed_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("meaning", sa.Text(), server_default="", nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("strokes", sa.JSON(), nullable=False),
        sa.Column("image_png", sa.LargeBinary(), nullable=True),
        sa.Column("document", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"], ["consent_session.id"],
            name=op.f("fk_consent_signature_session_id_consent_session"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"],
            name=op.f("fk_consent_signature_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_signature")),
        sa.UniqueConstraint("session_id", "role", name=op.f("uq_consent_signature_session_id")),
    )  # fmt: skip
    with op.batch_alter_table("consent_signature", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_signature_session_id"), ["session_id"])


def _copy() -> None:
    op.create_table(
        "consent_copy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("filename", sa.String(length=128), nullable=False),
        sa.Column("validation", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["consent_session.id"],
            name=op.f("fk_consent_copy_session_id_consent_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_copy")),
        sa.UniqueConstraint("session_id", name=op.f("uq_consent_copy_session_id")),
    )  # fmt: skip


def upgrade() -> None:
    _session()
    _signature()
    _copy()


def downgrade() -> None:
    op.drop_table("consent_copy")
    with op.batch_alter_table("consent_signature", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_signature_session_id"))
    op.drop_table("consent_signature")
    with op.batch_alter_table("consent_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_session_subject_id"))
        batch_op.drop_index(batch_op.f("ix_consent_session_site_id"))
    op.drop_table("consent_session")
