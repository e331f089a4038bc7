"""Real mail to a local SMTP server: invitations and resets are single-use links only the user
receives; without mail a second administrator must approve; owners are told of changes."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from edc.access import Role
from edc.actor import Actor
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.models.users import AccountLink, RoleAssignment, User
from edc.services import links, users
from edc.web import app_context
from tests.concurrency import at_once
from tests.factories import another_browser, csrf, login

NEW_PASSWORD = "a walk along the quiet river at dawn"


def _admin(client, make_user):
    admin = make_user(roles=[(Role.ADMIN, None)])
    login(client, admin)
    return admin


def _invite(client, email="new.nurse@hospital.example"):
    return client.post(
        "/admin/users/new",
        data={
            "email": email,
            "full_name": "Nina Nurse",
            "identity_check": "Passport seen by the PI",
            "csrf_token": csrf(client, "/admin/users/new"),
        },
    )


def _choose_password(browser, path, password=NEW_PASSWORD, **extra):
    return browser.post(
        path,
        data={
            "password": password,
            "confirm": password,
            "csrf_token": csrf(browser, path),
            **extra,
        },
    )


def _enrol(browser):
    page = browser.get("/login/enrol")
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html
    secret = html.split('id="totp-secret">')[1].split("<")[0].replace(" ", "")
    token = html.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    done = browser.post(
        "/login/enrol", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token}
    )
    return done, secret


def _reasoned(client, user, action, reason="asked by phone"):
    return client.post(
        f"/admin/users/{user.id}/{action}",
        data={"reason": reason, "csrf_token": csrf(client, f"/admin/users/{user.id}")},
    )


def test_an_invitation_arrives_by_mail_and_its_link_works_once(client, make_user, mail):
    _admin(client, make_user)
    created = _invite(client)
    assert created.status_code == 302  # to the account's page: nothing secret to show
    (message,) = mail.to("new.nurse@hospital.example")
    assert message["Subject"] == "Your account on the study portal"
    path = mail.link("new.nurse@hospital.example")
    user = db.session.scalar(select(User).where(User.email == "new.nurse@hospital.example"))
    detail = client.get(created.headers["Location"]).get_data(as_text=True)
    assert "An e-mail was sent to new.nurse@hospital.example" in detail
    assert "link sent to new.nurse@hospital.example" in detail

    newcomer = another_browser(client)
    assert newcomer.get(path).status_code == 200
    chosen = _choose_password(newcomer, path)
    assert chosen.headers["Location"].endswith("/login/enrol")
    done, _secret = _enrol(newcomer)
    assert 'id="recovery-codes"' in done.get_data(as_text=True)
    assert newcomer.get("/").status_code == 200  # signed in as themselves

    again = another_browser(client)
    second = again.get(path)
    assert second.status_code == 410
    assert "This link no longer works" in second.get_data(as_text=True)
    assert again.post(path, data={"password": "x"}).status_code in (400, 410)
    assert db.session.get(User, user.id).must_change_password is False


def test_an_expired_link_is_refused(client, make_user, mail):
    _admin(client, make_user)
    _invite(client)
    path = mail.link("new.nurse@hospital.example")
    db.session.execute(
        update(AccountLink)
        .values(expires_at=utcnow() - timedelta(minutes=1))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    newcomer = another_browser(client)
    assert newcomer.get(path).status_code == 410
    assert _choose_password(newcomer, path).status_code in (400, 410)


def test_nothing_the_administrator_or_the_audit_trail_sees_holds_a_working_secret(
    client, make_user, mail
):
    admin = make_user(roles=[(Role.ADMIN, None)])
    login(client, admin)
    seen: list = [_invite(client)]
    user = db.session.scalar(select(User).where(User.email == "new.nurse@hospital.example"))
    invitation = mail.link(user.email).rsplit("/", 1)[1]
    newcomer = another_browser(client)
    path = mail.link(user.email)
    _choose_password(newcomer, path)
    _enrol(newcomer)
    seen.append(_reasoned(client, user, "reset-password"))
    reset = mail.link(user.email).rsplit("/", 1)[1]
    seen.append(_reasoned(client, user, "reset-2fa"))
    enrol = mail.link(user.email).rsplit("/", 1)[1]
    for page in (
        f"/admin/users/{user.id}",
        "/admin/users",
        "/admin/links",
        "/admin/security",
        "/admin/security?actor=" + admin.email,
        "/admin/security.csv",
        "/admin/access-review",
        "/admin/access-review.csv",
    ):
        seen.append(client.get(page, follow_redirects=True).get_data(as_text=True))
    everything = "".join(r if isinstance(r, str) else r.get_data(as_text=True) for r in seen)
    trail = " ".join(
        f"{e.old_value} {e.new_value} {e.reason} {e.entity_id}"
        for e in db.session.scalars(select(AuditEvent))
    )
    for secret in (invitation, reset, enrol, NEW_PASSWORD):
        assert secret not in everything
        assert secret not in trail
    assert "sent to new.nurse@hospital.example" in everything
    assert len({invitation, reset, enrol}) == 3


def test_a_reset_link_lets_only_the_user_choose_the_new_password(client, make_user, mail):
    _admin(client, make_user)
    user = make_user()
    response = _reasoned(client, user, "reset-password", reason="forgotten")
    assert response.status_code == 302
    (message,) = mail.to(user.email)
    assert "forgotten" in mail.body(message)
    path = mail.link(user.email)
    stranger = another_browser(client)
    old = stranger.post(
        "/login",
        data={
            "email": user.email,
            "password": user.password,
            "csrf_token": csrf(stranger, "/login"),
        },
    )
    assert old.status_code == 422  # the old password stopped working at the reset
    owner = another_browser(client)
    assert _choose_password(owner, path).headers["Location"].endswith("/login")
    user.password = NEW_PASSWORD
    login(owner, user)  # the new password, then the authenticator the user already had
    assert owner.get("/").status_code == 200


def test_after_a_factor_reset_a_new_authenticator_needs_the_mailed_link(client, make_user, mail):
    _admin(client, make_user)
    user = make_user()
    assert _reasoned(client, user, "reset-2fa").status_code == 302
    thief = another_browser(client)  # knows the password, not the mailbox
    refused = thief.post(
        "/login",
        data={"email": user.email, "password": user.password, "csrf_token": csrf(thief, "/login")},
    )
    assert refused.status_code == 403
    assert "set up only from the link" in refused.get_data(as_text=True)
    assert thief.get("/login/enrol").status_code == 302  # back to the sign-in page
    path = mail.link(user.email)
    owner = another_browser(client)
    wrong = owner.post(path, data={"current": "not the password", "csrf_token": csrf(owner, path)})
    assert wrong.status_code == 422
    right = owner.post(path, data={"current": user.password, "csrf_token": csrf(owner, path)})
    assert right.headers["Location"].endswith("/login/enrol")
    done, _secret = _enrol(owner)
    assert 'id="recovery-codes"' in done.get_data(as_text=True)


def test_the_owner_is_mailed_when_a_role_is_given_or_withdrawn(client, make_user, make_site, mail):
    _admin(client, make_user)
    site = make_site("FR-31")
    investigator = make_user(roles=[(Role.INVESTIGATOR, site)])
    user = make_user()
    token = csrf(client, f"/admin/users/{user.id}")
    client.post(
        f"/admin/users/{user.id}/roles",
        data={"role": "nurse", "scope": f"site:{site.id}", "csrf_token": token},
    )
    assignment = db.session.scalar(select(RoleAssignment).where(RoleAssignment.user_id == user.id))
    assert mail.to(user.email) == []  # asked for, not given: told when it takes effect
    approver = another_browser(client)
    login(approver, investigator)
    approved = approver.post(
        f"/roles/requests/{assignment.id}/approve",
        data={"csrf_token": csrf(approver, "/account")},
    )
    assert approved.status_code == 302
    client.post(
        f"/admin/users/{user.id}/roles/{assignment.id}/revoke",
        data={"reason": "moved", "csrf_token": token},
    )
    bodies = [mail.body(m) for m in mail.to(user.email)]
    assert len(bodies) == 2, bodies
    assert "You were given the role Research nurse (FR-31)" in bodies[0]
    assert "Your role Research nurse (FR-31) on the study data portal was withdrawn" in bodies[1]


def test_the_owner_is_mailed_about_a_sign_in_from_a_new_device_only(client, make_user, mail):
    user = make_user()
    login(client, user)
    assert mail.to(user.email) == []  # the very first sign-in: nothing to compare with
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    login(client, user)  # the same browser again
    assert mail.to(user.email) == []
    elsewhere = another_browser(client)
    elsewhere.environ_base["HTTP_USER_AGENT"] = "Other browser"
    db.session.execute(  # a third sign-in within one code's 30 seconds, for the test's sake
        update(User).where(User.id == user.id).values(totp_last_step=0)
    )
    db.session.commit()
    login(elsewhere, user)
    messages = mail.to(user.email)
    assert len(messages) == 1
    assert messages[-1]["Subject"] == "New sign-in to your account on the study portal"
    assert "Other browser" in mail.body(messages[-1])


def test_a_french_user_gets_french_mail(client, make_user, mail):
    _admin(client, make_user)
    user = make_user()
    users.set_locale(app_context(Actor.cli()), db.session.get(User, user.id), "fr")
    db.session.commit()
    _reasoned(client, user, "reset-password")
    (message,) = mail.to(user.email)
    assert message["Subject"] == "Votre mot de passe sur le portail de l'étude a été réinitialisé"
    assert "Bonjour" in mail.body(message)


def test_a_mail_failure_is_told_to_the_administrator_not_a_server_error(client, make_user, mail):
    _admin(client, make_user)
    mail.refuse = True
    created = _invite(client)
    assert created.status_code == 302
    page = client.get(created.headers["Location"]).get_data(as_text=True)
    assert "could not be sent" in page
    assert db.session.scalar(select(User).where(User.email == "new.nurse@hospital.example"))


def test_no_mail_leaves_for_a_change_that_was_rolled_back(app, make_user, mail):
    user = make_user()
    with app.test_request_context():
        users.reset_password(app_context(Actor.cli()), user, "test", utcnow())
        db.session.rollback()
        db.session.commit()
    assert mail.messages == []


def test_the_console_backend_logs_the_message_for_the_demo(app, client, make_user, caplog):
    settings = app.config["EDC_SETTINGS"]
    app.config["EDC_SETTINGS"] = replace(settings, mail_backend="console")
    try:
        _admin(client, make_user)
        with caplog.at_level(logging.INFO, logger="edc.mail"):
            assert _invite(client).status_code == 302
    finally:
        app.config["EDC_SETTINGS"] = settings
    assert "/account/activate/" in caplog.text
    assert "Your account on the study portal" in caplog.text


def test_without_mail_a_link_needs_a_second_administrator_and_the_requesters_code(
    client, make_user
):
    first = make_user(roles=[(Role.ADMIN, None)])
    second = make_user(roles=[(Role.ADMIN, None)])
    user = make_user()
    login(client, first)
    asked = _reasoned(client, user, "reset-password")
    assert asked.status_code == 200
    page = asked.get_data(as_text=True)
    code = page.split('id="requester-code">')[1].split("<")[0]
    assert "/account/activate/" not in page
    link = db.session.scalar(select(AccountLink).where(AccountLink.user_id == user.id))
    own = client.post(
        f"/admin/links/{link.id}/approve", data={"csrf_token": csrf(client, "/admin/links")}
    )
    assert own.status_code == 302  # refused: the requester cannot approve
    assert "Another administrator must approve" in client.get("/admin/links").get_data(as_text=True)
    approver = another_browser(client)
    login(approver, second)
    approved = approver.post(
        f"/admin/links/{link.id}/approve", data={"csrf_token": csrf(approver, "/admin/links")}
    )
    assert approved.status_code == 200
    url = approved.get_data(as_text=True).split('id="approved-link">')[1].split("<")[0]
    path = url[url.index("/account/") :]
    assert code not in approved.get_data(as_text=True)

    owner = another_browser(client)
    without = _choose_password(owner, path)
    assert without.status_code == 422  # the link alone is not enough
    assert _choose_password(owner, path, code=code).headers["Location"].endswith("/login")
    user.password = NEW_PASSWORD
    login(owner, user)


def test_without_mail_three_wrong_codes_void_the_link(client, make_user):
    first = make_user(roles=[(Role.ADMIN, None)])
    second = make_user(roles=[(Role.ADMIN, None)])
    user = make_user()
    login(client, first)
    page = _reasoned(client, user, "reset-password").get_data(as_text=True)
    code = page.split('id="requester-code">')[1].split("<")[0]
    link = db.session.scalar(select(AccountLink).where(AccountLink.user_id == user.id))
    approver = another_browser(client)
    login(approver, second)
    approved = approver.post(
        f"/admin/links/{link.id}/approve", data={"csrf_token": csrf(approver, "/admin/links")}
    ).get_data(as_text=True)
    url = approved.split('id="approved-link">')[1].split("<")[0]
    path = url[url.index("/account/") :]
    guesser = another_browser(client)
    for _n in range(3):
        assert _choose_password(guesser, path, code="aaaaa-bbbbb").status_code == 422
    last = _choose_password(guesser, path, code=code)
    assert last.status_code == 410  # even the right code is too late
    assert "Too many wrong codes" in last.get_data(as_text=True)


def _own_browser(app):
    """A browser of its own for a test that commits: parallel requests need their own clients."""
    browser = app.test_client()
    browser.environ_base.update({"wsgi.url_scheme": "https", "HTTP_REFERER": "https://localhost/"})
    return browser


@pytest.mark.commits
def test_two_uses_of_one_link_at_the_same_moment_exactly_one_works(app, make_user, mail):
    user = make_user(f"race-{utcnow().timestamp()}@test.example")
    with app.test_request_context():
        users.reset_password(app_context(Actor.cli()), user, "race", utcnow())
        db.session.commit()
    db.session.remove()
    path = mail.link(user.email)
    browsers = []
    for _n in range(2):
        browser = _own_browser(app)
        browsers.append((browser, csrf(browser, path)))
    queue = list(browsers)

    def use() -> int:
        browser, token = queue.pop()
        data = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": token}
        return browser.post(path, data=data).status_code

    outcomes = at_once(2, use)
    assert sorted(outcomes) == [302, 410], outcomes
    with Session(db.engine) as check:  # its own transaction, closed: the next test may write
        used = check.scalars(select(AccountLink).where(AccountLink.user_id == user.id)).all()
        assert [link.used_at is not None for link in used] == [True]


@pytest.mark.commits
def test_parallel_wrong_codes_are_counted_in_turn_and_void_the_link(app, make_user):
    """Twelve wrong requester codes sent at once: three are checked, the rest find the link
    void, and so does the right code afterwards (the count cannot be outrun)."""
    stamp = utcnow().timestamp()
    first = make_user(f"first-{stamp}@test.example", roles=[(Role.ADMIN, None)])
    second = make_user(f"second-{stamp}@test.example", roles=[(Role.ADMIN, None)])
    user = make_user(f"guessed-{stamp}@test.example")
    settings = app.config["EDC_SETTINGS"]
    assert settings.mail_backend == "none"
    with app.test_request_context():
        issued = users.reset_password(app_context(Actor(user=first)), user, "lost", utcnow())
        link_id, code = issued.link.id, issued.requester_code
        _link, url = links.approve(app_context(Actor(user=second)), link_id, utcnow())
        db.session.commit()
    db.session.remove()
    path = url[url.index("/account/") :]
    browsers = []
    for _n in range(12):
        browser = _own_browser(app)
        browsers.append((browser, csrf(browser, path)))
    queue = list(browsers)

    def guess() -> int:
        browser, token = queue.pop()
        data = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": token}
        return browser.post(path, data={**data, "code": "aaaaa-bbbbb"}).status_code

    outcomes = at_once(12, guess)
    assert outcomes.count(422) == 3, outcomes
    assert outcomes.count(410) == 9, outcomes
    assert _choose_password(app.test_client(), path, code=code).status_code == 410
    with Session(db.engine) as check:
        refused = check.scalar(
            select(func.count()).where(
                AuditEvent.action == "auth.link_refused", AuditEvent.entity_id == str(link_id)
            )
        )
        assert refused == 3


@pytest.mark.commits
def test_two_administrators_approving_one_request_at_once_get_one_link(app, make_user):
    stamp = utcnow().timestamp()
    first = make_user(f"asker-{stamp}@test.example", roles=[(Role.ADMIN, None)])
    approvers = [
        make_user(f"approver{n}-{stamp}@test.example", roles=[(Role.ADMIN, None)]) for n in (1, 2)
    ]
    user = make_user(f"reset-{stamp}@test.example")
    with app.test_request_context():
        issued = users.reset_password(app_context(Actor(user=first)), user, "lost", utcnow())
        link_id = issued.link.id
        db.session.commit()
    db.session.remove()
    browsers = []
    for approver in approvers:
        browser = _own_browser(app)
        login(browser, approver)
        browsers.append((browser, csrf(browser, "/admin/links")))
    queue = list(browsers)

    def approve() -> str:
        browser, token = queue.pop()
        response = browser.post(f"/admin/links/{link_id}/approve", data={"csrf_token": token})
        return "link" if 'id="approved-link"' in response.get_data(as_text=True) else "refused"

    assert sorted(at_once(2, approve)) == ["link", "refused"]
    with Session(db.engine) as check:
        approved = check.scalar(
            select(func.count()).where(
                AuditEvent.action == "auth.link_approved", AuditEvent.entity_id == str(link_id)
            )
        )
        assert approved == 1
