"""Registry push: locked forms per second through the worker to the reference registry (a real
process on loopback), next to a baseline in the same run: the same Bundles POSTed straight to a
fresh registry, without the worker. Then the drain after an outage: the registry is stopped, the
backlog waits while every try fails and the waits grow, the registry comes back, and the time
until the whole backlog has arrived is measured.

The outage is `--outage` seconds on the worker's clock: by default the waits are counted, not
slept (the worker's clock jumps from one due time to the next while the registry is really down);
`--real-outage` sleeps through it instead. Sending is always real.

Run: .venv/bin/python -m bench.registry_push [--forms 1000] [--outage 300] [--real-outage]
     [--url ADMIN_DATABASE_URL]
With --url (e.g. scripts/pg-cluster's TEST_POSTGRES_URL) each run gets a new database there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import func, insert, select, update

from app import create_app
from bench.portal import bench_user
from edc.access import Role
from edc.actor import Actor
from edc.cli import _add_site
from edc.context import Context
from edc.extensions import db
from edc.models.base import utcnow
from edc.models.consent import ConsentScope
from edc.models.crf import EventOccurrence, FormRecord, ItemValue
from edc.models.definitions import FormVersion
from edc.models.registry import RegistryOutbox
from edc.models.studies import Study
from edc.models.subjects import Subject
from edc.registry import client, worker
from edc.services import locks, subjects, users
from edc.services.definitions import find_or_create_study, load_definition, read_folder
from edc.settings import Settings
from edc.web import app_context
from tests.databases import fresh_database_url
from tests.registry_process import RegistryProcess

FORMS_PER_SUBJECT = 4
TOKEN = "bench-registry-token"
FORM = """\
form: f{n}
version: 1
title: Form {n}
sections:
  - id: main
    title: Main
    fields:
{fields}
"""
FIELD = "      - {{id: q{k}, type: {type}, label: Question {k}}}\n"
TYPES = ("integer", "decimal", "date", "yesno", "integer", "decimal")


def study_folder() -> Path:
    folder = Path(tempfile.mkdtemp()) / "bench-registry"
    (folder / "forms").mkdir(parents=True)
    names = ", ".join(f"f{n}" for n in range(1, FORMS_PER_SUBJECT + 1))
    (folder / "study.yaml").write_text(
        "study: bench-registry\ntitle: Registry bench\nlanguages: [en]\n"
        "registry:\n  forms:\n"
        + "".join(f"    f{n}: all\n" for n in range(1, 5))
        + f"events:\n  - id: baseline\n    label: Baseline\n    forms: [{names}]\n"
    )
    fields = "".join(FIELD.format(k=k, type=TYPES[k % len(TYPES)]) for k in range(1, 25))
    for n in range(1, FORMS_PER_SUBJECT + 1):
        (folder / "forms" / f"f{n}.yaml").write_text(FORM.format(n=n, fields=fields))
    return folder


def _value(kind: str, k: int, subject: int) -> object:
    return {
        "integer": str(k + subject % 50),
        "decimal": f"{k}.{subject % 10}5",
        "date": f"2026-0{1 + k % 9}-1{k % 10}",
        "yesno": "yes" if (k + subject) % 2 else "no",
    }[kind]


def build(url: str, count: int, tmp: Path) -> tuple[Flask, int, int]:
    """A portal whose study has `count` subjects (identity, consent allowing registry transfer,
    four complete forms of 24 items); the data manager's id and the study's id."""
    app = create_app(
        Settings.from_env(
            database_url=url,
            instance_path=tmp,
            testing=True,
            linkage_secret="bench linkage secret, long enough",
        )
    )
    with app.app_context():
        upgrade()
        actor, now, folder = Actor.cli(), utcnow(), study_folder()
        study, _created = find_or_create_study(app_context(actor), read_folder(folder))
        load_definition(app_context(actor), study, folder, now)
        site = _add_site(study, "FR-01", "Bench", "FR")
        db.session.flush()
        manager, _secret = bench_user(
            "Bench Manager", users.RoleScope(Role.DATA_MANAGER, study_id=study.id)
        )
        nurse, _secret = bench_user(
            "Bench Nurse", users.RoleScope(Role.NURSE, site.id), "nurse@x.test"
        )
        ctx = app_context(Actor(user=nurse))
        for i in range(count):
            identity = subjects.Identity(
                f"Family{i}", f"Given{i}", dt.date(2015, 1 + i % 12, 1 + i % 28), "female"
            )
            subjects.register(ctx, site.id, identity, now, confirm_duplicate=True)
        _bulk(study, now)
        db.session.commit()
        return app, manager.id, study.id


def _bulk(study: Study, now: dt.datetime) -> None:
    ids = list(db.session.scalars(select(Subject.id).where(Subject.study_id == study.id)))
    db.session.execute(
        insert(ConsentScope.__table__),
        [
            {
                "subject_id": s,
                "reference": f"bench:{s}",
                "document": "parent_consent",
                "title": "",
                "version": "1",
                "language": "en",
                "options": {"registry_transfer": True},
                "since": now - dt.timedelta(days=1),
                "recorded_at": now,
            }
            for s in ids
        ],
    )
    db.session.execute(
        insert(EventOccurrence.__table__),
        [{"subject_id": s, "event_id": "baseline", "number": 1, "created_at": now} for s in ids],
    )
    versions = {f: i for f, i in db.session.execute(select(FormVersion.form_id, FormVersion.id))}
    occurrences = db.session.execute(select(EventOccurrence.id, EventOccurrence.subject_id)).all()
    db.session.execute(
        insert(FormRecord.__table__),
        [
            {
                "subject_id": s,
                "occurrence_id": o,
                "form_id": f"f{n}",
                "form_version_id": versions[f"f{n}"],
                "status": "complete",
                "row_version": 1,
                "created_at": now,
                "updated_at": now,
            }
            for o, s in occurrences
            for n in range(1, FORMS_PER_SUBJECT + 1)
        ],
    )
    records = db.session.execute(select(FormRecord.id, FormRecord.subject_id)).all()
    db.session.execute(
        insert(ItemValue.__table__),
        [
            {
                "record_id": r,
                "path": f"q{k}",
                "value": _value(TYPES[k % len(TYPES)], k, s),
                "updated_at": now,
            }
            for r, s in records
            for k in range(1, 25)
        ],
    )


def _lock(app: Flask, manager_id: int, study_id: int) -> float:
    with app.app_context():
        from edc.models.users import User

        ctx = app_context(Actor(user=db.session.get(User, manager_id)))
        study = db.session.get(Study, study_id)
        assert study is not None
        start = time.perf_counter()
        locks.place(ctx, locks.Target(locks.Level.STUDY, study), "bench")
        db.session.commit()
        return time.perf_counter() - start


def _settings(app: Flask, registry: RegistryProcess) -> Settings:
    base: Settings = app.config["EDC_SETTINGS"]
    return replace(base, registry_url=registry.url, registry_token=TOKEN)


def drain(
    app: Flask, settings: Settings, clock: list[dt.datetime], sent: list[bytes] | None = None
) -> tuple[float, int]:
    """Worker passes until nothing is due at `clock[0]`; (seconds, bundles)."""

    def send(s: Settings, body: bytes) -> client.Answer:
        if sent is not None:
            sent.append(body)
        return client.post_bundle(s, body)

    bundles, start = 0, time.perf_counter()
    with app.app_context():
        while True:
            ctx = Context(
                db.session(),
                Actor(user=None, label="cli:registry-worker"),
                settings=settings,
                clock=lambda: clock[0],
            )
            result = worker.push_once(ctx, send=send)
            db.session.commit()
            bundles += result.bundles
            if result.worked == 0 or result.failed:
                break
    return time.perf_counter() - start, bundles


def baseline(bodies: list[bytes], tmp: Path) -> float:
    """The same Bundles POSTed one after another to a fresh registry, no worker: seconds."""
    with RegistryProcess(tmp / "baseline", TOKEN) as registry:
        headers = {"Content-Type": "application/fhir+json", "Authorization": f"Bearer {TOKEN}"}
        start = time.perf_counter()
        for body in bodies:
            request = urllib.request.Request(registry.url + "/", data=body, headers=headers)  # noqa: S310
            with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (loopback)
                answer.read()
        return time.perf_counter() - start


def outage(app: Flask, tmp: Path, seconds: float, real: bool) -> tuple[float, float, int, int]:
    """Queue everything again for a fresh registry, stop it for `seconds`, bring it back;
    (waited after it came back, seconds sending, tries per row, bundles)."""
    with app.app_context():
        db.session.execute(
            update(RegistryOutbox).values(state="pending", attempts=0, next_attempt_at=utcnow())
        )
        db.session.commit()
    with RegistryProcess(tmp / "outage", TOKEN) as registry:
        settings = _settings(app, registry)
        registry.stop()
        start = utcnow()
        clock = [start]
        while (clock[0] - start).total_seconds() < seconds:
            drain(app, settings, clock)
            clock[0] = _next_due(app) if not real else clock[0]
            if real:
                time.sleep(min(5.0, max(0.0, seconds - (utcnow() - start).total_seconds())))
                clock[0] = utcnow()
        back = start + dt.timedelta(seconds=seconds)
        registry.restart()
        with app.app_context():
            tries = db.session.scalar(select(func.max(RegistryOutbox.attempts))) or 0
        # The worker's next pass (every --interval, 5 s by default, while idle) probes the
        # registry, finds it back and makes the waiting rows due: no wait for the backoff.
        # What the backoff alone would wait (none when a try was already due at the return).
        waited = max(0.0, (_next_due(app) - back).total_seconds())
        clock[0], bundles, begun = (utcnow() if real else back), 0, time.perf_counter()
        while _pending(app):
            bundles += drain(app, settings, clock)[1]
            clock[0] = max(clock[0], _next_due(app))
        return waited, time.perf_counter() - begun, tries, bundles


def _pending(app: Flask) -> int:
    with app.app_context():
        query = select(func.count()).where(RegistryOutbox.state == "pending")
        return db.session.scalar(query.select_from(RegistryOutbox)) or 0


def _next_due(app: Flask) -> dt.datetime:
    with app.app_context():
        due = db.session.scalar(
            select(func.min(RegistryOutbox.next_attempt_at)).where(
                RegistryOutbox.state == "pending"
            )
        )
    return due or utcnow()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=None, help="admin URL of a PostgreSQL cluster")
    parser.add_argument("--forms", type=int, default=1000)
    parser.add_argument("--outage", type=float, default=300.0)
    parser.add_argument("--real-outage", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    url = fresh_database_url(tmp, "bench", args.url)  # a new database on every run
    count = max(1, args.forms // FORMS_PER_SUBJECT)
    started = time.perf_counter()
    app, manager_id, study_id = build(url, count, tmp)
    built = time.perf_counter() - started
    print(
        f"database: {url.split(':', 1)[0]}; {count} subjects × {FORMS_PER_SUBJECT} forms of 24 "
        f"items = {count * FORMS_PER_SUBJECT} locked forms; built in {built:.1f} s"
    )
    queued = _lock(app, manager_id, study_id)
    print(f"study lock queuing {count * FORMS_PER_SUBJECT} forms: {queued * 1000:.0f} ms")
    bodies: list[bytes] = []
    with RegistryProcess(tmp / "push", TOKEN) as registry:
        seconds, bundles = drain(app, _settings(app, registry), [utcnow()], bodies)
    forms = count * FORMS_PER_SUBJECT
    raw = baseline(bodies, tmp)
    print(f"worker:   {forms / seconds:8.1f} forms/s ({bundles} bundles in {seconds:.2f} s)")
    print(
        f"baseline: {forms / raw:8.1f} forms/s (the same bundles POSTed straight, {raw:.2f} s); "
        f"worker/baseline time ratio {seconds / raw:.2f}"
    )
    waited, sending, tries, bundles = outage(app, tmp, args.outage, args.real_outage)
    mode = "slept" if args.real_outage else "counted on the worker's clock"
    print(f"outage of {args.outage:.0f} s ({mode}): every row tried {tries} times while down")
    print(
        f"after it came back: the next idle pass's probe found it (the backoff alone would have "
        f"waited {waited:.0f} s more); {bundles} bundles sent in {sending:.2f} s, so the backlog "
        f"drained {sending:.1f} s after the registry returned, plus at most one worker interval "
        f"(5 s by default)"
    )


if __name__ == "__main__":
    main()
