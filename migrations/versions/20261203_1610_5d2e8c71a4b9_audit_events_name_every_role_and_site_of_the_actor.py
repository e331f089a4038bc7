"""audit events name every role and site of the actor

Revision ID: 5d2e8c71a4b9
Revises: 7c1e5a9d2b40
Create Date: 2026-12-03 16:00:00

Widens `audit_event.role` and `site_code`, which now name an actor with several grants
("investigator,nurse", "FR-01,IT-01"). The hash covers the values, not the column sizes, so
existing events verify as before. On SQLite the table is rebuilt (batch mode), which drops its
triggers: they are read before and created again after, whatever they are at this point.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "5d2e8c71a4b9"
down_revision = "7c1e5a9d2b40"
branch_labels = None
depends_on = None

WIDTHS = {"role": (32, 64), "site_code": (16, 128)}


def _resize(narrow: bool) -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        for column, (small, large) in WIDTHS.items():
            width = small if narrow else large
            op.alter_column(
                "audit_event",
                column,
                existing_type=sa.String(large if narrow else small),
                type_=sa.String(width),
                existing_nullable=False,
                # A rewrite of the column, not an UPDATE: the append-only triggers do not fire.
                postgresql_using=f"left({column}, {width})" if narrow else None,
            )
        return
    triggers = conn.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_event'")
    ).scalars()
    kept = list(triggers)
    with op.batch_alter_table("audit_event", schema=None, recreate="always") as batch_op:
        for column, (small, large) in WIDTHS.items():
            batch_op.alter_column(
                column,
                existing_type=sa.String(large if narrow else small),
                type_=sa.String(small if narrow else large),
                existing_nullable=False,
            )
    for sql in kept:
        op.execute(sql)


def upgrade() -> None:
    _resize(narrow=False)


def downgrade() -> None:
    _resize(narrow=True)
