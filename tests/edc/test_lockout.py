"""The sign-in lockout holds: odd headers, a failing record, parallel attempts, the password
change form, and addresses that name no account all count and lock alike."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, or_, select

from edc import audit
from edc.access import Role
from edc.actor import Actor
from edc.extensions import db, make_engine
from edc.models.audit import AuditEvent
from edc.models.users import User, UserSession
from edc.services import auth
from edc.web import app_context
from tests import factories
from tests.concurrency import at_once
from tests.databases import fresh_database_url
from tests.factories import another_browser, csrf, login, next_code

NUL_AGENT = "Mozilla/5.0\x00 (X11)\x1b[31m\x7f"
WRONG = "not the right password"


def _post_password(client: FlaskClient, email: str, password: str, token: str | None = None):
    return client.post(
        "/login",
        data={
            "email": email,
            "password": password,
            "csrf_token": token or csrf(client, "/login"),
        },
    )


def _count(action: str, **where: object) -> int:
    query = select(func.count()).where(AuditEvent.action == action)
    for column, value in where.items():
        query = query.where(getattr(AuditEvent, column) == value)
    return db.session.scalar(query) or 0


def _browser(app, ip: str = "127.0.0.1", agent: str | None = None) -> FlaskClient:
    client = app.test_client()
    client.environ_base.update(
        {"wsgi.url_scheme": "https", "HTTP_REFERER": "https://localhost/", "REMOTE_ADDR": ip}
    )
    if agent is not None:
        client.environ_base["HTTP_USER_AGENT"] = agent
    return client


# 1. No header turns a refused sign-in into a server error that skips the count.


def test_a_nul_in_the_user_agent_still_counts_and_locks_the_sign_in(app, make_user):
    """A NUL byte in the User-Agent (PostgreSQL cannot store it) used to answer 500 and record
    nothing, so guessing was unlimited: now it is a wrong password like any other."""
    user = make_user()
    browser = _browser(app, agent=NUL_AGENT)
    first = _post_password(browser, user.email, WRONG)
    assert first.status_code == 422
    assert "Wrong e-mail address or password." in first.get_data(as_text=True)
    assert _count("auth.login_failed", entity_id=str(user.id)) == 1
    stored = db.session.scalars(
        select(AuditEvent.user_agent).where(AuditEvent.action == "auth.login_failed")
    ).all()
    assert "Mozilla/5.0 (X11)[31m" in stored
    for _ in range(4):
        assert _post_password(browser, user.email, WRONG).status_code == 422
    blocked = _post_password(browser, user.email, user.password)
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.get_data(as_text=True)


def test_a_nul_in_the_user_agent_signs_in_with_a_clean_session_row(app, make_user):
    """The right password and code with the same header sign in; the session row and the
    trail keep the header without its control characters."""
    user = make_user()
    browser = _browser(app, agent=NUL_AGENT)
    login(browser, user)
    assert browser.get("/").status_code == 200
    row = db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    assert row.user_agent == "Mozilla/5.0 (X11)[31m"
    assert _count("auth.login", actor_id=user.id, user_agent="Mozilla/5.0 (X11)[31m") == 1


def test_an_actor_keeps_no_control_character_and_no_overlong_value():
    actor = Actor.anonymous("10.0.0.1\x00\n" + "9" * 100, "a\x00b\tc\u0085d" + "x" * 1000)
    assert actor.ip == ("10.0.0.1" + "9" * 100)[:64]
    assert actor.user_agent == ("abcd" + "x" * 1000)[:300]
    claimed = actor.claiming(User(id=1, email="a@test.example"))
    assert (claimed.ip, claimed.user_agent) == (actor.ip, actor.user_agent)


def test_a_failed_attempt_that_cannot_be_recorded_refuses_the_sign_in(app, make_user, monkeypatch):
    """Fail closed: if the failure cannot be written, the answer is still a refusal (not a 500)
    and the request goes no further."""
    user = make_user()
    real = audit._append_many

    def broken(conn, pendings, along=None):
        if any(p.action == "auth.login_failed" for p in pendings):
            raise audit.UnauditedChangeError("the trail is unavailable")
        return real(conn, pendings, along)

    monkeypatch.setattr(audit, "_append_many", broken)
    browser = _browser(app)
    refused = _post_password(browser, user.email, WRONG)
    assert refused.status_code == 422
    assert "Wrong e-mail address or password." in refused.get_data(as_text=True)
    assert browser.get("/login/code").status_code == 302  # no half-signed-in state


def test_a_nul_in_what_a_client_sent_never_makes_the_trail_refuse_an_event(app, make_user):
    """The trail is the one writer of events: a NUL in any value a client sent (a path, a key,
    a reason) used to make PostgreSQL refuse the event and the request answer 500; it is
    dropped and the chain holds."""
    user = make_user()
    with app.test_request_context():
        audit.record(
            db.session,
            Actor(user=user),
            "access.denied",
            entity_type="subject",
            entity_id="AB\x00CD",
            new={"path": "/subjects/AB\x00CD", "seen": ["x\x00"]},
            reason="typed\x00",
            durable=True,
        )
        db.session.flush()
        event = db.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "access.denied", AuditEvent.actor_id == user.id
            )
        ).one()
        assert (event.entity_id, event.new_value, event.reason) == (
            "ABCD",
            {"path": "/subjects/ABCD", "seen": ["x"]},
            "typed",
        )
        assert audit.verify(db.session.connection()).ok


# 2. Parallel attempts (PostgreSQL runs them at the same time) cannot beat the counters.


def _fresh_ip() -> str:
    return f"10.{random.randint(1, 250)}.{random.randint(1, 250)}.{random.randint(1, 250)}"


@pytest.fixture(scope="module")
def _race_engine(app, tmp_path_factory) -> Iterator[Engine]:
    """A database of these tests' own: their attempts are committed for real (the parallel
    requests must see each other's) and must not reach the suite's database, whose other tests
    count failures, lockouts and alerts."""
    from alembic import command
    from alembic.config import Config

    from edc.settings import ROOT

    engine = make_engine(fresh_database_url(tmp_path_factory.mktemp("race"), "lockout"))
    with engine.begin() as conn:
        config = Config(str(ROOT / "migrations" / "alembic.ini"))
        config.set_main_option("script_location", str(ROOT / "migrations"))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    yield engine
    engine.dispose()


@pytest.fixture
def race_app(app, _race_engine):
    """The app, answering from the tests' own database for the length of one test."""
    suite = db.engine
    db.session.remove()
    db.engine = _race_engine
    db.session.configure(bind=_race_engine)
    try:
        yield app
    finally:
        db.session.remove()
        db.engine = suite
        db.session.configure(bind=suite)


