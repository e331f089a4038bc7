"""Exports: items per second and peak memory of the CSV and ODM exports of a big study, next to
a baseline in the same run (raw SQL streamed into `csv.writer`).

For each study size (`--subjects`, 2,000 and 20,000 by default) a fresh database gets a
throwaway study (events `baseline` and `followup`; forms of 20 items: integer, decimal, date,
choice, yes/no; one form with a repeating section of three rows) and that many subjects at four
sites, every one with a consent in force (the export includes only such subjects) and every
record complete with realistic values, all written with bulk inserts. Then, as a data manager of
the study, through the real service `edc.services.exports.export` into a file of a temp dir:

- **csv**: the ZIP of tidy CSV files with its codebook and manifest;
- **odm**: the CDISC ODM 1.3.2 document (metadata, admin data, clinical data);
- **baseline**: one `SELECT` of every exported item value with its subject, visit and form,
  streamed (`yield_per`: a server-side cursor on PostgreSQL) into `csv.writer`.

Each is run in a forked child, twice: once timed (items/s = the item values exported, i.e. the
`item_value` rows of the exported subjects, divided by the wall time; and the growth of the
child's max RSS over what it had when forked), once under tracemalloc (the peak of Python
memory during the export: tracemalloc slows Python down, so it is never the timed run).

Targets (docs/exports.md, DESIGN §7): peak memory does not grow with the study size (the peaks
at the smallest and the largest size are compared), and CSV on PostgreSQL reaches 100,000 items/s.

Run: .venv/bin/python -m bench.export [--url ADMIN_DATABASE_URL] [--subjects 2000 20000]
With --url (e.g. scripts/pg-cluster's TEST_POSTGRES_URL) each size gets a new database there.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import random
import resource
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import Engine, Table, exists, func, insert, select

from app import create_app
from bench.portal import bench_user
from edc.access import Role
from edc.actor import Actor
from edc.cli import _add_site
from edc.extensions import db
from edc.models.base import utcnow
from edc.models.consent import ConsentScope
from edc.models.crf import EventOccurrence, FormRecord, ItemValue
from edc.models.definitions import FormVersion
from edc.models.studies import Study
from edc.models.subjects import Subject
from edc.models.users import User
from edc.services import exports, users
from edc.services.definitions import find_or_create_study, load_definition, read_folder
from edc.settings import Settings
from edc.web import app_context
from tests.databases import fresh_database_url

SITES = ("FR-01", "DE-02", "IT-03", "ES-04")
EVENTS = {"baseline": ("vitals", "labs", "treatment"), "followup": ("vitals", "labs")}
TYPES = ("integer", "decimal", "date", "choice", "yesno")
CHOICES = "[{code: low, label: Low}, {code: normal, label: Normal}, {code: high, label: High}]"
DRUGS = (
    "[{code: cis, label: Cisplatin}, {code: eto, label: Etoposide}, "
    "{code: vcr, label: Vincristine}]"
)
#: Rows of the repeating section `doses` in each treatment record.
DOSE_ROWS = 3
#: Records whose item values go in one insert (memory stays bounded while building).
RECORD_CHUNK = 5_000
TARGET_ITEMS_PER_S = 100_000
RECORDS = sum(len(forms) for forms in EVENTS.values())


def _fields(count: int) -> list[tuple[str, str]]:
    """(id, type) of `count` items, the types in turn."""
    return [(f"{TYPES[k % len(TYPES)][:3]}_{k:02d}", TYPES[k % len(TYPES)]) for k in range(count)]


FLAT = {"vitals": _fields(20), "labs": _fields(20), "treatment": _fields(11)}
DOSES = [("drug", "choice"), ("dose_mg", "integer"), ("given_on", "date")]


def _field_yaml(fid: str, kind: str, choices: str = CHOICES) -> str:
    extra = f", choices: {choices}" if kind == "choice" else ""
    return f"      - {{id: {fid}, type: {kind}, label: Item {fid}{extra}}}\n"


def study_folder() -> Path:
    """A throwaway study: two events, three forms of 20 items, one with a repeating section."""
    folder = Path(tempfile.mkdtemp()) / "bench-export"
    (folder / "forms").mkdir(parents=True)
    events = "".join(
        f"  - id: {e}\n    label: Event {e}\n    forms: [{', '.join(forms)}]\n"
        for e, forms in EVENTS.items()
    )
    (folder / "study.yaml").write_text(
        f"study: bench-export\ntitle: Export bench\nlanguages: [en]\nevents:\n{events}"
    )
    for form, fields in FLAT.items():
        text = f"form: {form}\nversion: 1\ntitle: Form {form}\nsections:\n"
        text += "  - id: main\n    title: Main\n    fields:\n"
        text += "".join(_field_yaml(fid, kind) for fid, kind in fields)
        if form == "treatment":
            text += "  - id: doses\n    title: Doses\n    repeat: {min: 0, max: 5}\n    fields:\n"
            text += "".join(_field_yaml(fid, kind, DRUGS) for fid, kind in DOSES)
        (folder / "forms" / f"{form}.yaml").write_text(text)
    return folder


def _value(
    kind: str, rng: random.Random, codes: tuple[str, ...] = ("low", "normal", "high")
) -> object:
    """A stored value as data entry stores it (edc/services/crf_values.py `to_stored`)."""
    if kind == "integer":
        return rng.randint(1, 250)
    if kind == "decimal":
        return f"{rng.uniform(0.5, 150):.2f}"
    if kind == "date":
        return (date(2025, 1, 1) + timedelta(days=rng.randint(0, 600))).isoformat()
    if kind == "choice":
        return rng.choice(codes)
    return rng.random() < 0.3  # yes/no


def _items(record_id: int, form: str, now: datetime) -> Iterator[dict[str, object]]:
    rng = random.Random(record_id)
    for fid, kind in FLAT[form]:
        yield {"record_id": record_id, "path": fid, "value": _value(kind, rng), "updated_at": now}
    if form == "treatment":
        for row in range(1, DOSE_ROWS + 1):
            for fid, kind in DOSES:
                value = _value(kind, rng, ("cis", "eto", "vcr"))
                path = f"doses-{row}-{fid}"
                yield {"record_id": record_id, "path": path, "value": value, "updated_at": now}


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


def _engine() -> Engine:
    engine = db.engine
    assert engine is not None
    return engine


def bulk_data(study: Study, count: int) -> None:
    """`count` consented subjects with every visit and form complete, in bulk inserts."""
    now = utcnow()
    sites = [_add_site(study, code, "Bench", code[:2]) for code in SITES]
    db.session.flush()
    db.session.execute(
        insert(_table(Subject)),
        [{"study_id": study.id, "site_id": sites[i % len(sites)].id, "number": i,
          "study_code": f"BX-{sites[i % len(sites)].code}-{i:05d}", "registered_at": now,
          "status": "enrolled", "status_date": now.date()} for i in range(1, count + 1)],
    )  # fmt: skip
    ids = list(db.session.scalars(select(Subject.id).where(Subject.study_id == study.id)))
    db.session.execute(
        insert(_table(ConsentScope)),
        [{"subject_id": s, "reference": f"bench:{s}", "document": "parent_consent",
          "title": "", "version": "1", "language": "en", "options": {},
          "since": now - timedelta(days=30), "recorded_at": now} for s in ids],
    )  # fmt: skip
    db.session.execute(
        insert(_table(EventOccurrence)),
        [{"subject_id": s, "event_id": e, "number": 1, "created_at": now}
         for s in ids for e in EVENTS],
    )  # fmt: skip
    versions = {f: i for f, i in db.session.execute(select(FormVersion.form_id, FormVersion.id))}
    occurrences = db.session.execute(
        select(EventOccurrence.id, EventOccurrence.subject_id, EventOccurrence.event_id)
    ).all()
    db.session.execute(
        insert(_table(FormRecord)),
        [{"subject_id": s, "occurrence_id": o, "form_id": f, "form_version_id": versions[f],
          "status": "complete", "row_version": 1, "created_at": now, "updated_at": now}
         for o, s, e in occurrences for f in EVENTS[e]],
    )  # fmt: skip
    records = db.session.execute(select(FormRecord.id, FormRecord.form_id)).all()
    for start in range(0, len(records), RECORD_CHUNK):
        chunk = records[start : start + RECORD_CHUNK]
        rows = [item for rid, form in chunk for item in _items(rid, form, now)]
        db.session.execute(insert(_table(ItemValue)), rows)
    db.session.commit()


@dataclass(frozen=True)
class Built:
    app: Flask
    url: str
    manager_id: int
    items: int
    seconds: float


def build(admin_url: str | None, count: int) -> Built:
    """A fresh database with the study and `count` subjects, filled in a child process: the
    memory the filling took is not this process's, so each export's RSS growth shows."""
    tmp = Path(tempfile.mkdtemp())
    url = fresh_database_url(tmp, "bench", admin_url)
    app = create_app(Settings.from_env(database_url=url, instance_path=tmp, testing=True))

    def fill() -> dict[str, float]:
        started = time.perf_counter()
        with app.app_context():
            _engine().dispose(close=False)
            upgrade()
            actor, folder = Actor.cli(), study_folder()
            study, _created = find_or_create_study(app_context(actor), read_folder(folder))
            load_definition(app_context(actor), study, folder, utcnow())
            db.session.flush()
            manager, _secret = bench_user(
                "Bench Data Manager", users.RoleScope(Role.DATA_MANAGER, study_id=study.id)
            )
            manager_id = manager.id
            db.session.commit()
            bulk_data(study, count)
            items = db.session.scalar(select(func.count()).select_from(ItemValue)) or 0
            db.session.remove()
        return {"manager": manager_id, "items": items, "seconds": time.perf_counter() - started}

    done = in_child(fill)
    return Built(app, url, int(done["manager"]), int(done["items"]), done["seconds"])


# --- What is measured -------------------------------------------------------------------------


def service_export(fmt: str, out: Path) -> Callable[[], int]:
    """The real export, as the data manager, to a file; returns the file's size."""

    def run() -> int:
        manager = db.session.scalars(select(User).where(User.email == "bench@x.test")).one()
        ctx = app_context(Actor(user=manager, ip="127.0.0.1"))
        where = exports.scope(ctx, "bench-export")
        with out.open("wb") as sink:
            outcome = exports.export(ctx, where, fmt, sink)
        db.session.commit()
        return outcome.size

    return run


