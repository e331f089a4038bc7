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


def test_existing_rows_keep_their_paths_and_new_ids_start_past_them(tmp_path):
    """Rows saved before ids existed: their positions become their ids, so their history holds."""
    engine = create_engine(fresh_database_url(tmp_path, "rows"))
    now = "'2026-11-28 10:00:00'"
    try:
        with engine.begin() as conn:
            command.upgrade(_config(conn), "0a8748056aed")  # before rows had ids
            for statement in (
                "INSERT INTO study (id, slug, title) VALUES (1, 's', 'S')",
                "INSERT INTO site (id, study_id, code, name, country) "
                "VALUES (1, 1, 'FR', 'P', 'FR')",
                f"INSERT INTO subject (id, study_id, site_id, study_code, number, registered_at) "
                f"VALUES (1, 1, 1, 'NB-FR-0001', 1, {now})",
                f"INSERT INTO study_definition (id, study_id, sha256, yaml_text, form_versions, "
                f"loaded_at) VALUES (1, 1, 'x', 'x', '{{}}', {now})",
                f"INSERT INTO form_version (id, study_id, definition_id, form_id, version, sha256, "
                f"yaml_text, loaded_at) VALUES (1, 1, 1, 'f', 1, 'x', 'x', {now})",
                f"INSERT INTO event_occurrence (id, subject_id, event_id, number, created_at) "
                f"VALUES (1, 1, 'e', 1, {now})",
                f"INSERT INTO form_record (id, subject_id, occurrence_id, form_id, "
                f"form_version_id, status, row_version, created_at, updated_at) VALUES "
                f"(1, 1, 1, 'f', 1, 'complete', 1, {now}, {now}), "
                f"(2, 1, 1, 'g', 1, 'complete', 1, {now}, {now})",
                f"INSERT INTO item_value (record_id, path, value, updated_at) VALUES "
                f"(1, 'doses-0-mg', '5', {now}), (1, 'doses-2-mg', '7', {now}), "
                f"(1, 'weight', '12', {now}), (2, 'weight', '3', {now})",
            ):
                conn.execute(text(statement))
        with engine.begin() as conn:
            command.upgrade(_config(conn), "head")
        with engine.begin() as conn:
            rows = conn.execute(text("SELECT id, next_row FROM form_record ORDER BY id")).all()
            paths = conn.execute(text("SELECT path FROM item_value ORDER BY path")).scalars()
            assert list(paths) == ["doses-0-mg", "doses-2-mg", "weight", "weight"]
        assert [tuple(r) for r in rows] == [(1, 3), (2, 0)]
    finally:
        engine.dispose()
