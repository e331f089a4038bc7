"""The audit trail: append-only in the database, hash-chained, complete, and verifiable."""

from __future__ import annotations

import os
import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from edc import audit, db_roles
from edc.access import Role
from edc.actor import Actor
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.services import users
from edc.web import app_context
from tests.databases import on_postgres, separate_roles


def _verify_cli(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def _last_seq() -> int:
    return db.session.scalar(select(func.max(AuditEvent.seq))) or 0


def _drop_triggers() -> None:
    """What a DBA with full rights could do before editing rows by hand (tests calling it take
    the `db_owner` fixture: the application's own role may not)."""
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


def test_an_altered_event_is_named(app, db_owner, some_events):
    target = _last_seq() - 2
    _drop_triggers()
    db.session.execute(
        text("UPDATE audit_event SET reason = 'edited' WHERE seq = :s"), {"s": target}
    )
    result = _verify_cli(app)
    assert result.exit_code == 1
    assert f"BROKEN at event {target}" in result.output


def test_a_deleted_event_is_named(app, db_owner, some_events):
    target = _last_seq() - 2
    _drop_triggers()
    db.session.execute(text("DELETE FROM audit_event WHERE seq = :s"), {"s": target})
    result = _verify_cli(app)
    assert result.exit_code == 1
    assert f"event {target} is missing" in result.output


def test_removing_the_newest_events_is_noticed(app, db_owner, some_events):
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


# What someone holding the application's database connection might try. SQLite has no roles:
# its triggers refuse the changes (whoever holds the file can drop them: see the checkpoints).
TAMPERING_SQLITE = [
    "UPDATE audit_event SET reason = 'changed'",
    "DELETE FROM audit_event",
    "DELETE FROM audit_head",
]
TAMPERING_POSTGRES = [
    *TAMPERING_SQLITE,
    "TRUNCATE audit_event",
    "TRUNCATE audit_head",
    "ALTER TABLE audit_event DISABLE TRIGGER USER",
    "ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only",
    "ALTER TABLE audit_head DISABLE TRIGGER USER",
    "DROP TRIGGER audit_event_append_only ON audit_event",
    "DROP TRIGGER audit_event_no_truncate ON audit_event",
    "ALTER TABLE audit_event OWNER TO CURRENT_USER",
    "ALTER TABLE audit_event RENAME TO audit_event_old",
    "DROP TABLE audit_event CASCADE",
    "CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql"
    " AS $$ BEGIN RETURN NULL; END; $$",
    "SET ROLE {owner}",
    "UPDATE alembic_version SET version_num = 'x'",
]


@pytest.mark.parametrize("statement", TAMPERING_POSTGRES if on_postgres() else TAMPERING_SQLITE)
def test_each_tampering_statement_is_refused_for_the_application(app, some_events, statement):
    settings = app.config["EDC_SETTINGS"]
    if on_postgres():
        assert separate_roles(), "run the PostgreSQL tests under scripts/pg-cluster (three roles)"
        statement = statement.format(owner=make_url(settings.database_owner_url).username)
    before = _last_seq()
    with pytest.raises(DBAPIError) as refused, db.session.begin_nested():
        db.session.execute(text(statement))
    if on_postgres():
        assert refused.value.orig.sqlstate == "42501", refused.value  # insufficient_privilege
    else:
        assert "append-only" in str(refused.value)
    assert _last_seq() == before
    assert _verify_cli(app).exit_code == 0


def test_the_application_role_owns_nothing_and_may_only_append_audit_events(app):
    conn = db.session.connection()
    if not on_postgres():
        return  # SQLite has no roles; the statements above show its triggers at work
    owned = conn.scalars(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relowner = current_user::regrole"
        )
    ).all()
    assert owned == []
    privileges = {
        p: conn.scalar(text(f"SELECT has_table_privilege('audit_event', '{p}')"))
        for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
    }
    assert privileges == {
        "SELECT": True,
        "INSERT": True,
        "UPDATE": False,
        "DELETE": False,
        "TRUNCATE": False,
        "REFERENCES": False,
        "TRIGGER": False,
    }
    assert conn.scalar(text("SELECT has_table_privilege('subject', 'UPDATE')")) is True


def test_granting_again_changes_nothing_and_a_superuser_app_role_is_refused(app, db_owner):
    conn = db.session.connection()
    if not on_postgres():
        assert db_roles.grant_app_role(conn, "anyone") is None  # SQLite: nothing to grant
        return
    settings = app.config["EDC_SETTINGS"]
    app_role = make_url(settings.database_url).username

    def acl() -> list[object]:
        return conn.scalars(text("SELECT relacl::text FROM pg_class ORDER BY oid")).all()

    before = acl()
    db_roles.grant_app_role(conn, app_role)
    assert acl() == before
    superuser = make_url(os.environ["TEST_POSTGRES_URL"]).username
    with pytest.raises(db_roles.RoleSetupError, match="superuser"):
        db_roles.grant_app_role(conn, superuser)


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
    users.assign_role(app_context(actor), target, users.RoleScope(Role.NURSE, site.id), utcnow())
    users.set_active(app_context(actor), target, False, "left the unit", utcnow())
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
