"""Whether the database answers: the one question /health asks (see edc/views/health.py)."""

from __future__ import annotations

import logging

from sqlalchemy import Engine

log = logging.getLogger(__name__)


def database_answers(engine: Engine) -> bool:
    """One trivial query on a pooled connection, outside the ORM: no transaction event (SQLite's
    BEGIN IMMEDIATE would take the write lock) and nothing for the request's commit point."""
    try:
        conn = engine.raw_connection()
        try:
            cursor = conn.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchall()
            cursor.close()
        finally:
            conn.close()  # back to the pool, rolled back
    except Exception as exc:  # any failure means: do not send users here
        log.warning("health check: the database does not answer (%s)", type(exc).__name__)
        return False
    return True
