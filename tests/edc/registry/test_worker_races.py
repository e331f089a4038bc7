"""Two registry workers at once, in real parallel transactions (PostgreSQL in CI; SQLite makes
them take turns): each queued row is taken by one of them, so each subject's Bundle is sent once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from edc.context import Context
from edc.extensions import db
from edc.models.registry import RegistryOutbox
from edc.registry import client, worker
from tests.concurrency import at_once, remove_committed_study
from tests.edc.registry.trial import (
    POSTED,
    consent,
    lock_subject,
    make_trial,
    save,
    worker_actor,
)
from tests.factories import make_subject

CHILDREN = 4


@pytest.fixture
def committed(app, tmp_path) -> Iterator[dict]:
    """A committed trial with CHILDREN subjects locked and queued; every row goes at the end."""
    with app.test_request_context():
        study, site, subject, nurse, manager, settings = make_trial(app, tmp_path)
        children = [subject, *(make_subject(site, family_name=f"Race{n}") for n in range(3))]
        for child in children:
            consent(child, nurse)
            save(nurse, child, "diagnosis", POSTED)
            lock_subject(manager, study, child)
        db.session.commit()
        ids = {"study": study.id, "site": site.id, "users": [nurse.id, manager.id]}
        found = {"ids": ids, "settings": settings, "codes": {c.study_code for c in children}}
    try:
        yield found
    finally:
        remove_committed_study(ids["study"], ids["site"], ids["users"])


class SlowRegistry:
    """Accepts every Bundle after a pause (so the two passes overlap), counting per subject."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self._guard = threading.Lock()

    def __call__(self, _settings, body: bytes) -> client.Answer:
        time.sleep(0.05)
        code = body.decode().split('"value":"', 1)[1].split('"', 1)[0]  # the Patient's pseudonym
        with self._guard:
            self.received.append(code)
        return client.Answer(200, b"{}")


@pytest.mark.commits
def test_two_workers_at_once_send_each_subject_once(app, committed):
    registry = SlowRegistry()
    settings = replace(committed["settings"], registry_url="http://127.0.0.1:9")

    def one_pass() -> int:
        with app.app_context(), Session(db.engine) as session:
            ctx = Context(session, worker_actor(), settings=settings)
            result = worker.push_once(ctx, send=registry)
            session.commit()
            return result.bundles

    outcomes = at_once(2, one_pass)
    assert all(isinstance(o, int) for o in outcomes), outcomes
    assert sum(outcomes) == CHILDREN
    assert sorted(registry.received) == sorted(committed["codes"])
    with Session(db.engine) as session:
        states = session.scalars(
            select(RegistryOutbox.state).where(RegistryOutbox.study_id == committed["ids"]["study"])
        ).all()
    assert states == ["sent"] * CHILDREN
