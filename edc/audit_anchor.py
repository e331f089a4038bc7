"""Signed checkpoints of the audit chain's head, kept where the database cannot rewrite them.

Without the audit key nobody can forge or edit an event unseen, but whoever may write to the
database can delete the newest events and point the head back at what is left: the shorter chain
still verifies. So the head (sequence, hash, time) is signed with a key derived from the audit key
and appended to a file outside the database, and logged; `flask audit verify` then reports a
chain that no longer holds the event the last checkpoint named.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from time import monotonic
from typing import Any

from flask import Flask
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from edc.models.audit import AuditEvent, AuditHead
from edc.models.base import utcnow
from edc.settings import Settings

log = logging.getLogger("edc.audit")

FILE_NAME = "checkpoints.jsonl"
MAX_LINE = 1024  # a checkpoint line is ~200 bytes: anything longer is not one
MAX_LISTED = 5  # bad lines named in a report; the rest are counted
_FIELDS = {"seq", "hash", "at", "sig"}
_events = AuditEvent.__table__
_head = AuditHead.__table__


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at one moment: `seq` events, the last with `hash`, signed."""

    seq: int
    hash: str
    at: str  # UTC, ISO 8601
    sig: str

    def line(self) -> str:
        return json.dumps(
            {"seq": self.seq, "hash": self.hash, "at": self.at, "sig": self.sig},
            separators=(",", ":"),
            sort_keys=True,
        )


def directory(settings: Settings) -> Path:
    return settings.audit_checkpoint_dir or settings.instance_path / "audit-checkpoints"


def _signing_key(settings: Settings) -> bytes:
    """A key of its own, derived from the audit key: a checkpoint is never a valid event hash."""
    return hmac.new(settings.audit_key.encode(), b"edc audit checkpoint", hashlib.sha256).digest()


def _signature(key: bytes, seq: int, hash_: str, at: str) -> str:
    message = json.dumps([seq, hash_, at], separators=(",", ":")).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def checkpoint(conn: Connection, settings: Settings) -> Checkpoint:
    """Sign the committed head, append it to the checkpoint file (fsynced) and log it."""
    head = conn.execute(select(_head.c.seq, _head.c.hash).where(_head.c.id == 1)).one()
    at = utcnow().isoformat(timespec="seconds")
    point = Checkpoint(
        head.seq, head.hash, at, _signature(_signing_key(settings), head.seq, head.hash, at)
    )
    _append(directory(settings) / FILE_NAME, point.line())
    log.info("audit checkpoint %s", point.line())
    return point


