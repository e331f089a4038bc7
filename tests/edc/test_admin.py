"""Administrators: accounts, roles, deactivation, factor reset, security events, access review."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from edc.access import Role
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.studies import Site
from edc.models.users import RoleAssignment, User
from tests.factories import another_browser, csrf, login, statements_for


def _admin_client(client, make_user):
    admin = make_user(roles=[(Role.ADMIN, None)])
    login(client, admin)
    return admin


def test_admin_creates_an_account_and_only_its_owner_gets_the_invitation(client, make_user, mail):
    admin = _admin_client(client, make_user)
    response = client.post(
        "/admin/users/new",
        data={
            "email": "New.Nurse@Hospital.example",
            "full_name": "Nina Nurse",
            "identity_check": "Passport seen by the PI, 2026-11-02",
            "csrf_token": csrf(client, "/admin/users/new"),
        },
    )
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "new.nurse@hospital.example"))
    assert user.must_change_password
    token = mail.link(user.email).rsplit("/", 1)[1]
    detail = client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert token not in detail
    assert "link sent to new.nurse@hospital.example" in detail
    created = db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "user.created", AuditEvent.actor_id == admin.id
        )
    )
    assert created.new_value["identity_check"] == "Passport seen by the PI, 2026-11-02"


def test_duplicate_email_and_missing_identity_check_are_refused_next_to_the_field(
    client, make_user
):
    _admin_client(client, make_user)
    existing = make_user()
    token = csrf(client, "/admin/users/new")
    duplicate = client.post(
        "/admin/users/new",
        data={
            "email": existing.email,
            "full_name": "X",
            "identity_check": "seen",
            "csrf_token": token,
        },
    )
    assert duplicate.status_code == 422
    body = duplicate.get_data(as_text=True)
    assert "already exists" in body
    assert 'value="X"' in body  # what was typed is kept


def test_admin_grants_and_revokes_a_site_role(client, make_user, make_site):
    _admin_client(client, make_user)
    site = make_site("ES-01")
    nurse = make_user()
    token = csrf(client, f"/admin/users/{nurse.id}")
    response = client.post(
        f"/admin/users/{nurse.id}/roles",
        data={"role": "nurse", "scope": f"site:{site.id}", "csrf_token": token},
    )
    assert response.status_code == 302
    assignment = db.session.scalar(select(RoleAssignment).where(RoleAssignment.user_id == nurse.id))
    assert (assignment.role, assignment.site_id) == ("nurse", site.id)
    assignment_id = assignment.id
    wrong = client.post(
        f"/admin/users/{nurse.id}/roles",
        data={"role": "data_manager", "scope": f"site:{site.id}", "csrf_token": token},
    )
    assert wrong.status_code == 422
    assert "whole study" in wrong.get_data(as_text=True)
    revoke = client.post(
        f"/admin/users/{nurse.id}/roles/{assignment_id}/revoke",
        data={"reason": "moved to another hospital", "csrf_token": token},
    )
    assert revoke.status_code == 302
    assert db.session.get(RoleAssignment, assignment_id).revoked_at is not None
    history = client.get(f"/admin/users/{nurse.id}").get_data(as_text=True)
    assert 'class="revoked"' in history  # the access history keeps the revoked role


def test_an_admin_cannot_change_their_own_roles_or_deactivate_themselves(
    client, make_user, make_site
):
    admin = _admin_client(client, make_user)
    site = make_site()
    token = csrf(client, f"/admin/users/{admin.id}")
    response = client.post(
        f"/admin/users/{admin.id}/roles",
        data={"role": "nurse", "scope": f"site:{site.id}", "csrf_token": token},
    )
    assert response.status_code == 422
    assert "own roles" in response.get_data(as_text=True)
    response = client.post(
        f"/admin/users/{admin.id}/deactivate", data={"reason": "test", "csrf_token": token}
    )
    assert response.status_code == 422


def test_reset_of_two_step_sign_in_makes_the_user_enrol_again(client, app, make_user, mail):
    _admin_client(client, make_user)
    user = make_user()
    token = csrf(client, f"/admin/users/{user.id}")
    client.post(
        f"/admin/users/{user.id}/reset-2fa", data={"reason": "phone lost", "csrf_token": token}
    )
    other = another_browser(client)
    path = mail.link(user.email)
    response = other.post(path, data={"current": user.password, "csrf_token": csrf(other, path)})
    assert response.headers["Location"].endswith("/login/enrol")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "auth.totp_revoked"))
    assert event.reason == "phone lost"


def test_security_events_filter_and_export_as_csv(client, make_user):
    _admin_client(client, make_user)
    victim = make_user().email  # the refusals below roll back (and expire) what was loaded
    for _ in range(2):
        client.application.test_client().post("/login")  # CSRF refusal: not an auth event
    other = another_browser(client)
    other.post(
        "/login",
        data={"email": victim, "password": "wrong one", "csrf_token": csrf(other, "/login")},
    )
    page = client.get("/admin/security?action=auth.login_failed").get_data(as_text=True)
    assert victim in page
    assert 'data-label="Event">Sign-in refused</td>' in page  # the event named, not its code
    assert 'data-label="Event">Signed in</td>' not in page
    export = client.get(f"/admin/security.csv?actor={victim}")
    assert export.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert rows
    assert {r["action"] for r in rows} == {"auth.login_failed"}
    assert all(r["actor_email"] == victim for r in rows)


def test_access_review_lists_user_role_site_and_last_sign_in(client, make_user, make_site):
    _admin_client(client, make_user)
    site = make_site("FR-09")
    nurse = make_user(roles=[(Role.NURSE, site)])
    page = client.get("/admin/access-review").get_data(as_text=True)
    assert nurse.email in page
    assert "FR-09" in page
    export = client.get("/admin/access-review.csv").get_data(as_text=True)
    row = next(r for r in csv.DictReader(io.StringIO(export)) if r["email"] == nurse.email)
    assert (row["role"], row["scope"]) == ("nurse", "FR-09")
    assert "last_login_at" in row


def test_user_list_search_uses_a_constant_number_of_queries(client, make_user, make_site):
    _admin_client(client, make_user)
    site = make_site()

    make_user(roles=[(Role.NURSE, site)])
    few = statements_for(client, "/admin/users")
    for _ in range(6):
        make_user(roles=[(Role.NURSE, site)])
    assert statements_for(client, "/admin/users") == few


def test_cli_creates_assigns_lists_and_deactivates(app, make_site):
    site = make_site("IT-07")
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=[
            "users", "create", "--email", "cli.user@test.example", "--name", "Cli User",
            "--identity-check", "badge checked", "--role", "monitor", "--site", site.code,
        ]
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "invitation link (works once, 72 h): http" in created.output
    listed = runner.invoke(args=["users", "list"])
    assert "cli.user@test.example" in listed.output
    assert "monitor@IT-07" in listed.output
    again = runner.invoke(
        args=["users", "create", "--email", "cli.user@test.example", "--name", "Cli User",
              "--identity-check", "badge checked"]
    )  # fmt: skip
    assert again.exit_code == 1  # a refusal in words at the command line, not a traceback
    assert "An account with this e-mail address already exists." in again.output
    gone = runner.invoke(args=["users", "deactivate", "cli.user@test.example", "--reason", "left"])
    assert gone.exit_code == 0, gone.output
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.deactivated"))
    assert event.actor_email.startswith("cli:")
    refused = runner.invoke(args=["users", "assign", "nobody@test.example", "nurse"])
    assert refused.exit_code != 0
    assert "no account" in refused.output


def test_a_password_reset_still_asks_for_the_second_factor(client, app, make_user, mail):
    _admin_client(client, make_user)
    user = make_user()
    token = csrf(client, f"/admin/users/{user.id}")
    client.post(
        f"/admin/users/{user.id}/reset-password", data={"reason": "forgotten", "csrf_token": token}
    )
    other = another_browser(client)
    path, chosen = mail.link(user.email), "a brand new passphrase for me"
    other.post(path, data={"password": chosen, "confirm": chosen, "csrf_token": csrf(other, path)})
    response = other.post(
        "/login",
        data={"email": user.email, "password": chosen, "csrf_token": csrf(other, "/login")},
    )
    assert response.headers["Location"].endswith("/login/code")
    assert other.get("/login/password").status_code == 302  # not before the code


def test_sites_take_their_countrys_time_zone_or_the_one_given(app, make_study):
    make_study("tz-study")
    db.session.commit()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["sites", "add", "tz-study", "ES-01", "Madrid", "es"]).exit_code == 0
    lisbon = ["sites", "add", "tz-study", "PT-01", "Lisboa", "PT", "--timezone", "Europe/Lisbon"]
    assert runner.invoke(args=lisbon).exit_code == 0
    bad = runner.invoke(args=["sites", "add", "tz-study", "XX-01", "X", "FR", "--timezone", "Mars"])
    assert bad.exit_code != 0
    assert "unknown time zone Mars" in bad.output
    zones = dict(db.session.execute(select(Site.code, Site.timezone)).tuples().all())
    assert zones["ES-01"] == "Europe/Madrid"  # not Ceuta or the Canaries
    assert zones["PT-01"] == "Europe/Lisbon"
    assert "XX-01" not in zones
    canaries = ["sites", "timezone", "tz-study", "ES-01", "Atlantic/Canary", "--reason", "Tenerife"]
    assert runner.invoke(args=canaries).exit_code == 0
    listed = runner.invoke(args=["sites", "list", "tz-study"]).output
    assert "ES-01" in listed
    assert "Atlantic/Canary" in listed
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "site.timezone"))
    assert (event.old_value, event.new_value, event.reason) == (
        {"timezone": "Europe/Madrid"}, {"timezone": "Atlantic/Canary"}, "Tenerife",
    )  # fmt: skip


def test_an_address_of_the_demo_domain_is_accepted_on_a_demo_machine(client, make_user, mail):
    """The demo's accounts are under demo.siopen.test: its administrator can add one more."""
    _admin_client(client, make_user)
    response = client.post(
        "/admin/users/new",
        data={
            "email": "another.nurse@demo.siopen.test",
            "full_name": "Anna Nurse",
            "identity_check": "Badge seen",
            "csrf_token": csrf(client, "/admin/users/new"),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.email == "another.nurse@demo.siopen.test"))
