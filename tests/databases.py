"""Fresh test databases: a SQLite file, or a new database in the PostgreSQL cluster under test."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "")


def on_postgres() -> bool:
    return bool(PG_ADMIN_URL)


def fresh_database_url(tmp_dir: Path, label: str) -> str:
    """A new, empty database; on PostgreSQL created in the throwaway cluster."""
    if not on_postgres():
        return f"sqlite:///{tmp_dir / f'{label}-{uuid.uuid4().hex[:8]}.sqlite3'}"
    name = f"edc_{label}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
