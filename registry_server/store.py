"""The registry's own SQLite file: resources, their versions, identifiers, linkage keys, a log.

One connection per request (sqlite3 connections are not shared between threads). The file is
in WAL mode so reads go on while a transaction writes, and every write runs in
`BEGIN IMMEDIATE`: the searches a conditional create or update makes happen inside the same
write lock as its insert, so two identical pushes at the same moment cannot both create.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS resource (
    type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, updated TEXT NOT NULL,
    content TEXT NOT NULL, PRIMARY KEY (type, id));
CREATE TABLE IF NOT EXISTS history (
    type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, updated TEXT NOT NULL,
    content TEXT NOT NULL, PRIMARY KEY (type, id, version));
CREATE TABLE IF NOT EXISTS identifier (
    type TEXT NOT NULL, id TEXT NOT NULL, system TEXT NOT NULL, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS identifier_lookup ON identifier (type, system, value);
CREATE INDEX IF NOT EXISTS identifier_value ON identifier (type, value);
CREATE INDEX IF NOT EXISTS identifier_owner ON identifier (type, id);
CREATE TABLE IF NOT EXISTS linkage (
    id TEXT PRIMARY KEY, subject TEXT NOT NULL, site TEXT NOT NULL, token TEXT, clk BLOB);
CREATE INDEX IF NOT EXISTS linkage_token ON linkage (token);
CREATE TABLE IF NOT EXISTS received (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, sha256 TEXT NOT NULL,
    entries TEXT NOT NULL);
"""

#: Seconds a request waits for another's write lock before giving up.
BUSY_TIMEOUT = 30.0


@dataclass(frozen=True)
class Stored:
    """One stored version of a resource."""

    type: str
    id: str
    version: int
    updated: str
    content: dict[str, Any]

    @property
    def location(self) -> str:
        """`Type/id/_history/n`, as a transaction-response names it."""
        return f"{self.type}/{self.id}/_history/{self.version}"


@dataclass(frozen=True)
class LinkageKey:
    """What record linkage reads of one Patient: never more than pseudonym, site and keys."""

    subject: str
    site: str
    token: str | None
    clk: bytes | None


