"""Signing in: password, TOTP with replay guard, enrolment, throttling, sessions and their end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select, update

from edc.access import Role
from edc.actor import Actor
from edc.context import Context
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.models.users import User, UserSession
from edc.services import auth, links, users
from edc.web import app_context
from tests.factories import another_browser, csrf, login, next_code, portal_context


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _post_password(client, email: str, password: str):
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf(client, "/login")}
    )


def _post_code(client, code: str):
    return client.post(
        "/login/code", data={"code": code, "csrf_token": csrf(client, "/login/code")}
    )


def test_password_then_totp_signs_in_and_records_the_login(client, make_user, make_site):
    nurse = make_user(roles=[(Role.NURSE, make_site("FR-01"))])
    login(client, nurse)
    home = client.get("/")
    assert home.status_code == 200
    assert "FR-01" in home.get_data(as_text=True)
    event = _events("auth.login")[-1]
    assert event.actor_email == nurse.email
    assert event.ip == "127.0.0.1"
    assert event.entity_id == str(nurse.id)


def test_wrong_password_and_unknown_email_get_the_same_answer(client, make_user):
    user = make_user()
    wrong = _post_password(client, user.email, "not the right password")
    unknown = _post_password(client, "nobody@test.example", "not the right password")
    assert wrong.status_code == unknown.status_code == 422
    for response in (wrong, unknown):
        assert "Wrong e-mail address or password." in response.get_data(as_text=True)
    failed = _events("auth.login_failed")
    assert [e.new_value for e in failed] == [{"email": user.email}, {"account": "unknown"}]


def test_the_same_totp_code_is_accepted_once(client, app, make_user):
    user = make_user()
    code = next_code(user)
    login(client, user, code=code)
    other = another_browser(client)
    assert _post_password(other, user.email, user.password).status_code == 302
    replay = _post_code(other, code)
    assert replay.status_code == 422
    assert "already been used" in replay.get_data(as_text=True)
    assert other.get("/").status_code == 302  # still not signed in
    replayed = _events("auth.totp_replay")
    assert replayed
    assert replayed[-1].entity_id == str(user.id)


def test_repeated_wrong_passwords_are_rate_limited_with_a_clear_message(client, make_user):
    user = make_user()
    for _ in range(5):
        assert _post_password(client, user.email, "wrong password here").status_code == 422
    blocked = _post_password(client, user.email, user.password)  # even the right one
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.get_data(as_text=True)
    assert len(_events("auth.lockout")) == 1
    assert _events("auth.throttled")


def test_lockout_ends_after_the_window(client, make_user):
    user = make_user()
    for _ in range(5):
        _post_password(client, user.email, "wrong password here")
    # Age the failures past the 15-minute window (the trail is append-only, so move the clock
    # the other way: fake an older failure set by checking from a later `now`).
    from edc.services import auth
    from edc.settings import Settings

    settings: Settings = client.application.config["EDC_SETTINGS"]
    later = utcnow() + settings.lockout_window + timedelta(minutes=1)
    found = auth.check_password(
        Context(db.session(), Actor.anonymous("127.0.0.1", "t"), settings=settings),
        user.email,
        user.password,
        later,
    )
    assert found.id == user.id


def test_many_failures_from_one_address_are_throttled(client, make_user):
    for n in range(20):
        _post_password(client, f"nobody{n}@test.example", "wrong password here")
    user = make_user()
    blocked = _post_password(client, user.email, user.password)
    assert blocked.status_code == 429


def test_wrong_totp_codes_count_towards_the_lockout(client, make_user):
    user = make_user()
    assert _post_password(client, user.email, user.password).status_code == 302
    for _ in range(5):
        assert _post_code(client, "000000").status_code in (422, 429)
    assert _post_code(client, next_code(user)).status_code == 429


def _link(client, user: User, purpose: str = links.INVITATION) -> str:
    """The path of a fresh single-use link, as the operator at the command line gets it."""
    issued = links.issue(
        portal_context(client.application, Actor.cli()),
        db.session.get(User, user.id),
        purpose,
        utcnow(),
    )
    db.session.commit()
    return issued.url[issued.url.index("/account/") :]


def test_first_sign_in_sets_a_password_enrols_totp_and_shows_recovery_codes(client, make_user):
    user = make_user(enrolled=False, must_change_password=True, password="one-time-pass-123")
    path = _link(client, user)
    token = csrf(client, path)
    short = client.post(path, data={"password": "short", "confirm": "short", "csrf_token": token})
    assert short.status_code == 422
    assert "at least 12 characters" in short.get_data(as_text=True)
    common = client.post(
        path, data={"password": "password1234", "confirm": "password1234", "csrf_token": token}
    )
    assert "too common" in common.get_data(as_text=True)
    long_password = "A long passphrase of sixty-four characters is accepted here ok!!"
    assert len(long_password) == 64
    chosen = client.post(
        path, data={"password": long_password, "confirm": long_password, "csrf_token": token}
    )
    assert chosen.headers["Location"].endswith("/login/enrol")
    page = client.get("/login/enrol").get_data(as_text=True)
    assert 'src="data:image/svg+xml;base64,' in page
    secret = page.split('id="totp-secret">')[1].split("<")[0].replace(" ", "")
    code = pyotp.TOTP(secret).now()
    done = client.post("/login/enrol", data={"code": code, "csrf_token": csrf_in(page)})
    assert done.status_code == 200
    codes = done.get_data(as_text=True).split('id="recovery-codes">')[1].split("</ul>")[0]
    assert codes.count("<code>") == 10
    assert client.get("/").status_code == 200
    assert _events("auth.totp_enrolled")[-1].entity_id == str(user.id)
    stored = db.session.get(User, user.id)
    assert stored.totp_secret is not None
    assert secret.encode() not in stored.totp_secret


def csrf_in(html: str) -> str:
    return html.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]


def test_a_recovery_code_works_once(client, app, make_user):
    user = make_user()
    first_code = auth.new_recovery_codes(app_context(Actor.cli()), db.session.get(User, user.id))[0]
    db.session.commit()
    for attempt, expected in ((1, 302), (2, 422)):
        other = another_browser(client)
        _post_password(other, user.email, user.password)
        response = _post_code(other, first_code)
        assert response.status_code == expected, attempt
    assert len(_events("auth.recovery_code_used")) == 1


def test_expired_one_time_password_is_refused(client, make_user):
    user = make_user(enrolled=False, must_change_password=True)
    db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(activation_expires_at=utcnow() - timedelta(minutes=1))
        .execution_options(synchronize_session=False)
    )
    response = _post_password(client, user.email, user.password)
    assert response.status_code == 422
    assert "expired" in response.get_data(as_text=True)


def _age_session(user: User, *, idle: timedelta, age: timedelta) -> None:
    """Move the user's sessions into the past, as if time had passed."""
    for us in db.session.scalars(select(UserSession).where(UserSession.user_id == user.id)):
        us.last_seen_at -= idle
        us.created_at -= age
    db.session.commit()


