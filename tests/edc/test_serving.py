"""Serving in production: gunicorn with its settings, GET /health for load balancers, the demo's
address. See README "Running in production" and docs/security.md (serving)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from edc.extensions import db, make_engine
from edc.models.audit import AuditEvent
from tests.databases import on_postgres

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _audit_events() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent))


# --- GET /health -----------------------------------------------------------------------------


def test_health_answers_ok_and_reveals_nothing(client):
    before = _audit_events()
    response = client.get("/health", headers={"Cookie": "edc=forged; other=1"})
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok\n"
    assert response.mimetype == "text/plain"
    assert "Set-Cookie" not in response.headers  # no session started for a probe
    assert response.headers["Cache-Control"] == "no-store"
    assert _audit_events() == before  # probes every few seconds would flood the trail


def test_health_answers_a_load_balancer_probing_by_address(app, client, monkeypatch):
    """Load balancers probe by IP address: /health answers any Host, every page still refuses."""
    settings = replace(app.config["EDC_SETTINGS"], trusted_hosts=("edc.example.org",))
    monkeypatch.setitem(app.config, "EDC_SETTINGS", settings)
    probe = client.get("/health", headers={"Host": "10.1.2.3:8000"})
    assert probe.status_code == 200
    assert probe.get_data(as_text=True) == "ok\n"
    assert client.get("/login", headers={"Host": "10.1.2.3:8000"}).status_code == 400
    assert client.get("/health?next=x", headers={"Host": "evil.example"}).status_code == 200


def _unreachable_database_url() -> str:
    """The suite's database, on a port where nothing listens (PostgreSQL), or a SQLite file in a
    folder that does not exist."""
    if on_postgres():
        url = make_url(db.engine.url)
        query = dict(url.query)
        query.pop("host", None)  # the cluster's socket folder: use TCP to a closed port instead
        return url.set(host="127.0.0.1", port=_free_port(), query=query).render_as_string(
            hide_password=False
        )
    return "sqlite:////nonexistent-edc-folder/missing/edc.sqlite3"


def test_health_answers_503_when_the_database_does_not(client, monkeypatch):
    engine = make_engine(_unreachable_database_url())
    monkeypatch.setattr(db, "engine", engine)
    try:
        started = time.monotonic()
        response = client.get("/health")
        assert response.status_code == 503
        body = response.get_data(as_text=True)
        assert body == "unavailable\n"  # no driver message, no host, no port
        assert "Set-Cookie" not in response.headers
        assert time.monotonic() - started < 5
    finally:
        engine.dispose()


# --- gunicorn ----------------------------------------------------------------------------------


def _server_env(tmp_path: Path, port: int) -> dict[str, str]:
    """A demo-configured portal (EDC_DEV=1) on a fresh SQLite database in tmp_path."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EDC_", "DATABASE_", "TEST_POSTGRES", "WEB_CONCURRENCY"))
    }
    env.update(
        EDC_DEV="1",
        EDC_INSTANCE_PATH=str(tmp_path / "instance"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'edc.sqlite3'}",
        EDC_TRUSTED_HOSTS="localhost,127.0.0.1",
        EDC_MAIL_BACKEND="console",
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY="2",
    )
    return env


def _get(url: str, **headers: str) -> tuple[int, str, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - a local http URL
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def _wait_until_up(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60  # workers import the whole app: slow on a busy CI machine
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail("gunicorn stopped:\n" + log.read_text())
        try:
            _get(base + "/health")
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail("gunicorn did not answer within 60 s:\n" + log.read_text())


def test_gunicorn_serves_the_portal_and_logs_no_query_string(tmp_path):
    port = _free_port()
    env = _server_env(tmp_path, port)
    migrate = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app:create_app", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        server = subprocess.Popen(  # the documented command, with the config file it reads
            [sys.executable, "-m", "gunicorn", "app:create_app()"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, server, log)
        status, body, headers = _get(base + "/health?q=secret-health")
        assert (status, body) == (200, "ok\n")
        assert "Set-Cookie" not in headers
        status, body, _ = _get(
            base + "/login?q=secret-search&token=secret-token",
            Referer=base + "/subjects?q=secret-referer",
        )
        assert status == 200
        assert 'name="password"' in body
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    text = log.read_text()
    assert f"Listening at: http://127.0.0.1:{port}" in text
    assert '"GET /login HTTP/1.1" 200' in text
    assert '"GET /health HTTP/1.1" 200' in text
    assert "secret" not in text  # neither the query strings nor the Referer


# --- scripts/demo ------------------------------------------------------------------------------


def _demo(*args: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT")}
    environ.update(env)
    done = subprocess.run(
        [str(ROOT / "scripts" / "demo"), *args, "--dry-run"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_demo_serves_on_the_port_and_host_asked_for():
    default = _demo()
    assert "http://127.0.0.1:5000/login" in default
    assert "--host 127.0.0.1 --port 5000" in default
    by_option = _demo("--port", "8123", "--host", "localhost")
    assert "http://localhost:8123/login" in by_option
    assert "--host localhost --port 8123" in by_option
    by_env = _demo(PORT="8124", HOST="0.0.0.0")  # noqa: S104 - only printed, never bound
    assert "http://localhost:8124/login" in by_env  # a wildcard address is opened as localhost
    assert "--host 0.0.0.0 --port 8124" in by_env
    assert "links: http://localhost:8124" in by_env  # mailed links point at the same place
