"""The audit trail: append-only in the database, hash-chained, complete, and verifiable."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from edc import audit
from edc.access import Role
from edc.actor import Actor
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.services import users
from tests.databases import on_postgres


def _verify_cli(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def _last_seq() -> int:
    return db.session.scalar(select(func.max(AuditEvent.seq))) or 0


def _drop_triggers() -> None:
    """What a DBA with full rights could do before editing rows by hand."""
    if on_postgres():
        db.session.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
        db.session.execute(text("ALTER TABLE audit_head DISABLE TRIGGER USER"))
    else:
        for name in ("audit_event_no_update", "audit_event_no_delete", "audit_head_keep"):
            db.session.execute(text(f"DROP TRIGGER {name}"))


@pytest.fixture
def some_events(make_user, make_site):
    make_user(roles=[(Role.NURSE, make_site())])
    make_user()
    db.session.flush()
    assert _last_seq() >= 5


def test_verify_passes_on_an_untouched_trail(app, some_events):
    result = _verify_cli(app)
    assert result.exit_code == 0, result.output
    assert "intact" in result.output


def test_an_altered_event_is_named(app, some_events):
    target = _last_seq() - 2
    _drop_triggers()
    db.session.execute(
        text("UPDATE audit_event SET reason = 'edited' WHERE seq = :s"), {"s": target}
    )
    result = _verify_cli(app)
    assert result.exit_code == 1
    assert f"BROKEN at event {target}" in result.output


def test_a_deleted_event_is_named(app, some_events):
    target = _last_seq() - 2
    _drop_triggers()
    db.session.execute(text("DELETE FROM audit_event WHERE seq = :s"), {"s": target})
    result = _verify_cli(app)
    assert result.exit_code == 1
    assert f"event {target} is missing" in result.output


def test_removing_the_newest_events_is_noticed(app, some_events):
    last = _last_seq()
    _drop_triggers()
    db.session.execute(text("DELETE FROM audit_event WHERE seq = :s"), {"s": last})
    result = _verify_cli(app)
    assert result.exit_code == 1
    assert f"BROKEN at event {last}" in result.output


def test_an_inserted_event_is_named(app, some_events):
    last = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    forged = _last_seq() + 1
    db.session.execute(
        text(
            "INSERT INTO audit_event (seq, at, action, actor_email, role, site_code, entity_type,"
            " entity_id, item_path, reason, ip, user_agent, prev_hash, hash) VALUES (:seq, :at,"
            " 'role.granted', 'intruder@x', '', '', '', '', '', '', '', '', :prev, :hash)"
        ),
        {"seq": forged, "at": last.at.replace(tzinfo=None), "prev": last.hash, "hash": "f" * 64},
    )
    db.session.execute(text("UPDATE audit_head SET seq = :s"), {"s": forged})
    result = _verify_cli(app)
    assert result.exit_code == 1
    assert f"BROKEN at event {forged}" in result.output


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_event SET reason = 'changed'", "DELETE FROM audit_event"],
)
def test_the_database_refuses_update_and_delete_from_the_app_connection(some_events, statement):
    with pytest.raises(DBAPIError, match="append-only"), db.session.begin_nested():
        db.session.execute(text(statement))


def test_an_unaudited_change_to_an_audited_model_is_refused(make_user):
    user = make_user()
    user.full_name = "Changed quietly"
    with pytest.raises(audit.UnauditedChangeError):
        db.session.flush()
    db.session.rollback()


def test_events_carry_who_where_what_and_why(make_user, make_site):
    site = make_site("IT-01")
    target = make_user()
    admin = make_user(roles=[(Role.ADMIN, None)])
    actor = Actor(user=admin, ip="10.1.2.3", user_agent="tablet browser")
    users.assign_role(db.session, actor, target, users.RoleScope(Role.NURSE, site.id), utcnow())
    users.set_active(db.session, actor, target, False, "left the unit", utcnow())
    granted, deactivated = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action.in_(["role.granted", "user.deactivated"]))
        .where(AuditEvent.actor_id == admin.id)
        .order_by(AuditEvent.seq)
    ).all()
    assert (granted.actor_email, granted.ip, granted.user_agent) == (
        admin.email,
        "10.1.2.3",
        "tablet browser",
    )
    # The granting administrator's role; the role granted is in the new value.
    assert (granted.role, granted.site_code) == ("admin", "IT-01")
    assert (granted.new_value["role"], granted.new_value["site"]) == ("nurse", "IT-01")
    assert granted.new_value["email"] == target.email
    assert (deactivated.item_path, deactivated.old_value, deactivated.new_value) == (
        "is_active",
        True,
        False,
    )
    assert deactivated.reason == "left the unit"
    assert deactivated.at.tzinfo is not None


def test_a_failed_sign_in_is_kept_although_the_request_is_rolled_back(client):
    token = (
        client.get("/login")
        .get_data(as_text=True)
        .split('name="csrf_token" type="hidden" value="')[1]
    )
    token = token.split('"')[0]
    before = db.session.scalar(select(func.count()).where(AuditEvent.action == "auth.login_failed"))
    response = client.post(
        "/login", data={"email": "x@y.z", "password": "nope", "csrf_token": token}
    )
    assert response.status_code == 422
    after = db.session.scalar(select(func.count()).where(AuditEvent.action == "auth.login_failed"))
    assert after == before + 1


@pytest.mark.commits
def test_concurrent_writers_leave_a_chain_that_verifies(app):
    threads, per_thread = 8, 25
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                with Session(db.engine) as session:
                    audit.record(session, Actor.cli(), "test.concurrent", new={"thread": n, "i": i})
                    session.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    pool = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    with db.engine.connect() as conn:
        result = audit.verify(conn)
        written = conn.scalar(select(func.count()).where(AuditEvent.action == "test.concurrent"))
    assert result.ok, result
    assert written == threads * per_thread
