"""Checkpoints anchor the audit chain outside the database: cutting its newest events is seen."""

from __future__ import annotations

import json
import logging
import stat
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from edc import audit, audit_anchor, db_roles
from edc.actor import Actor
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.settings import Settings
from tests.edc.test_audit import _drop_triggers


@pytest.fixture
def anchored(app, tmp_path, monkeypatch) -> Path:
    """The app writes its checkpoints to this test's own directory."""
    settings = replace(app.config["EDC_SETTINGS"], audit_checkpoint_dir=tmp_path / "anchors")
    monkeypatch.setitem(app.config, "EDC_SETTINGS", settings)
    return tmp_path / "anchors" / audit_anchor.FILE_NAME


def _cli(app, *args: str):
    return app.test_cli_runner().invoke(args=["audit", *args])


def _events(n: int) -> None:
    for i in range(n):
        audit.record(db.session, Actor.cli(), "test.anchor", new={"i": i})
    db.session.commit()  # kept by the test's outer transaction; a command's end rolls back


def _last_seq() -> int:
    return db.session.scalar(select(func.max(AuditEvent.seq))) or 0


def _cut_after(seq: int) -> None:
    """Delete the events after `seq` and point the head at `seq`, as a DBA could by hand."""
    _drop_triggers()
    db.session.execute(text("DELETE FROM audit_event WHERE seq > :s"), {"s": seq})
    tip = db.session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq))
    db.session.execute(text("UPDATE audit_head SET seq = :s, hash = :h"), {"s": seq, "h": tip})
    db.session.commit()


def test_a_checkpoint_is_signed_appended_to_a_private_file_and_logged(app, anchored, caplog):
    _events(3)
    caplog.set_level(logging.INFO, logger="edc.audit")
    first = _cli(app, "checkpoint")
    _events(1)
    second = _cli(app, "checkpoint")
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    lines = anchored.read_text().splitlines()
    assert lines == [first.output.strip(), second.output.strip()]
    point = json.loads(lines[1])
    assert point["seq"] == _last_seq()
    assert point["hash"] == db.session.scalar(select(AuditEvent.hash).order_by(-AuditEvent.seq))
    assert point["at"].endswith("+00:00")
    assert len(point["sig"]) == 64
    assert stat.S_IMODE(anchored.stat().st_mode) == 0o600
    assert [r.getMessage() for r in caplog.records if r.name == "edc.audit"] == [
        f"audit checkpoint {line}" for line in lines
    ]


def test_verify_without_a_checkpoint_says_so(app, anchored):
    _events(2)
    result = _cli(app, "verify")
    assert result.exit_code == 0, result.output
    assert "intact" in result.output
    assert "no checkpoint to check against" in result.output


def test_verify_checks_the_chain_against_the_last_checkpoint(app, anchored):
    _events(3)
    _cli(app, "checkpoint")
    seq = _last_seq()
    _events(2)  # events after the checkpoint are fine
    result = _cli(app, "verify")
    assert result.exit_code == 0, result.output
    assert f"checked against the last checkpoint (seq {seq}, " in result.output


def test_deleting_the_newest_events_and_rewriting_the_head_is_reported_as_truncation(
    app, db_owner, anchored
):
    _events(6)
    _cli(app, "checkpoint")
    checkpointed = _last_seq()
    _cut_after(checkpointed - 4)
    result = _cli(app, "verify")
    assert result.exit_code == 1, result.output
    assert f"audit trail truncated: the last checkpoint (seq {checkpointed}, " in result.output
    assert (
        f"names an event that is missing: events after {checkpointed - 4} were removed"
        in result.output
    )
    assert "intact" not in result.output


def test_without_a_checkpoint_the_same_cut_would_pass_unseen(app, db_owner, anchored):
    """Why checkpoints exist: the shortened chain is consistent in itself."""
    _events(6)
    _cut_after(_last_seq() - 4)
    result = _cli(app, "verify")
    assert result.exit_code == 0
    assert "no checkpoint to check against" in result.output


def test_a_cut_followed_by_new_events_is_reported_as_rewritten(app, db_owner, anchored):
    _events(6)
    _cli(app, "checkpoint")
    checkpointed = _last_seq()
    _cut_after(checkpointed - 3)
    _events(5)  # the application goes on writing after the cut: event `checkpointed` is new
    result = _cli(app, "verify")
    assert result.exit_code == 1, result.output
    assert f"audit trail rewritten: event {checkpointed} is not the one" in result.output


def test_an_old_checkpoint_copied_to_the_end_does_not_hide_a_cut(app, db_owner, anchored):
    _events(3)
    _cli(app, "checkpoint")
    older = anchored.read_text()
    _events(3)
    _cli(app, "checkpoint")
    checkpointed = _last_seq()
    with anchored.open("a") as fh:
        fh.write(older)  # a valid line, signed: replayed after the newest
    _cut_after(checkpointed - 3)
    result = _cli(app, "verify")
    assert result.exit_code == 1
    assert f"the last checkpoint (seq {checkpointed}, " in result.output


