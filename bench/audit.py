"""Audit trail throughput: appends per second (1 and 8 writers) and verification speed.

Each figure is printed beside a baseline measured in the same run on the same database:
a plain INSERT + COMMIT into a table of the same shape (for appends) and a plain streaming
SELECT of the events (for verification).

Run: .venv/bin/python -m bench.audit [--url postgresql+psycopg://…/postgres] [--events 100000]
With no --url, TEST_POSTGRES_URL is used if set, else a SQLite file.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from edc import audit
from edc.actor import Actor
from edc.extensions import make_engine
from edc.settings import ROOT
from tests.databases import fresh_database_url

ACTOR = Actor(user=None, ip="127.0.0.1", user_agent="bench", label="bench")
VALUE = {"field": "mycn_copies", "value": 12.5}


def _migrate(engine: Engine) -> None:
    config = Config(str(ROOT / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        conn.execute(
            text(
                "CREATE TABLE bench_plain (seq INTEGER PRIMARY KEY, at TIMESTAMP,"
                " action VARCHAR(64), actor_email VARCHAR(254), new_value TEXT,"
                " ip VARCHAR(64), user_agent VARCHAR(300), prev_hash VARCHAR(64),"
                " hash VARCHAR(64))"
            )
        )


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def _threads(n: int, per_thread: int, work: Callable[[int, int], None]) -> float:
    barrier = threading.Barrier(n + 1)
    errors: list[BaseException] = []

    def run(t: int) -> None:
        barrier.wait()
        try:
            for i in range(per_thread):
                work(t, i)
        except BaseException as exc:  # reported after the run
            errors.append(exc)

    pool = [threading.Thread(target=run, args=(t,)) for t in range(n)]
    for t in pool:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def _appends(engine: Engine, n: int) -> None:
    """Append rate: a plain insert beside an audit append, with 1 and 8 writers."""
    counter = iter(range(1, 10**9))
    lock = threading.Lock()

    def plain(_t: int, _i: int) -> None:
        with lock:
            seq = next(counter)
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO bench_plain VALUES (:s, CURRENT_TIMESTAMP, 'bench', 'bench',"
                    " :v, '127.0.0.1', 'bench', :h, :h)"
                ),
                {"s": seq, "v": str(VALUE), "h": "0" * 64},
            )

    def chained(_t: int, _i: int) -> None:
        with Session(engine) as session:
            audit.record(session, ACTOR, "bench.append", new=VALUE)
            session.commit()

    print(f"database: {engine.dialect.name}; {n} appends per measurement, one commit each")
    for writers in (1, 8):
        per = n // writers
        base = _rate(per * writers, _threads(writers, per, plain))
        mine = _rate(per * writers, _threads(writers, per, chained))
        print(
            f"{writers} writer(s): plain insert {base:8.0f}/s | audit append {mine:8.0f}/s"
            f" | ratio {mine / base:.2f}"
        )


def _fill(engine: Engine, events: int, batch: int = 1000) -> None:
    with engine.connect() as conn:
        have = conn.scalar(text("SELECT count(*) FROM audit_event")) or 0
    started = time.perf_counter()
    while have < events:
        with Session(engine) as session:
            step = min(batch, events - have)
            for _ in range(step):
                audit.record(session, ACTOR, "bench.fill", new=VALUE)
            session.commit()
        have += step
    fill = time.perf_counter() - started
    print(f"filled the trail to {events} events ({fill:.1f} s, batches of {batch})")


def _verify(engine: Engine) -> None:
    """Verifying the chain beside a plain scan of the same rows."""
    with engine.connect() as conn:
        started = time.perf_counter()
        rows = sum(
            1
            for _ in conn.execute(
                text("SELECT * FROM audit_event"), execution_options={"yield_per": 5000}
            )
        )
        scan = time.perf_counter() - started
        started = time.perf_counter()
        result = audit.verify(conn)
        check = time.perf_counter() - started
    assert result.ok, result
    print(
        f"verify: {result.checked} events in {check:.2f} s = {_rate(result.checked, check):8.0f}/s"
        f" | plain scan {_rate(rows, scan):8.0f}/s | ratio {scan / check:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=os.environ.get("TEST_POSTGRES_URL") or None)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--appends", type=int, default=2_000)
    args = parser.parse_args()

    audit.configure("bench-audit-key")
    url = fresh_database_url(Path(tempfile.mkdtemp()), "bench", admin_url=args.url or "")
    engine = make_engine(url, pool_size=16) if not url.startswith("sqlite") else make_engine(url)
    _migrate(engine)
    _appends(engine, args.appends)
    _fill(engine, args.events)
    _verify(engine)
    engine.dispose()


if __name__ == "__main__":
    main()
