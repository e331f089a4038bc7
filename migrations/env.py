"""Alembic environment: migrations run on the app's own engine, in batch mode for SQLite."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import edc.models  # noqa: F401  (registers every table on the metadata)
from edc.extensions import db


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=db.metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    given = context.config.attributes.get("connection")  # tests migrate any database this way
    if given is not None:
        _run(given)
        return
    if db.engine is None:
        raise RuntimeError("migrations run inside the Flask app: use `flask db upgrade`")
    with db.engine.connect() as connection:
        _run(connection)
        connection.commit()


if context.is_offline_mode():
    raise RuntimeError("offline SQL generation is not supported; run against a database")
run_migrations_online()
