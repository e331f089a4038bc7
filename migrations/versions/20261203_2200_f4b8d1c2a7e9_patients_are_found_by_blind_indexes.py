"""patients are found by blind indexes of the family name, full name and birth date

Revision ID: f4b8d1c2a7e9
Revises: e3a1f0c7b6d2
Create Date: 2026-12-03 22:00:00

Three keyed HMAC columns on the identity vault (edc.services.patient_search), never a value in
clear. Existing identities are indexed here when the vault key is configured (it is whenever
`flask db upgrade` runs the portal's own configuration); otherwise run `flask vault reindex`
afterwards: until then those patients are found by study code and hospital number only.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "f4b8d1c2a7e9"
down_revision = "e3a1f0c7b6d2"
branch_labels = None
depends_on = None

COLUMNS = ("family_name_index", "full_name_index", "birth_date_index")


def upgrade() -> None:
    with op.batch_alter_table("subject_identity", schema=None) as batch_op:
        for column in COLUMNS:
            batch_op.add_column(sa.Column(column, sa.String(length=64), nullable=True))
            batch_op.create_index(batch_op.f(f"ix_subject_identity_{column}"), [column])
    _search_indexes()


def _search_indexes() -> None:
    """Index the existing identities with the vault key the app is configured with, if any."""
    from edc import crypto
    from edc.services.patient_search import search_indexes
    from edc.services.subjects import Identity

    vault = sa.table(
        "subject_identity",
        sa.column("subject_id", sa.Integer()),
        sa.column("ciphertext", sa.LargeBinary()),
        *(sa.column(c, sa.String()) for c in COLUMNS),
    )
    conn = op.get_bind()
    rows = conn.execute(sa.select(vault.c.subject_id, vault.c.ciphertext)).all()
    try:
        for subject_id, ciphertext in rows:
            tokens = search_indexes(Identity.from_json(crypto.decrypt(ciphertext)))
            conn.execute(vault.update().where(vault.c.subject_id == subject_id).values(**tokens))
    except (RuntimeError, crypto.DecryptionError) as exc:  # no key, or not this vault's key
        logging.getLogger("alembic.runtime.migration").warning(
            "identities not indexed for the patient search (%s): run `flask vault reindex`", exc
        )


def downgrade() -> None:
    with op.batch_alter_table("subject_identity", schema=None) as batch_op:
        for column in reversed(COLUMNS):
            batch_op.drop_index(batch_op.f(f"ix_subject_identity_{column}"))
            batch_op.drop_column(column)
