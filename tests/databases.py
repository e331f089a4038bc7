"""Fresh test databases: a SQLite file, or a new database in the PostgreSQL cluster under test.

On the cluster of `scripts/pg-cluster` a database is set up as in production: owned by the owner
role (which migrates it) and used by the application role, which may only append to the audit
trail. Elsewhere both URLs are the same.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "")
PG_OWNER_URL = os.environ.get("TEST_POSTGRES_OWNER_URL", "")
PG_APP_URL = os.environ.get("TEST_POSTGRES_APP_URL", "")


def on_postgres() -> bool:
    return bool(PG_ADMIN_URL)


def separate_roles() -> bool:
    """The cluster has an owner role and a limited application role (scripts/pg-cluster)."""
    return bool(PG_ADMIN_URL and PG_OWNER_URL and PG_APP_URL)


@dataclass(frozen=True)
class Database:
    url: str  # what the application connects with
    owner_url: str  # what migrations (and tests that tamper on purpose) connect with


def fresh_database_url(tmp_dir: Path, label: str, admin_url: str | None = None) -> str:
    """A new, empty database: a SQLite file, or a database created next to `admin_url`
    (by default the throwaway cluster of TEST_POSTGRES_URL)."""
    admin_url = admin_url if admin_url is not None else PG_ADMIN_URL
    if not admin_url:
        return f"sqlite:///{tmp_dir / f'{label}-{uuid.uuid4().hex[:8]}.sqlite3'}"
    return _on_database(admin_url, _create(admin_url, label))


def fresh_database(tmp_dir: Path, label: str) -> Database:
    """A new, empty database with the application's and the owner's URL."""
    if not separate_roles():
        url = fresh_database_url(tmp_dir, label)
        return Database(url, url)
    name = _create(PG_ADMIN_URL, label, owner=make_url(PG_OWNER_URL).username)
    return Database(_on_database(PG_APP_URL, name), _on_database(PG_OWNER_URL, name))


def _create(admin_url: str, label: str, owner: str | None = None) -> str:
    name = f"edc_{label}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            quote = conn.dialect.identifier_preparer.quote
            owned_by = f" OWNER {quote(owner)}" if owner else ""
            conn.execute(text(f"CREATE DATABASE {quote(name)}{owned_by}"))
    finally:
        admin.dispose()
    return name


def _on_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)
