"""rows of repeating sections keep their id for life: records count the ids they gave

Existing items keep their paths: a row's position when it was last saved becomes its id (ids
were positions until now), so their history stays theirs. Each record's next free id starts past
the highest one it holds.

Revision ID: 7c1e5a9d2b40
Revises: 0a8748056aed
Create Date: 2026-12-03 16:00:00
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "7c1e5a9d2b40"
down_revision = "0a8748056aed"
branch_labels = None
depends_on = None

_ROW_PATH = re.compile(r"[a-z][a-z0-9_]*-([0-9]+)-[a-z][a-z0-9_]*")


def upgrade() -> None:
    with op.batch_alter_table("form_record", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_row", sa.Integer(), server_default="0", nullable=False))
    item = sa.table("item_value", sa.column("record_id"), sa.column("path"))
    record = sa.table("form_record", sa.column("id"), sa.column("next_row"))
    conn = op.get_bind()
    highest: dict[int, int] = {}
    for record_id, path in conn.execute(sa.select(item.c.record_id, item.c.path)):
        match = _ROW_PATH.fullmatch(path)
        if match:
            highest[record_id] = max(highest.get(record_id, -1), int(match.group(1)))
    for record_id, row_id in highest.items():
        conn.execute(record.update().where(record.c.id == record_id).values(next_row=row_id + 1))


def downgrade() -> None:
    with op.batch_alter_table("form_record", schema=None) as batch_op:
        batch_op.drop_column("next_row")