@pytest.mark.parametrize(
    "tampered",
    [
        lambda line: line.replace('"seq":', '"seq":1'),  # another sequence, old signature
        lambda line: "not json at all",
        lambda line: "[" * 5000,  # overlong
        lambda line: json.dumps({"seq": True, "hash": "", "at": "", "sig": ""}),
    ],
)
def test_a_line_that_is_not_a_valid_checkpoint_is_reported(app, anchored, tampered):
    _events(2)
    _cli(app, "checkpoint")
    line = anchored.read_text().strip()
    with anchored.open("a") as fh:
        fh.write(tampered(line) + "\n")
    result = _cli(app, "verify")
    assert result.exit_code == 1
    assert "checkpoint file altered: 1 line(s)" in result.output
    assert "(line 2)" in result.output
    assert f"checked against the last checkpoint (seq {_last_seq()}, " in result.output


def test_a_checkpoint_signed_with_another_key_is_not_trusted(app, anchored, monkeypatch):
    _events(2)
    settings = app.config["EDC_SETTINGS"]
    monkeypatch.setitem(app.config, "EDC_SETTINGS", replace(settings, audit_key="someone else"))
    _cli(app, "checkpoint")
    monkeypatch.setitem(app.config, "EDC_SETTINGS", settings)
    result = _cli(app, "verify")
    assert result.exit_code == 1
    assert "written with another audit key" in result.output


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_requests_anchor_the_head_regularly_and_only_when_it_moved(
    app, client, anchored, monkeypatch
):
    settings = app.config["EDC_SETTINGS"]
    monkeypatch.setitem(
        app.config, "EDC_SETTINGS", replace(settings, audit_checkpoint_every=timedelta(minutes=5))
    )
    monkeypatch.delitem(app.extensions, "edc_audit_anchor", raising=False)
    clock = _Clock()
    monkeypatch.setattr(audit_anchor, "monotonic", clock)

    def lines() -> list[dict]:
        return [json.loads(x) for x in anchored.read_text().splitlines()]

    _events(1)
    assert client.get("/login").status_code == 200
    assert [p["seq"] for p in lines()] == [_last_seq()]  # the first commit of the process
    _events(1)
    clock.now += 299
    client.get("/login")
    assert len(lines()) == 1  # the head moved, but the last checkpoint is recent
    clock.now += 2
    client.get("/login")
    assert [p["seq"] for p in lines()][-1] == _last_seq()  # five minutes on: anchored
    clock.now += 600
    client.get("/login")
    assert len(lines()) == 2  # time passed, but the head did not move


def test_a_failing_checkpoint_does_not_fail_the_request(app, client, tmp_path, monkeypatch):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    settings = replace(
        app.config["EDC_SETTINGS"],
        audit_checkpoint_dir=blocked,  # a file where the directory should be
        audit_checkpoint_every=timedelta(minutes=5),
    )
    monkeypatch.setitem(app.config, "EDC_SETTINGS", settings)
    monkeypatch.delitem(app.extensions, "edc_audit_anchor", raising=False)
    _events(1)
    assert client.get("/login").status_code == 200


def test_settings_read_the_owner_url_and_checkpoint_options(monkeypatch, tmp_path):
    monkeypatch.setenv("EDC_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://edc_app@db/edc")
    monkeypatch.setenv("DATABASE_OWNER_URL", "postgresql+psycopg://edc_owner@db/edc")
    monkeypatch.setenv("EDC_AUDIT_CHECKPOINT_DIR", str(tmp_path / "anchors"))
    monkeypatch.setenv("EDC_AUDIT_CHECKPOINT_MINUTES", "0")
    settings = Settings.from_env()
    assert db_roles.owner_url(settings) == "postgresql+psycopg://edc_owner@db/edc"
    assert audit_anchor.directory(settings) == tmp_path / "anchors"
    assert settings.audit_checkpoint_every is None
    monkeypatch.delenv("DATABASE_OWNER_URL")
    monkeypatch.delenv("EDC_AUDIT_CHECKPOINT_DIR")
    monkeypatch.setenv("EDC_AUDIT_CHECKPOINT_MINUTES", "soon")
    with pytest.raises(ValueError, match="EDC_AUDIT_CHECKPOINT_MINUTES must be a whole number"):
        Settings.from_env()
    monkeypatch.delenv("EDC_AUDIT_CHECKPOINT_MINUTES")
    settings = Settings.from_env()
    assert db_roles.owner_url(settings) == settings.database_url
    assert audit_anchor.directory(settings) == tmp_path / "audit-checkpoints"
    assert settings.audit_checkpoint_every == timedelta(minutes=5)


def test_production_on_postgresql_with_one_role_is_warned_about(caplog, tmp_path):
    shared = Settings(
        database_url="postgresql+psycopg://edc@db/edc",
        secret_key="s",
        vault_key="v",
        audit_key="a",
        instance_path=tmp_path,
    )
    with caplog.at_level(logging.WARNING, logger="edc.db_roles"):
        db_roles.warn_if_shared(shared)
        db_roles.warn_if_shared(replace(shared, database_owner_url="postgresql://owner@db/edc"))
        db_roles.warn_if_shared(replace(shared, testing=True))
        db_roles.warn_if_shared(replace(shared, database_url="sqlite:///x.sqlite3"))
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "DATABASE_OWNER_URL is not set" in caplog.text
