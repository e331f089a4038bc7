"""Fixtures: one app and one migrated database per run, one rolled-back transaction per test."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import Engine

from app import create_app
from edc.db_roles import owner_url
from edc.extensions import db, make_engine
from edc.settings import Settings
from tests import factories, mailbox, shared_fixtures
from tests.databases import fresh_database, on_postgres

OUTPUT = Path(
    os.environ.get("TEST_OUTPUT_DIR", Path(__file__).resolve().parent.parent / "test-output")
)


def test_settings(tmp: Path, database_url: str, database_owner_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        database_owner_url=database_owner_url,
        secret_key="test-secret-key-not-for-production",
        vault_key="test-vault-key",
        audit_key="test-audit-key",
        instance_path=tmp / "instance",
        testing=True,
        # Off: tests roll their events back, and a checkpoint naming them would outlive them.
        audit_checkpoint_every=None,
        linkage_secret="test-linkage-secret-shared-by-the-network",
    )


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    tmp = tmp_path_factory.mktemp("app")
    database = fresh_database(tmp, "suite")
    # On PostgreSQL the app connects as the limited application role; upgrade() as the owner.
    application = create_app(test_settings(tmp, database.url, database.owner_url))
    # No app context stays pushed: each request must get its own (and its own `g`).
    with application.app_context():
        upgrade()
    yield application
    db.session.remove()
    if db.engine is not None:
        db.engine.dispose()


@pytest.fixture(scope="session")
def _owner_engine(app: Flask) -> Iterator[Engine]:
    settings = app.config["EDC_SETTINGS"]
    assert db.engine is not None
    if owner_url(settings) == settings.database_url:
        yield db.engine
        return
    engine = make_engine(owner_url(settings))
    yield engine
    engine.dispose()


@pytest.fixture
def db_owner(_owner_engine: Engine) -> Engine:
    """The test's transaction runs as the database owner: for tests that tamper on purpose, as
    someone with full rights on the database could (still rolled back at the end)."""
    return _owner_engine


@pytest.fixture(autouse=True)
def _isolated(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test runs inside one outer transaction that is rolled back at the end.

    Tests marked `commits` (concurrency) write for real; they only append audit events. Tests of
    the pure libraries (forms_dsl, econsent/documents) get no app and no database at all. On
    PostgreSQL the transaction is the application role's, with its limited rights, unless the
    test takes `db_owner`.
    """
    parts = request.node.path.parts
    if "forms_dsl" in parts or ("econsent" in parts and "documents" in parts):
        yield
        return
    request.getfixturevalue("app")
    assert db.engine is not None
    if request.node.get_closest_marker("commits"):
        yield
        return
    engine = request.getfixturevalue("db_owner") if "db_owner" in request.fixturenames else None
    conn = (engine or db.engine).connect()
    outer = conn.begin()
    db.session.remove()
    db.session.configure(bind=conn, join_transaction_mode="create_savepoint")
    try:
        yield
    finally:
        db.session.remove()
        outer.rollback()
        conn.close()
        db.session.configure(bind=db.engine, join_transaction_mode="conditional_savepoint")


_real_connect = socket.socket.connect


def _local_only(self: socket.socket, address: Any) -> Any:
    host = address[0] if isinstance(address, tuple) else None
    if host is not None:
        try:
            local = ipaddress.ip_address(host).is_loopback
        except ValueError:
            local = host == "localhost"
        if not local:
            raise RuntimeError(f"test tried to reach {host}: outbound calls are not allowed")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_outbound_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sends real e-mail or HTTP anywhere but this machine."""
    monkeypatch.setattr(socket.socket, "connect", _local_only)


def https_client(app: Flask) -> FlaskClient:
    """A client that talks HTTPS like production (secure cookies, CSRF referrer check)."""
    client = app.test_client()
    client.environ_base.update(
        {
            "wsgi.url_scheme": "https",
            "HTTP_REFERER": "https://localhost/",
            "REMOTE_ADDR": "127.0.0.1",
        }
    )
    return client


@pytest.fixture(scope="session")
def _smtp_server() -> Iterator[tuple[mailbox.Mailbox, int]]:
    box = mailbox.Mailbox()
    controller = mailbox.start(box)
    yield box, controller.port
    controller.stop()


@pytest.fixture
def mail(app: Flask, _smtp_server: tuple[mailbox.Mailbox, int]) -> Iterator[mailbox.Mailbox]:
    """The portal sends real mail (EDC_MAIL_BACKEND=smtp) to a local SMTP server, read here."""
    box, port = _smtp_server
    box.messages.clear()
    box.refuse = False
    settings = app.config["EDC_SETTINGS"]
    app.config["EDC_SETTINGS"] = replace(
        settings,
        mail_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=port,
        mail_from="edc@portal.test",
        base_url="https://portal.test",
    )
    yield box
    app.config["EDC_SETTINGS"] = settings


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return https_client(app)


@pytest.fixture
def make_study() -> Callable[..., Any]:
    return factories.make_study


@pytest.fixture
def make_site() -> Callable[..., Any]:
    return factories.make_site


@pytest.fixture
def make_user() -> Callable[..., Any]:
    return factories.make_user


@pytest.fixture
def make_subject() -> Callable[..., Any]:
    return factories.make_subject


@pytest.fixture
def login() -> Callable[..., Any]:
    return factories.login


def pytest_report_header() -> str:
    return f"database: {'PostgreSQL' if on_postgres() else 'SQLite'}"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failure: every test must run there, but for the tests of
    shared public files when a clone has no such folder (they say so)."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    reports = reporter.stats.get("skipped", []) if reporter else []
    skipped = sum(1 for r in reports if shared_fixtures.REASON not in str(r.longrepr))
    if os.environ.get("EDC_FORBID_SKIPS") == "1" and skipped:
        reporter.write_line(
            f"FAILED: {skipped} test(s) were skipped; CI runs every test.", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
