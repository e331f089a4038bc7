"""Account hardening and running behind a reverse proxy: guessable passwords, CSRF failures in
the audit trail, the Host header, and the client address a proxy forwards."""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app import create_app
from edc import hosts
from edc.access import Role
from edc.actor import Actor
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.services import links
from edc.settings import Settings
from tests.factories import csrf, login, portal_context

PASSWORD_ERROR = re.compile(r'<p class="error" id="password-error">(.*?)</p>', re.S)


def _events(action: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        )
    )


# --- Passwords ------------------------------------------------------------------------------


def _password_error(response) -> str:
    """The reason shown next to the new password field (it must be there)."""
    shown = PASSWORD_ERROR.search(response.get_data(as_text=True))
    assert shown, "no reason next to the new password field"
    return shown.group(1)


def _choose_password(client, make_user, password: str):
    """An invitation link opened, then that password chosen on its page."""
    user = make_user("marie.dupont@test.example", enrolled=False, must_change_password=True)
    issued = links.issue(
        portal_context(client.application, Actor.cli()), user, "invitation", utcnow()
    )
    db.session.flush()
    path = urlsplit(issued.url).path
    token = csrf(client, path)
    return client.post(path, data={"password": password, "confirm": password, "csrf_token": token})


@pytest.mark.parametrize(
    "password",
    [
        "12345678901234",
        "qwertyuiopasdf",
        "passwordpassword",
        "iloveyou123456",
        "1q2w3e4r5t6y7u",
        "Welcome2024!!!",
    ],
)
def test_a_breached_password_is_refused_next_to_the_field(client, make_user, password):
    response = _choose_password(client, make_user, password)
    assert response.status_code == 422
    reason = _password_error(response)
    assert "too common" in reason
    assert "leaked" in reason


def test_an_easily_guessed_password_is_refused_with_advice(client, make_user):
    response = _choose_password(client, make_user, "asdfghjkl;1234")  # a keyboard row + digits
    assert response.status_code == 422
    assert "too easy to guess" in _password_error(response)


def test_a_password_built_on_the_users_name_is_refused(client, make_user):
    response = _choose_password(client, make_user, "dupontmarie2024")
    assert "your name or e-mail" in _password_error(response)


def test_the_refusal_is_translated(client, make_user):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    response = _choose_password(client, make_user, "qwertyuiopasdf")
    reason = _password_error(response)
    assert "too common" not in reason
    assert "courant" in reason


def test_a_strong_passphrase_is_accepted(client, make_user):
    response = _choose_password(client, make_user, "trombone lantern oxbow quill")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login/enrol")


# --- CSRF failures in the audit trail --------------------------------------------------------


def test_a_post_without_token_answers_400_and_leaves_one_event(client, make_user):
    user = make_user(roles=[(Role.ADMIN, None)])
    login(client, user)
    response = client.post("/language", data={"lang": "de"})
    assert response.status_code == 400
    assert "Your form expired or was sent from elsewhere" in response.get_data(as_text=True)
    (event,) = _events("security.csrf_failed")
    assert event.actor_id == user.id
    assert event.ip == "127.0.0.1"
    assert event.new_value["path"] == "/language"
    assert event.new_value["method"] == "POST"
    page = client.get("/admin/security?action=security.csrf_failed").get_data(as_text=True)
    assert 'data-label="Event">Form refused (expired or sent from elsewhere)</td>' in page
    assert '<option value="security.csrf_failed"' in page


def test_an_anonymous_csrf_failure_names_the_address(client):
    client.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert client.post("/login", data={"email": "x@test.example"}).status_code == 400
    (event,) = _events("security.csrf_failed")
    assert event.actor_id is None
    assert event.ip == "198.51.100.7"


def test_a_flood_of_csrf_failures_leaves_a_bounded_trail(app, client):
    limit = app.config["EDC_SETTINGS"].denial_trace_limit
    for _ in range(limit + 15):
        assert client.post("/login", data={"email": "x@test.example"}).status_code == 400
    assert len(_events("security.csrf_failed")) == limit
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "203.0.113.9"  # another address has its own allowance
    assert other.post("/login").status_code == 400
    assert len(_events("security.csrf_failed")) == limit + 1