def _committed_user(app) -> User:
    with app.app_context():
        user = factories.make_user(email=f"race{random.randint(10**8, 10**9)}@test.example")
        db.session.commit()
        db.session.remove()
    return user


@pytest.mark.commits
def test_one_totp_code_posted_by_eight_pending_sign_ins_at_once_signs_in_once(race_app):
    app = race_app
    user = _committed_user(app)
    ip = _fresh_ip()
    browsers = [_browser(app, ip=ip) for _ in range(8)]
    tokens = []
    for browser in browsers:
        assert _post_password(browser, user.email, user.password).status_code == 302
        tokens.append(csrf(browser, "/login/code"))
    with app.app_context():
        code = next_code(user)
        db.session.remove()
    turns = iter(zip(browsers, tokens, strict=True))

    def post() -> int:
        browser, token = next(turns)
        return browser.post("/login/code", data={"code": code, "csrf_token": token}).status_code

    outcomes = Counter(at_once(8, post))
    assert outcomes[302] == 1, outcomes
    assert set(outcomes) <= {302, 422, 429}, outcomes


@pytest.mark.commits
def test_one_recovery_code_posted_by_eight_pending_sign_ins_at_once_signs_in_once(race_app):
    app = race_app
    user = _committed_user(app)
    with app.app_context():
        codes = auth.new_recovery_codes(app_context(Actor.cli()), db.session.get(User, user.id))
        db.session.commit()
        db.session.remove()
    ip = _fresh_ip()
    browsers = [_browser(app, ip=ip) for _ in range(8)]
    tokens = []
    for browser in browsers:
        assert _post_password(browser, user.email, user.password).status_code == 302
        tokens.append(csrf(browser, "/login/code"))
    turns = iter(zip(browsers, tokens, strict=True))

    def post() -> int:
        browser, token = next(turns)
        return browser.post("/login/code", data={"code": codes[0], "csrf_token": token}).status_code

    outcomes = Counter(at_once(8, post))
    assert outcomes[302] == 1, outcomes
    assert set(outcomes) <= {302, 422, 429}, outcomes


