"""subjects have a status and duplicates are caught: a dated status with its history; blind indexes

Revision ID: 96cebaa13e2b
Revises: c4d7e2a91b38
Create Date: 2026-12-03 15:31:00

Existing subjects start as "registered" since their registration date on their site's calendar.
The blind indexes of existing identities are computed here when the vault key is configured (it
is whenever `flask db upgrade` runs); otherwise run `flask vault reindex` afterwards.
"""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

import edc.models.base

revision = "96cebaa13e2b"
down_revision = "c4d7e2a91b38"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=24), server_default="registered", nullable=False)
        )
        batch_op.add_column(sa.Column("status_date", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("status_reason", sa.Text(), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("status_changed_at", edc.models.base.UTCDateTime(timezone=True))
        )
        batch_op.add_column(sa.Column("status_changed_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_subject_status_changed_by_id_user_account"),
            "user_account",
            ["status_changed_by_id"],
            ["id"],
        )
    _registration_dates()
    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.alter_column("status_date", existing_type=sa.Date(), nullable=False)

    op.create_table(
        "subject_status_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("old_status", sa.String(length=24), nullable=False),
        sa.Column("new_status", sa.String(length=24), nullable=False),
        sa.Column("status_date", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_at", edc.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["changed_by_id"],
            ["user_account.id"],
            name=op.f("fk_subject_status_change_changed_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subject.id"], name=op.f("fk_subject_status_change_subject_id_subject")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_status_change")),
    )
    with op.batch_alter_table("subject_status_change", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_subject_status_change_subject_id"), ["subject_id"], unique=False
        )

    with op.batch_alter_table("subject_identity", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_index", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hospital_number_index", sa.String(length=64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_subject_identity_name_index"), ["name_index"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_subject_identity_hospital_number_index"),
            ["hospital_number_index"],
            unique=False,
        )
    _blind_indexes()


def _registration_dates() -> None:
    """Each subject's status date: its registration date on its site's own calendar."""
    subject = sa.table(
        "subject",
        sa.column("id", sa.Integer()),
        sa.column("site_id", sa.Integer()),
        sa.column("registered_at", edc.models.base.UTCDateTime(timezone=True)),
        sa.column("status_date", sa.Date()),
    )
    site = sa.table("site", sa.column("id", sa.Integer()), sa.column("timezone", sa.String()))
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(subject.c.id, subject.c.registered_at, site.c.timezone).join(
            site, site.c.id == subject.c.site_id
        )
    ).all()
    for subject_id, registered_at, zone in rows:
        day = registered_at.astimezone(ZoneInfo(zone or "UTC")).date()
        conn.execute(subject.update().where(subject.c.id == subject_id).values(status_date=day))


def _blind_indexes() -> None:
    """Index the existing identities with the vault key the app is configured with, if any."""
    from edc import crypto
    from edc.services.subjects import Identity, blind_indexes

    vault = sa.table(
        "subject_identity",
        sa.column("subject_id", sa.Integer()),
        sa.column("ciphertext", sa.LargeBinary()),
        sa.column("name_index", sa.String()),
        sa.column("hospital_number_index", sa.String()),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(vault.c.subject_id, vault.c.ciphertext)).all()
    try:
        for subject_id, ciphertext in rows:
            name, number = blind_indexes(Identity.from_json(crypto.decrypt(ciphertext)))
            conn.execute(
                vault.update()
                .where(vault.c.subject_id == subject_id)
                .values(name_index=name, hospital_number_index=number)
            )
    except (RuntimeError, crypto.DecryptionError) as exc:  # no key, or not this vault's key
        logging.getLogger("alembic.runtime.migration").warning(
            "identities not indexed for duplicate checks (%s): run `flask vault reindex`", exc
        )


def downgrade() -> None:
    with op.batch_alter_table("subject_identity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_identity_hospital_number_index"))
        batch_op.drop_index(batch_op.f("ix_subject_identity_name_index"))
        batch_op.drop_column("hospital_number_index")
        batch_op.drop_column("name_index")

    with op.batch_alter_table("subject_status_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_status_change_subject_id"))
    op.drop_table("subject_status_change")

    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_subject_status_changed_by_id_user_account"), type_="foreignkey"
        )
        batch_op.drop_column("status_changed_by_id")
        batch_op.drop_column("status_changed_at")
        batch_op.drop_column("status_reason")
        batch_op.drop_column("status_date")
        batch_op.drop_column("status")