# --- The Host header -------------------------------------------------------------------------


@pytest.fixture
def trusting_localhost(app, monkeypatch):
    """The suite's portal configured as in production: it answers to localhost only."""
    settings = replace(app.config["EDC_SETTINGS"], trusted_hosts=("localhost",))
    monkeypatch.setitem(app.config, "EDC_SETTINGS", settings)


def test_a_request_for_another_host_answers_400_with_the_error_page(trusting_localhost, client):
    response = client.get("/login", headers={"Host": "evil.example"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Bad request" in page
    assert "evil.example" not in page
    forged = client.post("/login", headers={"Host": "evil.example:443"}, data={"email": "x"})
    assert forged.status_code == 400
    assert _events("security.csrf_failed") == []  # refused before the form is even looked at
    for near_miss in ("localhost.evil.example", "evil.example/localhost", ""):
        assert client.get("/login", headers={"Host": near_miss}).status_code == 400, near_miss
    assert client.get("/login", headers={"Host": "localhost:443"}).status_code == 200
    assert client.get("/login", headers={"Host": "LocalHost"}).status_code == 200


def test_production_without_trusted_hosts_refuses_to_start(app):
    production = replace(app.config["EDC_SETTINGS"], testing=False, trusted_hosts=())
    with pytest.raises(RuntimeError, match="EDC_TRUSTED_HOSTS is not set"):
        create_app(production)
    assert Settings.production_problems(replace(production, development=True)) == []
    ready = replace(production, trusted_hosts=("edc.test",), base_url="https://edc.test")
    assert Settings.production_problems(ready) == []


def test_production_refuses_links_that_would_leave_by_the_wrong_road(app):
    """Links in mail must point at the portal's https address, and never go to the log."""
    ready = replace(
        app.config["EDC_SETTINGS"],
        testing=False,
        trusted_hosts=("edc.test",),
        base_url="https://edc.test",
    )
    with pytest.raises(RuntimeError, match="EDC_BASE_URL"):
        create_app(replace(ready, base_url="http://127.0.0.1:5000"))
    with pytest.raises(RuntimeError, match="EDC_MAIL_BACKEND=console"):
        create_app(replace(ready, mail_backend="console"))


def test_hosts_and_proxies_are_read_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("EDC_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("EDC_TRUSTED_HOSTS", " EDC.example.org, .example.net ,")
    monkeypatch.setenv("EDC_TRUSTED_PROXIES", "1")
    monkeypatch.setenv("EDC_BASE_URL", "https://edc.example.org/")
    settings = Settings.from_env()
    assert settings.trusted_hosts == ("edc.example.org", ".example.net")
    assert settings.trusted_proxies == 1
    assert settings.production_problems() == []
    monkeypatch.setenv("EDC_TRUSTED_PROXIES", "one")
    with pytest.raises(ValueError, match="EDC_TRUSTED_PROXIES"):
        Settings.from_env()


# --- Behind a reverse proxy ------------------------------------------------------------------


def _failed_sign_in(client) -> AuditEvent:
    token = csrf(client, "/login")
    client.post(
        "/login",
        data={"email": "nobody@test.example", "password": "not the one", "csrf_token": token},
        headers={"X-Forwarded-For": "192.0.2.1, 198.51.100.23", "X-Forwarded-Proto": "https"},
    )
    return _events("auth.login_failed")[-1]


def test_behind_one_proxy_the_audit_trail_records_the_forwarded_address(app, client, monkeypatch):
    monkeypatch.setattr(app, "wsgi_app", hosts.behind_proxies(app.wsgi_app, 1))
    client.environ_base["REMOTE_ADDR"] = "10.0.0.2"  # the proxy
    # The proxy appended the address it saw; the entry before it is the client's own claim.
    assert _failed_sign_in(client).ip == "198.51.100.23"


def test_without_a_proxy_the_forwarded_header_is_ignored(app, client):
    assert app.config["EDC_SETTINGS"].trusted_proxies == 0
    client.environ_base["REMOTE_ADDR"] = "10.0.0.2"
    assert _failed_sign_in(client).ip == "10.0.0.2"
