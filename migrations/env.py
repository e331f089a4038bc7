"""Alembic environment: migrations run in batch mode for SQLite, as the database's owner role.

`flask db upgrade` connects with DATABASE_OWNER_URL (by default the app's own URL). When the
application has a role of its own, the owner then grants it exactly what it needs, in the same
transaction (edc/db_roles.py): the audit trail stays append-only by privilege, not only by trigger.
"""

from __future__ import annotations

from collections.abc import Callable

from alembic import context
from flask import current_app
from sqlalchemy import Connection
from sqlalchemy.pool import NullPool

import econsent.models  # noqa: F401  (e-consent's tables share edc's metadata)
import edc.models  # noqa: F401  (registers every table on the metadata)
from edc import db_roles
from edc.extensions import db, make_engine


def _run(connection: Connection, after: Callable[[Connection], None] | None = None) -> None:
    context.configure(
        connection=connection,
        target_metadata=db.metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if after is not None:
            after(connection)


def run_migrations_online() -> None:
    given = context.config.attributes.get("connection")  # tests migrate any database this way
    if given is not None:
        _run(given)
        return
    if db.engine is None:
        raise RuntimeError("migrations run inside the Flask app: use `flask db upgrade`")
    settings = current_app.config["EDC_SETTINGS"]
    url = db_roles.owner_url(settings)
    if url == settings.database_url:
        with db.engine.connect() as connection:
            _run(connection)
            connection.commit()
        return
    app_role = db_roles.app_role_name(settings.database_url)
    engine = make_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            _run(connection, lambda conn: db_roles.grant_app_role(conn, app_role))
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline SQL generation is not supported; run against a database")
run_migrations_online()