def test_idle_31_minutes_asks_to_sign_in_again(client, make_user):
    user = make_user()
    login(client, user)
    assert client.get("/account").status_code == 200
    _age_session(user, idle=timedelta(minutes=31), age=timedelta(minutes=31))
    response = client.get("/account")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "30 minutes without activity" in page
    ended = db.session.scalar(select(UserSession).where(UserSession.user_id == user.id))
    assert ended.end_reason == "idle"


def test_after_a_timeout_signing_in_again_returns_to_the_page_being_filled(client, make_user):
    user = make_user()
    login(client, user)
    token = csrf(client, "/account")
    _age_session(user, idle=timedelta(minutes=31), age=timedelta(minutes=31))
    form_page = "/subjects/NB-FR01-0001/crf/diagnosis/1/diagnosis"
    live = client.post(
        form_page + "/evaluate",
        data={"csrf_token": token},
        headers={"HX-Request": "true", "HX-Current-URL": f"https://localhost{form_page}"},
    )
    assert live.status_code == 401
    assert live.headers["HX-Redirect"] == f"/login?next={form_page}"
    saved = client.post(
        form_page, data={"csrf_token": token}, headers={"Referer": f"https://localhost{form_page}"}
    )
    assert saved.headers["Location"] == f"/login?next={form_page}"
    elsewhere = client.post(
        form_page, data={"csrf_token": token}, headers={"Referer": "https://evil.test/x"}
    )
    assert elsewhere.headers["Location"] == "/login"


def test_any_session_ends_after_12_hours(client, make_user):
    user = make_user()
    login(client, user)
    _age_session(user, idle=timedelta(0), age=timedelta(hours=12, minutes=1))
    assert client.get("/account").status_code == 302
    assert "12-hour limit" in client.get("/login").get_data(as_text=True)


def test_deactivation_ends_a_live_session_on_the_next_request(client, make_user):
    user = make_user()
    login(client, user)
    assert client.get("/").status_code == 200
    users.set_active(
        app_context(Actor.cli()), db.session.get(User, user.id), False, "left", utcnow()
    )
    db.session.commit()
    assert client.get("/").status_code == 302
    again = _post_password(client, user.email, user.password)
    assert "not active" in again.get_data(as_text=True)


def test_logout_ends_the_server_session_so_an_old_cookie_does_not_resume_it(client, app, make_user):
    user = make_user()
    login(client, user)
    cookie = client.get_cookie("__Host-edc").value
    token = csrf(client, "/account")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302
    replay = another_browser(client)
    replay.set_cookie("__Host-edc", cookie, secure=True)
    assert replay.get("/").status_code == 302


def test_each_sign_in_gets_a_new_session_cookie(client, make_user):
    user = make_user()
    _post_password(client, user.email, user.password)
    before = client.get_cookie("__Host-edc").value
    _post_code(client, next_code(user))
    assert client.get_cookie("__Host-edc").value != before


