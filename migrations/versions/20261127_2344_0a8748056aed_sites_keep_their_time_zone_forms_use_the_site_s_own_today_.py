"""sites keep their time zone: forms use the site's own today and now

Revision ID: 0a8748056aed
Revises: 50629c58cc72
Create Date: 2026-11-27 23:44:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from edc.models.studies import timezone_for

revision = "0a8748056aed"
down_revision = "50629c58cc72"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False)
        )
    site = sa.table("site", sa.column("id"), sa.column("country"), sa.column("timezone"))
    conn = op.get_bind()
    for site_id, country in conn.execute(sa.select(site.c.id, site.c.country)).all():
        conn.execute(
            site.update().where(site.c.id == site_id).values(timezone=timezone_for(country))
        )


def downgrade() -> None:
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.drop_column("timezone")