def raw_csv(out: Path) -> Callable[[], int]:
    """The baseline: every item value of the consented subjects, one streamed SELECT into
    `csv.writer` (one row per item value); returns the file's size."""

    def run() -> int:
        query = (
            select(
                Subject.study_code,
                EventOccurrence.event_id,
                EventOccurrence.number,
                FormRecord.form_id,
                ItemValue.path,
                ItemValue.value,
            )
            .join(FormRecord, FormRecord.id == ItemValue.record_id)
            .join(EventOccurrence, EventOccurrence.id == FormRecord.occurrence_id)
            .join(Subject, Subject.id == FormRecord.subject_id)
            .where(exists().where(ConsentScope.subject_id == Subject.id))
            .order_by(Subject.id, FormRecord.id)
            .execution_options(yield_per=10_000)
        )
        with out.open("w", encoding="utf-8", newline="") as sink:
            writer = csv.writer(sink)
            writer.writerow(("study_code", "event", "occurrence", "form", "item", "value"))
            for row in db.session.execute(query):
                writer.writerow(row)
        db.session.rollback()
        return out.stat().st_size

    return run


@dataclass(frozen=True)
class Figures:
    seconds: float
    rss_growth_kib: int
    peak_bytes: int
    size: int


def _max_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _pass(run: Callable[[], int], traced: bool) -> dict[str, float]:
    """One run in this (forked) process: wall time, max RSS growth, tracemalloc peak."""
    _engine().dispose(close=False)  # the parent's connections stay the parent's
    db.session.remove()
    gc.collect()
    rss = _max_rss_kib()
    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    size = run()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if traced else 0
    tracemalloc.stop()
    return {"seconds": seconds, "rss": _max_rss_kib() - rss, "peak": peak, "size": size}