def test_session_cookie_is_secure_httponly_samesite_and_host_prefixed(client, make_user):
    user = make_user()
    response = login(client, user)
    (header,) = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("__Host-edc=")]
    for flag in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/"):
        assert flag in header
    assert "Domain" not in header


def test_user_lists_and_ends_another_session(client, app, make_user):
    user = make_user()
    login(client, user)
    other = another_browser(client)
    login(other, user)
    page = client.get("/account").get_data(as_text=True)
    assert page.count('/end"') == 1  # the other session can be ended, this one is marked
    other_id = db.session.scalars(
        select(UserSession.id).where(UserSession.user_id == user.id).order_by(UserSession.id.desc())
    ).first()
    client.post(f"/account/sessions/{other_id}/end", data={"csrf_token": csrf_in(page)})
    assert other.get("/").status_code == 302
    assert client.get("/").status_code == 200


def test_password_change_can_end_the_other_sessions(client, app, make_user):
    user = make_user()
    login(client, user)
    other = another_browser(client)
    login(other, user)
    new = "a brand new passphrase for the portal"
    response = client.post(
        "/account/password",
        data={
            "current": user.password,
            "password": new,
            "confirm": new,
            "end_others": "y",
            "csrf_token": csrf(client, "/account"),
        },
    )
    assert response.status_code == 302
    assert other.get("/").status_code == 302
    assert client.get("/").status_code == 200


def test_a_session_of_another_user_cannot_be_ended(client, app, make_user):
    alice, bob = make_user(), make_user()
    login(client, alice)
    other = another_browser(client)
    login(other, bob)
    bob_session = db.session.scalar(select(UserSession.id).where(UserSession.user_id == bob.id))
    client.post(
        f"/account/sessions/{bob_session}/end", data={"csrf_token": csrf(client, "/account")}
    )
    assert other.get("/").status_code == 200


def test_the_owner_is_told_of_failed_attempts_since_their_last_sign_in(client, make_user):
    user = make_user()
    _post_password(client, user.email, "somebody guessing")
    _post_password(client, user.email, "somebody guessing again")
    login(client, user)
    page = client.get("/").get_data(as_text=True)
    assert "There were 2 failed sign-in attempts on your account" in page
    assert "failed sign-in" not in client.get("/").get_data(as_text=True)  # told once


def test_the_owner_is_told_their_factor_was_reset(client, make_user):
    user = make_user()
    issued = users.reset_second_factor(
        portal_context(client.application, Actor.cli()),
        db.session.get(User, user.id),
        "lost",
        utcnow(),
    )
    db.session.commit()
    path = issued.url[issued.url.index("/account/") :]
    client.post(path, data={"current": user.password, "csrf_token": csrf(client, path)})
    page = client.get("/login/enrol").get_data(as_text=True)
    secret = page.split('id="totp-secret">')[1].split("<")[0].replace(" ", "")
    done = client.post(
        "/login/enrol", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf_in(page)}
    )
    assert "reset by an administrator" in done.get_data(as_text=True)


def test_the_security_contact_sees_lockouts_on_their_start_page(client, make_user):
    victim = make_user()
    for _ in range(5):
        _post_password(client, victim.email, "wrong password here")
    admin = make_user(roles=[(Role.ADMIN, None)])
    other = another_browser(client)
    login(other, admin)
    page = other.get("/").get_data(as_text=True)
    assert 'id="security-alert"' in page
    nurse_browser = another_browser(client)
    login(nurse_browser, make_user())
    assert 'id="security-alert"' not in nurse_browser.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example/",  # a tab the browser drops: //evil.example/
        "/%0d/x",  # a carriage return in the Location header
        "/%0a/evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "https://evil.example/",
        "/" + "a" * 100_000,  # reflected into the header
        "/no-such-page",
    ],
)
def test_sign_in_follows_only_a_known_page_of_the_portal(client, make_user, target):
    """After signing in, a `next` that is not one of our pages leads to the start page."""
    user = make_user()
    assert client.get(f"/login?next={target}").status_code == 200
    response = login(client, user)
    assert response.headers["Location"] == "/"


def test_sign_in_returns_to_the_page_that_asked_for_it(client, make_user, make_site):
    user = make_user(roles=[(Role.NURSE, make_site())])
    client.get("/login?next=/subjects/%3Fq%3DNB")
    assert login(client, user).headers["Location"] == "/subjects/?q=NB"


def test_the_start_page_shows_the_previous_sign_in_not_this_one(client, make_user):
    user = make_user()
    login(client, user)
    first = client.get("/").get_data(as_text=True)
    assert "This is your first sign-in." in first
    earlier = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
    db.session.execute(
        update(UserSession).where(UserSession.user_id == user.id).values(created_at=earlier)
    )
    later = another_browser(client)
    login(later, user)
    shown = later.get("/").get_data(as_text=True)
    assert "Previous sign-in:" in shown
    assert '<time datetime="2026-01-15T09:30:00+00:00">' in shown
