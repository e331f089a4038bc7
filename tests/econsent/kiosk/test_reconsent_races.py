"""Two people opening the to-do list at once, just after version 2 is in use, open one task per
subject and limit each consent once: the task is inserted under the audit trail's lock, and its
unique key makes the second find it done. Real parallel transactions (PostgreSQL in CI)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from econsent.library import use_folder
from econsent.models import ReconsentTask
from econsent.services import reconsent
from edc import audit
from edc.actor import Actor
from edc.context import Context
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.models.studies import Site, Study
from edc.models.users import RoleAssignment, User
from edc.services import consent_scope, subjects
from tests.econsent.kiosk.reconsent_helpers import with_v2

SLUG = "reconsent-race"


def _clinic(session: Session) -> dict[str, object]:
    """A site, two nurses and three subjects with a version 1 consent in force (committed)."""
    cli = Actor.cli()
    study = Study(slug=SLUG, title="Race")
    site = Site(study=study, code="FR-73", name="Race", country="FR")
    users = [
        User(email=f"reconsent-race-{n}@test.example", full_name="Race", password_hash="x",
             identity_check="test", created_at=utcnow())
        for n in range(2)
    ]  # fmt: skip
    for row, action in ((study, "study.created"), (site, "site.created")):
        session.add(row)
        audit.record(session, cli, action, target=row)
    for user in users:
        session.add(user)
        audit.record(session, cli, "user.created", target=user)
    session.flush()
    for user in users:
        grant = RoleAssignment(user_id=user.id, role="nurse", site_id=site.id,
                               granted_at=utcnow(), approved_at=utcnow())  # fmt: skip
        session.add(grant)
        audit.record(session, cli, "role.granted", target=grant)
    ctx = Context(session, Actor(user=users[0]))
    ids = []
    for n in range(3):
        child = subjects.Identity(f"Race{n}", "Child", dt.date(utcnow().year - 3, 1, 1), "male")
        subject = subjects.register(ctx, site.id, child, utcnow())
        consent_scope.put_in_force(ctx, subject, consent_scope.Granted(
            reference=f"race:{subject.id}", document="parent_consent", title="Consent",
            version="1", language="fr", options={}, since=utcnow(),
        ))  # fmt: skip
        ids.append(subject.id)
    session.commit()
    return {"study": study.id, "site": site.id, "users": [u.id for u in users], "subjects": ids}


@pytest.mark.commits
def test_two_lists_opened_at_once_open_one_task_per_subject(app, tmp_path):
    use_folder(SLUG, with_v2(tmp_path, effective=utcnow().date()))
    with app.test_request_context(), Session(db.engine) as setup:
        ids = _clinic(setup)
    opened: list[object] = []
    barrier = threading.Barrier(2, timeout=30)

    def look(user_id: int) -> None:
        with app.test_request_context():
            barrier.wait()
            session = Session(db.engine)
            ctx = Context(session, Actor(user=session.get(User, user_id)))
            try:
                opened.append(reconsent.sync_sites(ctx, [session.get(Site, ids["site"])]))
                session.commit()
            except Exception as exc:  # shown in the assertion below
                opened.append(repr(exc))
                raise
            finally:
                session.close()

    try:
        threads = [threading.Thread(target=look, args=(u,)) for u in ids["users"]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(isinstance(n, int) for n in opened), opened
        assert sum(opened) == 3  # type: ignore[arg-type]
        with Session(db.engine) as check:
            tasks = check.scalars(
                select(ReconsentTask.subject_id).where(ReconsentTask.site_id == ids["site"])
            ).all()
            assert sorted(tasks) == sorted(ids["subjects"])
            limited = check.scalar(
                select(func.count()).where(
                    AuditEvent.action == "consent.scope_limited", AuditEvent.site_code == "FR-73"
                )
            )
            assert limited == 3
    finally:  # the audit events stay (append-only); the rows go, so other tests count as before
        with db.engine.begin() as conn:
            params = {"site": ids["site"], "study": ids["study"]}
            for statement in (
                "DELETE FROM reconsent_task WHERE site_id = :site",
                "DELETE FROM consent_scope WHERE subject_id IN"
                " (SELECT id FROM subject WHERE site_id = :site)",
                "DELETE FROM subject_identity WHERE subject_id IN"
                " (SELECT id FROM subject WHERE site_id = :site)",
                "DELETE FROM subject_status_change WHERE subject_id IN"
                " (SELECT id FROM subject WHERE site_id = :site)",
                "DELETE FROM subject WHERE site_id = :site",
                "DELETE FROM site_counter WHERE site_id = :site",
                "DELETE FROM role_assignment WHERE site_id = :site",
                "DELETE FROM site WHERE id = :site",
                "DELETE FROM study WHERE id = :study",
            ):
                conn.execute(text(statement), params)
            for user_id in ids["users"]:
                conn.execute(text("DELETE FROM user_account WHERE id = :u"), {"u": user_id})