def in_child(work: Callable[[], dict[str, float]]) -> dict[str, float]:
    """`work` in a forked child process; what it returned (its error, raised here)."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(reader)
        try:
            result = json.dumps(work()).encode()
        except BaseException as failed:  # reported to the parent
            result = json.dumps({"error": repr(failed)}).encode()
        with os.fdopen(writer, "wb") as pipe:
            pipe.write(result)
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        got = json.loads(pipe.read())
    os.waitpid(pid, 0)
    if "error" in got:
        raise RuntimeError(got["error"])
    return got


def forked(run: Callable[[], int], traced: bool) -> dict[str, float]:
    """`_pass` in a child process, so that each run's RSS growth is its own."""
    return in_child(lambda: _pass(run, traced))


def measure(run: Callable[[], int]) -> Figures:
    timed, traced = forked(run, False), forked(run, True)
    return Figures(timed["seconds"], int(timed["rss"]), int(traced["peak"]), int(timed["size"]))


# --- The report -------------------------------------------------------------------------------


def _line(name: str, items: int, got: Figures, base: Figures | None) -> str:
    rate = items / got.seconds
    text = (
        f"  {name:8s} {got.seconds:7.2f} s {rate:11,.0f} items/s  peak Python "
        f"{got.peak_bytes / 2**20:7.1f} MiB  max RSS +{got.rss_growth_kib / 1024:6.1f} MiB  "
        f"file {got.size / 2**20:7.1f} MiB"
    )
    if base is not None:
        text += (
            f"  | vs baseline: {rate / (items / base.seconds):.2f}× the speed, "
            f"{got.peak_bytes / max(base.peak_bytes, 1):.1f}× the peak"
        )
    return text