def _append(path: Path, line: str) -> None:
    """One write of a whole line with O_APPEND: processes writing at once never interleave."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = (line + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        if os.write(fd, data) != len(data):
            raise OSError(f"short write to {path}")
        os.fsync(fd)
    finally:
        os.close(fd)


# -- regularly, from the commit point ------------------------------------------------------------


@dataclass
class _Schedule:
    due: float = 0.0  # monotonic time of the next look at the head
    last: tuple[int, str] | None = None  # the head this process last anchored
    lock: threading.Lock = field(default_factory=threading.Lock)


_SCHEDULE = "edc_audit_anchor"


def after_commit(session: Session, app: Flask) -> None:
    """Anchor the head when this process's last checkpoint is older than the setting and the
    head has moved since. Otherwise it costs a clock read: no query, no file access."""
    every = app.config["EDC_SETTINGS"].audit_checkpoint_every
    if every is None:
        return
    schedule: _Schedule | None = app.extensions.get(_SCHEDULE)
    if schedule is None:
        schedule = app.extensions.setdefault(_SCHEDULE, _Schedule())
    now = monotonic()
    if now < schedule.due or not schedule.lock.acquire(blocking=False):
        return
    try:
        schedule.due = now + every.total_seconds()
        settings = app.config["EDC_SETTINGS"]
        conn = session.connection()
        head = conn.execute(select(_head.c.seq, _head.c.hash).where(_head.c.id == 1)).one()
        if tuple(head) != schedule.last:
            point = checkpoint(conn, settings)
            schedule.last = (point.seq, point.hash)
        session.rollback()  # read only: end the transaction (and SQLite's write lock) now
    except Exception:  # the request has committed: a failed checkpoint must not fail it
        log.exception("audit checkpoint failed; next try in %s", every)
        session.rollback()
    finally:
        schedule.lock.release()


# -- reading them back, for verify ---------------------------------------------------------------


@dataclass(frozen=True)
class Anchors:
    """What the checkpoint file holds: the valid checkpoint naming the longest chain, and the
    lines that are not valid checkpoints (altered, or signed with another key)."""

    path: Path
    exists: bool
    latest: Checkpoint | None = None
    bad_lines: tuple[int, ...] = ()  # the first few line numbers
    bad_count: int = 0


def read(settings: Settings) -> Anchors:
    """Stream the file once, in bounded memory whatever it holds.

    The checkpoint with the highest sequence wins, not the last line: a valid old line copied to
    the end must not let a truncation after it pass.
    """
    path = directory(settings) / FILE_NAME
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return Anchors(path, exists=False)
    key = _signing_key(settings)
    latest: Checkpoint | None = None
    bad: list[int] = []
    bad_count = 0
    with fh:
        number = 0
        while raw := fh.readline(MAX_LINE + 1):
            number += 1
            if not raw.endswith(b"\n") and len(raw) > MAX_LINE:
                while raw and not raw.endswith(b"\n"):  # skip the rest of an overlong line
                    raw = fh.readline(MAX_LINE + 1)
                point = None
            elif not raw.strip():
                continue
            else:
                point = _parse(raw, key)
            if point is None:
                bad_count += 1
                if len(bad) < MAX_LISTED:
                    bad.append(number)
            elif latest is None or point.seq >= latest.seq:
                latest = point
    return Anchors(path, True, latest, tuple(bad), bad_count)


def _parse(raw: bytes, key: bytes) -> Checkpoint | None:
    try:
        data: Any = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or set(data) != _FIELDS:
        return None
    seq, hash_, at, sig = data["seq"], data["hash"], data["at"], data["sig"]
    if not (type(seq) is int and seq >= 0 and isinstance(hash_, str) and isinstance(at, str)):
        return None
    if not isinstance(sig, str) or not hmac.compare_digest(sig, _signature(key, seq, hash_, at)):
        return None
    try:
        datetime.fromisoformat(at)
    except ValueError:
        return None
    return Checkpoint(seq, hash_, at, sig)


@dataclass(frozen=True)
class AnchorCheck:
    """The chain held against the checkpoints: `problems` make verify fail, `note` informs."""

    problems: tuple[str, ...]
    note: str


def check(conn: Connection, anchors: Anchors) -> AnchorCheck:
    """Two indexed look-ups: the event the latest checkpoint names, and the chain's end."""
    problems: list[str] = []
    if anchors.bad_count:
        listed = ", ".join(str(n) for n in anchors.bad_lines)
        more = "…" if anchors.bad_count > len(anchors.bad_lines) else ""
        problems.append(
            f"checkpoint file altered: {anchors.bad_count} line(s) of {anchors.path} are not"
            f" validly signed checkpoints (line {listed}{more}): the file was changed, or written"
            " with another audit key"
        )
    point = anchors.latest
    if point is None:
        where = f"none valid in {anchors.path}" if anchors.exists else f"no {anchors.path}"
        return AnchorCheck(tuple(problems), f"no checkpoint to check against ({where})")
    named = f"the last checkpoint (seq {point.seq}, {point.at})"
    if point.seq > 0:
        stored = conn.scalar(select(_events.c.hash).where(_events.c.seq == point.seq))
        if stored is None:
            last = conn.scalar(select(func.max(_events.c.seq))) or 0
            problems.append(
                f"audit trail truncated: {named} names an event that is missing:"
                f" events after {last} were removed"
            )
            return AnchorCheck(tuple(problems), "")
        elif not hmac.compare_digest(stored, point.hash):
            problems.append(
                f"audit trail rewritten: event {point.seq} is not the one {named} recorded:"
                " events up to it were removed and others written in their place"
            )
            return AnchorCheck(tuple(problems), "")
    return AnchorCheck(tuple(problems), f"checked against {named}")