@pytest.mark.commits
def test_thirty_wrong_passwords_at_once_for_one_account_are_checked_at_most_five_times(race_app):
    app = race_app
    user = _committed_user(app)
    browsers = [_browser(app, ip=_fresh_ip()) for _ in range(30)]
    turns = iter([(b, csrf(b, "/login")) for b in browsers])

    def post() -> int:
        browser, token = next(turns)
        return _post_password(browser, user.email, WRONG, token).status_code

    outcomes = Counter(at_once(30, post))
    assert set(outcomes) <= {422, 429}, outcomes
    assert outcomes[422] == 5, outcomes  # at most the limit, and the limit is reached
    with app.app_context():
        assert _count("auth.login_failed", entity_id=str(user.id)) <= 5
        db.session.remove()


@pytest.mark.commits
def test_forty_wrong_passwords_at_once_from_one_address_are_checked_at_most_twenty_times(race_app):
    app = race_app
    ip = _fresh_ip()
    browsers = [_browser(app, ip=ip) for _ in range(40)]
    turns = iter([(n, b, csrf(b, "/login")) for n, b in enumerate(browsers)])

    def post() -> int:
        n, browser, token = next(turns)
        return _post_password(browser, f"nobody{n}@{ip}.test", WRONG, token).status_code

    outcomes = Counter(at_once(40, post))
    assert set(outcomes) <= {422, 429}, outcomes
    assert outcomes[422] == 20, outcomes
    with app.app_context():
        assert _count("auth.login_failed", ip=ip) <= 20
        db.session.remove()


# 3. Account hardening: the password change, unknown addresses, what is stored.


def _change_password(client: FlaskClient, current: str):
    return client.post(
        "/account/password",
        data={
            "current": current,
            "password": "a brand new passphrase 42",
            "confirm": "a brand new passphrase 42",
            "csrf_token": csrf(client, "/account"),
        },
    )


def test_wrong_current_passwords_in_a_password_change_are_counted_and_lock(client, make_user):
    """Someone at an unlocked session cannot guess the password through the change form."""
    user = make_user(roles=[])
    login(client, user)
    for _ in range(5):
        wrong = _change_password(client, WRONG)
        assert wrong.status_code == 422
        assert "Your current password is not correct." in wrong.get_data(as_text=True)
    assert _count("auth.password_check_failed", entity_id=str(user.id)) == 5
    assert _count("auth.lockout", entity_id=str(user.id)) == 1
    blocked = _change_password(client, user.password)  # even the right one
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.get_data(as_text=True)
    assert db.session.get(User, user.id).password_hash == user.password_hash
    other = another_browser(client)
    assert _post_password(other, user.email, user.password).status_code == 429


def test_an_address_without_account_locks_out_like_an_account(client, make_user):
    """Only real accounts used to lock out, which told them apart: now both answer alike."""
    user = make_user()
    answers = {}
    for email in (user.email, "Nobody.Here@Test.Example "):
        browser = another_browser(client)
        statuses = [_post_password(browser, email, WRONG).status_code for _ in range(5)]
        assert statuses == [422] * 5
        sixth = _post_password(browser, email, WRONG)
        answers[email] = (sixth.status_code, _message(sixth.get_data(as_text=True)))
    assert answers[user.email] == answers["Nobody.Here@Test.Example "]
    assert answers[user.email][0] == 429
    # The count is per typed address, as for an account: another address is still checked.
    assert _post_password(another_browser(client), "other@test.example", WRONG).status_code == 422


def _message(page: str) -> str:
    start = page.index("Too many failed attempts")
    return page[start : page.index("<", start)]


def test_what_was_typed_for_an_unknown_address_is_not_stored(client, make_user):
    """A password typed in the e-mail box must not end up in the trail."""
    typed = "MySecretPassw0rd!"
    assert _post_password(client, typed, "whatever else").status_code == 422
    failed = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "auth.login_failed").order_by(AuditEvent.seq)
    ).all()
    assert failed
    for event in failed:
        values = (event.new_value, event.old_value, event.entity_id, event.reason, event.item_path)
        assert typed.lower() not in str(values).lower()
    assert (failed[-1].entity_type, failed[-1].new_value) == (
        "unknown_account",
        {"account": "unknown"},
    )
    admin = make_user(roles=[(Role.ADMIN, None)])
    office = another_browser(client)
    login(office, admin)
    page = office.get("/admin/security?action=auth.login_failed").get_data(as_text=True)
    assert "Unknown account" in page
    assert typed.lower() not in page.lower()
    export = office.get("/admin/security.csv").get_data(as_text=True)
    assert "unknown_account" in export
    assert typed.lower() not in export.lower()
    assert not db.session.scalar(
        select(func.count()).where(
            or_(AuditEvent.actor_email.contains(typed), AuditEvent.actor_email.contains("mysec"))
        )
    )