def run_size(admin_url: str | None, count: int) -> tuple[int, dict[str, Figures], str]:
    built = build(admin_url, count)
    per_subject = built.items / count
    print(
        f"database: {built.url.split(':', 1)[0]}; {count:,} subjects × {RECORDS} records, "
        f"{built.items:,} item values ({per_subject:.0f} per subject); "
        f"built in {built.seconds:.1f} s"
    )
    tmp = Path(tempfile.mkdtemp())
    found: dict[str, Figures] = {}
    with built.app.app_context():
        for name, run in (
            ("baseline", raw_csv(tmp / "raw.csv")),
            ("csv", service_export("csv", tmp / "export.zip")),
            ("odm", service_export("odm", tmp / "export.xml")),
        ):
            found[name] = measure(run)
            print(
                _line(
                    name,
                    built.items,
                    found[name],
                    found.get("baseline") if name != "baseline" else None,
                ),
                flush=True,
            )
        _engine().dispose()
    return built.items, found, built.url.split(":", 1)[0]


def verdicts(sizes: list[int], results: dict[int, tuple[int, dict[str, Figures], str]]) -> None:
    small, large = min(sizes), max(sizes)
    if small != large:
        for name in ("csv", "odm", "baseline"):
            a, b = results[small][1][name].peak_bytes, results[large][1][name].peak_bytes
            grows = "grows" if b > 1.5 * a else "does not grow"
            print(
                f"peak memory, {name}: {a / 2**20:.1f} MiB at {small:,} subjects, "
                f"{b / 2**20:.1f} MiB at {large:,} (ratio {b / a:.2f}): {grows} with study size"
            )
    items, got, database = results[large]
    rate = items / got["csv"].seconds
    where = (
        "PostgreSQL" if database.startswith("postgres") else "SQLite (the target is for PostgreSQL)"
    )
    met = "met" if rate >= TARGET_ITEMS_PER_S else "NOT met"
    print(
        f"CSV on {where} at {large:,} subjects: {rate:,.0f} items/s; "
        f"target ≥ {TARGET_ITEMS_PER_S:,} items/s: {met}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=None, help="admin URL of a PostgreSQL cluster")
    parser.add_argument("--subjects", type=int, nargs="+", default=[2000, 20000])
    args = parser.parse_args()
    results = {count: run_size(args.url, count) for count in args.subjects}
    verdicts(args.subjects, results)


if __name__ == "__main__":
    main()
