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


def fresh_database_url(tmp_dir: Path, label: str, admin_url: str | None = None) -> str:
    """A new, empty database: a SQLite file, or a database created next to `admin_url`
    (by default the throwaway cluster of TEST_POSTGRES_URL)."""
    admin_url = admin_url if admin_url is not None else PG_ADMIN_URL
    if not admin_url:
        return f"sqlite:///{tmp_dir / f'{label}-{uuid.uuid4().hex[:8]}.sqlite3'}"
    name = f"edc_{label}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)
