"""Review steps racing with saves and with each other, in real parallel transactions
(PostgreSQL in CI; SQLite makes them take turns): a lock and a save never cross, two closes
of one query close it once, a verification never vouches for a value it did not see, and the
same withdrawal sent twice at once is recorded once."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from edc.access import Role
from edc.actor import Actor
from edc.context import Context
from edc.errors import Conflict
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.models.monitoring import DataQuery, ItemVerification
from edc.models.subjects import Subject
from edc.models.users import User
from edc.services import data_entry, entries, locks, queries, sdv, withdrawals
from tests.concurrency import at_once, remove_committed_study
from tests.edc.conftest import FORM, STUDY, stored_study
from tests.factories import make_site, make_subject, make_user

FIRST = {"visit_date": "2026-03-10", "mycn": "not_amplified", "weight": "12"}


@dataclass(frozen=True)
class Clinic:
    study: int
    site: int
    subject: int
    nurse: int
    monitor: int
    manager: int


@pytest.fixture
def clinic(app, tmp_path) -> Iterator[Clinic]:
    """A committed study, site, subject with a complete form, and its nurse, monitor and data
    manager; every row goes at the end (the audit events stay: they are append-only)."""
    with app.test_request_context():
        study = stored_study(tmp_path, "review-race", STUDY, {"visit": FORM})
        site = make_site("FR-72", study)
        subject = make_subject(site, date_of_birth=dt.date(2025, 1, 10))
        nurse = make_user(roles=[(Role.NURSE, site)])
        monitor = make_user(roles=[(Role.MONITOR, site)])
        manager = make_user(roles=[(Role.DATA_MANAGER, study)])
        found = Clinic(study.id, site.id, subject.id, nurse.id, monitor.id, manager.id)
        _save(found, {**FIRST}, complete=True, version=0)
    try:
        yield found
    finally:
        remove_committed_study(found.study, found.site, [found.nurse, found.monitor, found.manager])


def _ctx(session: Session, user_id: int) -> Context:
    return Context(session, Actor(user=session.get(User, user_id)))


def _entry(ctx: Context, clinic: Clinic) -> entries.Entry:
    subject = ctx.session.get(Subject, clinic.subject)
    assert subject is not None
    entry = entries.open_entry(ctx, subject, "baseline", 1, "visit")
    assert entry is not None
    return entry


def _save(clinic: Clinic, posted: dict, *, complete: bool, version: int) -> str:
    with Session(db.engine) as session:
        ctx = _ctx(session, clinic.nurse)
        asked = data_entry.SaveRequest(
            posted, expected_version=version, complete=complete, reasons={"*": "race"}
        )
        result = data_entry.save(ctx, _entry(ctx, clinic), asked)
        session.commit()
        return result.outcome.value


def _roles(*names: str) -> Callable[[], str]:
    """Hands each thread its part, once each."""
    left, guard = list(names), threading.Lock()

    def take() -> str:
        with guard:
            return left.pop(0)

    return take


def _seq(session: Session, action: str, since: int) -> list[int]:
    query = select(AuditEvent.seq).where(AuditEvent.action == action, AuditEvent.seq > since)
    return list(session.scalars(query.order_by(AuditEvent.seq)))


def _head(session: Session) -> int:
    return session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) or 0


@pytest.mark.commits
def test_a_lock_and_a_save_at_once_never_cross(app, clinic):
    """Either the save commits before the lock is placed, or it finds the lock and writes
    nothing: never a change after the lock."""
    for attempt in range(3):
        _lock_and_save(app, clinic, str(20 + attempt))


def _lock_and_save(app, clinic: Clinic, weight: str) -> None:
    with Session(db.engine) as check:
        start = _head(check)
        version = _entry(_ctx(check, clinic.nurse), clinic).row_version
    part = _roles("lock", "save")

    def act() -> str:
        role = part()
        with app.test_request_context():
            if role == "save":
                return _save(clinic, {**FIRST, "weight": weight}, complete=True, version=version)
            with Session(db.engine) as session:
                ctx = _ctx(session, clinic.manager)
                subject = session.get(Subject, clinic.subject)
                assert subject is not None
                target = locks.Target(locks.Level.SUBJECT, subject.study, subject=subject)
                lock = locks.place(ctx, target)
                session.commit()
                return f"locked {lock.id}"

    outcomes = at_once(2, act)
    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    with app.test_request_context(), Session(db.engine) as check:
        placed = _seq(check, "lock.placed", start)
        changed = _seq(check, "item.changed", start)
        assert len(placed) == 1
        assert all(seq < placed[0] for seq in changed), (outcomes, changed, placed)
        assert bool(changed) == ("saved" in outcomes)
        lock_id = next(int(str(o).split()[1]) for o in outcomes if str(o).startswith("lock"))
        locks.lift(_ctx(check, clinic.manager), lock_id, "next attempt")
        check.commit()


@pytest.mark.commits
def test_two_closes_of_one_query_close_it_once(app, clinic):
    with app.test_request_context(), Session(db.engine) as session:
        ctx = _ctx(session, clinic.monitor)
        query = queries.raise_query(ctx, _entry(ctx, clinic), "weight", "Check the weight")
        session.commit()
        query_id, start = query.id, _head(session)

    def close() -> str:
        with app.test_request_context(), Session(db.engine) as session:
            ctx = _ctx(session, clinic.monitor)
            found = session.get(DataQuery, query_id)
            assert found is not None
            try:
                queries.step(ctx, _entry(ctx, clinic), found, "closed", "")
                session.commit()
            except Conflict:
                session.rollback()
                return "refused"
            return "closed"

    assert sorted(map(str, at_once(2, close))) == ["closed", "refused"]
    with Session(db.engine) as check:
        assert len(_seq(check, "query.closed", start)) == 1
        messages = check.scalar(
            text("SELECT count(*) FROM query_message WHERE query_id = :q AND kind = 'closed'"),
            {"q": query_id},
        )
        assert messages == 1


@pytest.mark.commits
def test_a_verification_racing_a_change_never_vouches_for_a_value_it_did_not_see(app, clinic):
    with Session(db.engine) as check:
        version = _entry(_ctx(check, clinic.nurse), clinic).row_version

    part = _roles("verify", "save")

    def act() -> str:
        role = part()
        with app.test_request_context():
            if role == "save":
                posted = {**FIRST, "weight": "31"}
                return _save(clinic, posted, complete=True, version=version)
            with Session(db.engine) as session:
                ctx = _ctx(session, clinic.monitor)
                try:
                    sdv.verify(ctx, _entry(ctx, clinic), None, version)
                    session.commit()
                except Conflict:
                    session.rollback()
                    return "refused"
                return "verified"

    outcomes = at_once(2, act)
    assert "saved" in outcomes, outcomes
    with Session(db.engine) as check:
        weight = check.scalars(
            select(ItemVerification).where(ItemVerification.item_key == "weight")
        ).first()
        if "verified" in outcomes:  # it came first: the save then undid the weight's check
            assert weight is not None
            assert weight.reset_at is not None
        else:
            assert weight is None


@pytest.mark.commits
def test_the_same_withdrawal_twice_at_once_is_recorded_once(app, clinic):
    with Session(db.engine) as session:
        start = _head(session)

    def withdraw() -> str:
        with app.test_request_context(), Session(db.engine) as session:
            ctx = _ctx(session, clinic.nurse)
            subject = session.get(Subject, clinic.subject)
            assert subject is not None
            asked = withdrawals.Withdrawal("visits", "parent", "letter", utcnow().date())
            try:
                withdrawals.withdraw(ctx, subject, asked)
                session.commit()
            except withdrawals.WithdrawalRefused:
                session.rollback()
                return "refused"
            return "recorded"

    assert sorted(map(str, at_once(2, withdraw))) == ["recorded", "refused"]
    with Session(db.engine) as check:
        assert len(_seq(check, "consent.withdrawn", start)) == 1
        rows = check.scalar(
            text("SELECT count(*) FROM consent_withdrawal WHERE subject_id = :s"),
            {"s": clinic.subject},
        )
        assert rows == 1
