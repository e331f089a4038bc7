"""Migrations: models match `alembic upgrade head`; every revision goes down and up again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from edc.extensions import db
from edc.settings import ROOT
from tests.databases import fresh_database_url


def _config(connection) -> Config:
    config = Config(str(ROOT / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["connection"] = connection
    return config


def test_models_match_the_migrated_schema(app):
    conn = db.session.connection()
    diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_every_revision_downgrades_and_upgrades_again(tmp_path):
    engine = create_engine(fresh_database_url(tmp_path, "updown"))
    try:
        with engine.begin() as conn:
            command.upgrade(_config(conn), "head")
        with engine.begin() as conn:
            assert "audit_event" in inspect(conn).get_table_names()
            command.downgrade(_config(conn), "base")
        with engine.begin() as conn:
            assert "audit_event" not in inspect(conn).get_table_names()
            command.upgrade(_config(conn), "head")
        with engine.begin() as conn:
            head = conn.execute(text("SELECT seq, hash FROM audit_head")).one()
            assert head == (0, "0" * 64)
    finally:
        engine.dispose()


def test_revision_files_are_date_prefixed_with_a_slug():
    script = ScriptDirectory(str(ROOT / "migrations"))
    for revision in script.walk_revisions():
        name = revision.path.rsplit("/", 1)[-1]
        assert name[:8].isdigit(), name
        assert name.endswith(".py")
        assert revision.doc


def test_existing_sites_get_their_countrys_time_zone(tmp_path):
    engine = create_engine(fresh_database_url(tmp_path, "zones"))
    try:
        with engine.begin() as conn:
            command.upgrade(_config(conn), "50629c58cc72")  # before sites had a time zone
            conn.execute(text("INSERT INTO study (id, slug, title) VALUES (1, 's', 'S')"))
            conn.execute(
                text(
                    "INSERT INTO site (id, study_id, code, name, country) VALUES "
                    "(1, 1, 'ES-01', 'Madrid', 'ES'), (2, 1, 'IT-01', 'Roma', 'IT')"
                )
            )
        with engine.begin() as conn:
            command.upgrade(_config(conn), "head")
        with engine.begin() as conn:
            zones = conn.execute(text("SELECT code, timezone FROM site ORDER BY code")).all()
        assert [tuple(z) for z in zones] == [("ES-01", "Europe/Madrid"), ("IT-01", "Europe/Rome")]
    finally:
        engine.dispose()
