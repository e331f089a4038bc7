"""The first page of the record status dashboard for a big study, against a bare endpoint.

A throwaway study of 10 events × 8 forms gets 2,000 subjects at four sites, each with every
visit and every form saved (160,000 records, statuses spread over in progress, complete and
verified), a few locks, signatures and open queries, all written with bulk inserts. Then, as a
signed-in data manager (the whole study), through the Flask test client:

- **dashboard**: `GET /dashboards/records`, the first page (25 subjects × 80 forms): the access
  gate, the reader's sites, the study's definition, the subjects' count and page, their visits and
  records, their review state, and 2,000 cells rendered;
- **baseline**: `GET /health`, the portal's bare endpoint (one `SELECT 1`), timed alternately in
  the same run so that load on the machine falls on both alike;
- for scale, the same page filtered by a record status (`?status=locked`: the statuses of all
  2,000 subjects are read before paginating), the subject list (`GET /subjects/`, 50 subjects
  per page) and the study dashboard (aggregates over all 160,000 records).

Target: the dashboard's first page under 300 ms; its statement count is printed too (it does not
grow with the number of subjects: tests/edc/test_dashboards.py).

Run: .venv/bin/python -m bench.dashboard [--url DATABASE_URL] [--subjects 2000] [--runs 30]
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import insert, select

from app import create_app
from bench.crf_save import statements
from bench.portal import Portal, bench_user, signed_in
from edc.access import Role
from edc.actor import Actor
from edc.cli import _add_site
from edc.extensions import db
from edc.models.base import utcnow
from edc.models.crf import EventOccurrence, FormRecord
from edc.models.definitions import FormVersion
from edc.models.monitoring import DataLock, DataQuery, ESignature
from edc.models.studies import Site, Study
from edc.models.subjects import Subject
from edc.models.users import User
from edc.services import users
from edc.services.definitions import find_or_create_study, load_definition, read_folder
from edc.settings import Settings
from edc.web import app_context
from tests.databases import fresh_database_url

EVENTS, FORMS, SITES = 10, 8, ("FR-01", "DE-02", "IT-03", "ES-04")
STATUSES = ("in_progress", "complete", "complete", "verified")
FORM = """\
form: f{n}
version: 1
title: Form {n}
sections:
  - id: main
    title: Main
    fields:
      - id: day
        type: date
        label: Day
      - id: value
        type: integer
        label: Value
"""


def study_folder() -> Path:
    """A throwaway study: events e01…e10 (the last repeating), each with forms f1…f8."""
    folder = Path(tempfile.mkdtemp()) / "bench-dashboard"
    (folder / "forms").mkdir(parents=True)
    forms = ", ".join(f"f{n}" for n in range(1, FORMS + 1))
    events = "".join(
        f"  - id: e{k:02d}\n    label: Event {k}\n    forms: [{forms}]\n"
        + ("    repeating: true\n" if k == EVENTS else "")
        for k in range(1, EVENTS + 1)
    )
    (folder / "study.yaml").write_text(
        f"study: bench-dashboard\ntitle: Dashboard bench\nlanguages: [en]\nevents:\n{events}"
    )
    for n in range(1, FORMS + 1):
        (folder / "forms" / f"f{n}.yaml").write_text(FORM.format(n=n))
    return folder


def data_manager(study: Study) -> tuple[int, str]:
    """The bench's signed-in reader: a data manager of the whole study (id, TOTP secret)."""
    user, secret = bench_user(
        "Bench Data Manager", users.RoleScope(Role.DATA_MANAGER, study_id=study.id)
    )
    return user.id, secret


def bulk_data(study: Study, sites: list[Site], count: int) -> int:
    """`count` subjects with every visit and form saved, in a handful of bulk inserts."""
    now = utcnow()
    db.session.execute(
        insert(Subject.__table__),
        [{"study_id": study.id, "site_id": sites[i % len(sites)].id, "number": i,
          "study_code": f"BD-{sites[i % len(sites)].code}-{i:05d}", "registered_at": now,
          "status": "enrolled", "status_date": now.date()} for i in range(1, count + 1)],
    )  # fmt: skip
    subjects = list(db.session.execute(select(Subject.id, Subject.site_id)).tuples())
    db.session.execute(
        insert(EventOccurrence.__table__),
        [{"subject_id": s, "event_id": f"e{k:02d}", "number": 1, "created_at": now}
         for s, _site in subjects for k in range(1, EVENTS + 1)],
    )  # fmt: skip
    versions = {f: i for f, i in db.session.execute(select(FormVersion.form_id, FormVersion.id))}
    occurrences = db.session.execute(select(EventOccurrence.id, EventOccurrence.subject_id)).all()
    db.session.execute(
        insert(FormRecord.__table__),
        [{"subject_id": s, "occurrence_id": o, "form_id": f"f{n}", "form_version_id":
          versions[f"f{n}"], "status": STATUSES[(o + n) % len(STATUSES)], "row_version": 1,
          "created_at": now, "updated_at": now}
         for o, s in occurrences for n in range(1, FORMS + 1)],
    )  # fmt: skip
    _review(study, subjects, now)
    db.session.commit()
    return len(occurrences) * FORMS