def initialise(path: Path) -> None:
    """Create the file and its tables if missing, and switch it to WAL (a persistent mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(SCHEMA)
    finally:
        connection.close()


@contextmanager
def session(path: Path) -> Iterator[Session]:
    """A connection for one request, closed at the end."""
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
    try:
        yield Session(connection)
    finally:
        connection.close()


def _row(row: tuple[Any, ...] | None) -> Stored | None:
    if row is None:
        return None
    return Stored(row[0], row[1], row[2], row[3], json.loads(row[4]))


class Session:
    """Reads and writes on one connection. Writes happen only inside `transaction()`."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.db = connection

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing, under the write lock from the start (see the module docstring)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def get(self, type_: str, id_: str) -> Stored | None:
        """The current version of a resource, or None."""
        cursor = self.db.execute(
            "SELECT type, id, version, updated, content FROM resource WHERE type=? AND id=?",
            (type_, id_),
        )
        return _row(cursor.fetchone())

    def get_version(self, type_: str, id_: str, version: int) -> Stored | None:
        """One past (or the current) version of a resource, or None."""
        cursor = self.db.execute(
            "SELECT type, id, version, updated, content FROM history "
            "WHERE type=? AND id=? AND version=?",
            (type_, id_, version),
        )
        return _row(cursor.fetchone())

    def _match(self, system: str | None, value: str | None) -> tuple[str, list[Any]]:
        """The WHERE clause on `resource` for an identifier search (None: no filter)."""
        if value is None:
            return "", []
        if system is None:
            sql = "SELECT id FROM identifier WHERE type=r.type AND value=?"
            return f" AND r.id IN ({sql})", [value]
        sql = "SELECT id FROM identifier WHERE type=r.type AND system=? AND value=?"
        return f" AND r.id IN ({sql})", [system, value]

    def search(
        self, type_: str, system: str | None, value: str | None, limit: int, offset: int
    ) -> tuple[int, list[Stored]]:
        """How many resources of a type match, and one page of them (in id order: stable paging).

        `value` None lists the type; `system` None matches the value in any system.
        """
        where, args = self._match(system, value)
        total = self.db.execute(
            f"SELECT count(*) FROM resource r WHERE r.type=?{where}",  # noqa: S608 (fixed text)
            [type_, *args],
        ).fetchone()[0]
        cursor = self.db.execute(
            "SELECT r.type, r.id, r.version, r.updated, r.content FROM resource r "  # noqa: S608
            f"WHERE r.type=?{where} ORDER BY r.id LIMIT ? OFFSET ?",
            [type_, *args, limit, offset],
        )
        return total, [stored for row in cursor.fetchall() if (stored := _row(row))]

    def find_ids(self, type_: str, system: str | None, value: str, limit: int = 2) -> list[str]:
        """Ids of the resources carrying an identifier (`limit` 2 tells none, one and several)."""
        return [stored.id for stored in self.search(type_, system, value, limit, 0)[1]]

    def put(
        self,
        stored: Stored,
        identifiers: list[tuple[str, str]],
        linkage: LinkageKey | None,
    ) -> None:
        """Write a new current version, its history row, identifiers and linkage keys."""
        content = json.dumps(stored.content, sort_keys=True, separators=(",", ":"))
        row = (stored.type, stored.id, stored.version, stored.updated, content)
        self.db.execute("INSERT OR REPLACE INTO resource VALUES (?, ?, ?, ?, ?)", row)
        self.db.execute("INSERT INTO history VALUES (?, ?, ?, ?, ?)", row)
        self.db.execute("DELETE FROM identifier WHERE type=? AND id=?", (stored.type, stored.id))
        self.db.executemany(
            "INSERT INTO identifier VALUES (?, ?, ?, ?)",
            [(stored.type, stored.id, system, value) for system, value in identifiers],
        )
        if stored.type == "Patient":
            self.db.execute("DELETE FROM linkage WHERE id=?", (stored.id,))
            if linkage is not None:
                self.db.execute(
                    "INSERT INTO linkage VALUES (?, ?, ?, ?, ?)",
                    (stored.id, linkage.subject, linkage.site, linkage.token, linkage.clk),
                )

    def log_received(self, at: str, sha256: str, entries: list[dict[str, Any]]) -> None:
        """Note an accepted transaction (inside its own database transaction)."""
        self.db.execute(
            "INSERT INTO received (at, sha256, entries) VALUES (?, ?, ?)",
            (at, sha256, json.dumps(entries)),
        )

    def received(self, limit: int) -> list[dict[str, Any]]:
        """The newest accepted transactions, newest first."""
        cursor = self.db.execute(
            "SELECT seq, at, sha256, entries FROM received ORDER BY seq DESC LIMIT ?", (limit,)
        )
        return [
            {"seq": seq, "at": at, "sha256": digest, "entries": json.loads(entries)}
            for seq, at, digest, entries in cursor.fetchall()
        ]

    def linkage_count(self) -> int:
        """How many Patients carry a linkage key."""
        return int(self.db.execute("SELECT count(*) FROM linkage").fetchone()[0])

    def linkage_keys(self) -> list[LinkageKey]:
        """Every Patient's linkage keys (the caller bounds how many first)."""
        cursor = self.db.execute("SELECT subject, site, token, clk FROM linkage ORDER BY id")
        return [LinkageKey(*row) for row in cursor.fetchall()]

    def token_matches(self, limit: int) -> list[tuple[LinkageKey, LinkageKey]]:
        """Pairs at different sites sharing an exact token (the blocking the index answers)."""
        cursor = self.db.execute(
            "SELECT a.subject, a.site, a.token, a.clk, b.subject, b.site, b.token, b.clk "
            "FROM linkage a JOIN linkage b ON a.token = b.token AND a.id < b.id "
            "WHERE a.token IS NOT NULL AND a.site <> b.site LIMIT ?",
            (limit,),
        )
        return [(LinkageKey(*row[:4]), LinkageKey(*row[4:])) for row in cursor.fetchall()]
