"""Two taps on "Sign" at once (or two tablets on one session) sign once: the session's row lock
makes the second wait and find that turn over; the database refuses a second signature of the
same role in any case. Real parallel transactions (PostgreSQL in CI)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from econsent.library import use_folder
from econsent.models import ConsentSession, ConsentSignature
from econsent.services import sessions, signing
from econsent.services.sessions import Preparation
from edc import audit
from edc.actor import Actor
from edc.context import Context
from edc.errors import Conflict
from edc.extensions import db
from edc.models.base import utcnow
from edc.models.studies import Site, Study
from edc.models.users import RoleAssignment, User
from edc.services import subjects
from edc.settings import ROOT
from tests.concurrency import remove_committed
from tests.econsent.kiosk.conftest import all_yes, signed


def _clinic(session: Session) -> tuple[dict[str, int], dict[str, str]]:
    cli = Actor.cli()
    study = Study(slug="consent-race", title="Race")
    site = Site(study=study, code="FR-71", name="Race", country="FR")
    user = User(email="consent-race@test.example", full_name="Race", password_hash="x",
                identity_check="test", created_at=utcnow())  # fmt: skip
    for row, action in ((study, "study.created"), (site, "site.created"), (user, "user.created")):
        session.add(row)
        audit.record(session, cli, action, target=row)
    session.flush()
    grant = RoleAssignment(user_id=user.id, role="nurse", site_id=site.id, granted_at=utcnow(),
                           approved_at=utcnow())  # fmt: skip
    session.add(grant)
    audit.record(session, cli, "role.granted", target=grant)
    ctx = Context(session, Actor(user=user))
    child = subjects.Identity("Race", "Child", dt.date(utcnow().year - 2, 1, 1), "male")
    subject = subjects.register(ctx, site.id, child, utcnow())
    prep = Preparation(language="fr", identity_document="passport")
    cs = sessions.prepare(ctx, subject, prep)
    session.commit()
    return {"study": study.id, "site": site.id, "user": user.id, "subject": subject.id,
            "session": cs.id}, all_yes(cs, "parent_1")  # fmt: skip


@pytest.mark.commits
def test_two_taps_on_sign_sign_once(app):
    use_folder("consent-race", ROOT / "studies" / "siopen-nb")
    with app.test_request_context(), Session(db.engine) as setup:
        ids, choices = _clinic(setup)
    outcomes: list[str] = []
    barrier = threading.Barrier(2, timeout=30)

    def tap() -> None:
        with app.test_request_context():
            barrier.wait()  # before any query: SQLite takes its write lock with the first
            session = Session(db.engine)
            ctx = Context(session, Actor(user=session.get(User, ids["user"])))
            cs = session.get(ConsentSession, ids["session"])
            try:
                signing.sign(ctx, cs, "parent_1", signed("Marie Durand", **choices), {})
                session.commit()
                outcomes.append("signed")
            except Conflict:
                session.rollback()
                outcomes.append("refused")
            except Exception as exc:  # shown in the assertion below
                outcomes.append(repr(exc))
                raise
            finally:
                session.close()

    try:
        threads = [threading.Thread(target=tap) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["refused", "signed"]
        with Session(db.engine) as check:
            roles = check.scalars(
                select(ConsentSignature.role).where(ConsentSignature.session_id == ids["session"])
            ).all()
        assert roles == ["parent_1"]
    finally:
        remove_committed(
            ids,
            "DELETE FROM consent_signature WHERE session_id = :session",
            "DELETE FROM consent_session WHERE id = :session",
        )