def _review(study: Study, subjects: Sequence[tuple[int, int]], now: datetime) -> None:
    """A lock, a signature and an open query for one subject in ten."""
    records = {
        s: r
        for s, r in db.session.execute(
            select(FormRecord.subject_id, FormRecord.id).where(FormRecord.form_id == "f1")
        )
    }
    signer = db.session.scalar(select(User.id).limit(1))
    tenth = subjects[::10]
    db.session.execute(
        insert(DataLock.__table__),
        [{"level": "subject", "study_id": study.id, "subject_id": s, "locked_at": now}
         for s, _site in tenth[::2]],
    )  # fmt: skip
    db.session.execute(
        insert(ESignature.__table__),
        [{"level": "casebook", "subject_id": s, "signer_id": signer, "printed_name": "Dr B",
          "meaning": "author", "data_hash": "0" * 64, "signed_at": now} for s, _site in tenth],
    )  # fmt: skip
    db.session.execute(
        insert(DataQuery.__table__),
        [{"site_id": site, "subject_id": s, "record_id": records[s], "status": "open",
          "raised_at": now, "updated_at": now} for s, site in tenth],
    )  # fmt: skip


def build(url: str | None, count: int) -> tuple[Portal, int]:
    tmp = Path(tempfile.mkdtemp())
    url = url or fresh_database_url(tmp, "bench")
    app = create_app(Settings.from_env(database_url=url, instance_path=tmp, testing=True))
    with app.app_context():
        upgrade()
        actor, folder = Actor.cli(), study_folder()
        study, _created = find_or_create_study(app_context(actor), read_folder(folder))
        load_definition(app_context(actor), study, folder, utcnow())
        sites = [_add_site(study, code, "Bench", code[:2]) for code in SITES]
        user_id, secret = data_manager(study)
        db.session.commit()
        records = bulk_data(study, sites, count)
        user = db.session.get(User, user_id)
        subject = db.session.scalars(select(Subject).limit(1)).one()
        db.session.expunge_all()
    assert user is not None
    return Portal(app, user, subject, secret, url), records


def timed(client: FlaskClient, path: str) -> Callable[[], float]:
    def call() -> float:
        start = time.perf_counter()
        response = client.get(path)
        elapsed = time.perf_counter() - start
        assert response.status_code == 200, (path, response.status_code)
        return elapsed

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=None)
    parser.add_argument("--subjects", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    started = time.perf_counter()
    portal, records = build(args.url, args.subjects)
    built = time.perf_counter() - started
    client = signed_in(portal)
    paths = {
        "dashboard": "/dashboards/records",
        "filtered": "/dashboards/records?status=locked",
        "baseline": "/health",
        "subjects": "/subjects/",
        "study": "/dashboards/study",
    }
    calls = {name: timed(client, path) for name, path in paths.items()}
    for call in calls.values():
        call()  # warm up: templates, the study's definition
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(args.runs):
        for name, call in calls.items():
            times[name].append(call())
    with portal.app.app_context():
        counted = {name: statements(calls[name]) for name in calls}
    page = client.get(paths["dashboard"])
    _report(
        portal,
        args,
        records,
        built,
        times,
        counted,
        (len(page.data), len(gzip.compress(page.data))),
    )


def _report(
    portal: Portal,
    args: argparse.Namespace,
    records: int,
    built: float,
    times: dict[str, list[float]],
    counted: dict[str, int],
    size: tuple[int, int],
) -> None:
    median = {name: statistics.median(t) * 1000 for name, t in times.items()}
    base = median["baseline"]
    print(
        f"database: {portal.url.split(':', 1)[0]}; {args.subjects} subjects × {EVENTS} events × "
        f"{FORMS} forms = {records} records, built in {built:.1f} s; median of {args.runs} runs"
    )
    print(f"baseline GET /health:           {base:7.2f} ms (one raw SELECT 1, outside SQLAlchemy)")
    for name, label in (
        ("dashboard", "record status, first page"),
        ("filtered", "the same, ?status=locked"),
        ("subjects", "subject list, first page"),
        ("study", "study dashboard (charts)"),
    ):
        print(
            f"{label:31s} {median[name]:7.2f} ms, ratio {median[name] / base:6.1f}, "
            f"{counted[name]} SQL statements"
        )
    verdict = "met" if median["dashboard"] < 300 else "NOT met"
    print(
        f"record status page: {size[0] / 1024:.0f} KB of HTML ({size[1] / 1024:.0f} KB gzipped); "
        f"target < 300 ms: {verdict}"
    )


if __name__ == "__main__":
    main()
