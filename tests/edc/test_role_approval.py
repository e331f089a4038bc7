"""Clinical roles take effect only once someone accountable for the site's data approves them:
an administrator cannot give an account of their own access to subjects (issue 10, defect 4)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from edc.access import Role
from edc.context import Context
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.users import RoleAssignment
from tests.factories import another_browser, csrf, login

NAME = "Apolline"


def _browser(client, user):
    browser = another_browser(client)
    login(browser, user)
    return browser


def _ask(admin_browser, user, role: str, scope: str):
    """The administrator's request on the user's page; the new assignment's id."""
    response = admin_browser.post(
        f"/admin/users/{user.id}/roles",
        data={"role": role, "scope": scope, "csrf_token": csrf(admin_browser, "/admin/users")},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return db.session.scalar(
        select(RoleAssignment.id)
        .where(RoleAssignment.user_id == user.id, RoleAssignment.role == role)
        .order_by(RoleAssignment.id.desc())
    )


def _decide(browser, assignment_id: int, decision: str, reason: str = ""):
    token = csrf(browser, "/account")
    data = {"csrf_token": token} | ({"reason": reason} if reason else {})
    return browser.post(f"/roles/requests/{assignment_id}/{decision}", data=data)


def _sees(browser, code: str) -> bool:
    page = browser.get(f"/subjects/{code}")
    identity = browser.get(f"/subjects/{code}/identity", headers={"HX-Request": "true"})
    assert page.status_code in (200, 404)
    assert identity.status_code in (200, 404)
    return page.status_code == 200 and NAME in identity.get_data(as_text=True)


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _scene(client, make_user, make_site, make_subject):
    """A site with a subject and its investigator; an administrator signed in in `client`; a
    second account of the administrator's, with no role yet, signed in in its own browser."""
    site = make_site("FR-21")
    subject = make_subject(site, given_names=NAME)
    investigator = make_user(roles=[(Role.INVESTIGATOR, site)])
    admin = make_user(roles=[(Role.ADMIN, None)])
    login(client, admin)
    second = make_user()
    return site, subject.study_code, investigator, admin, second, _browser(client, second)


def test_a_nurse_role_opens_nothing_until_the_sites_investigator_approves_it(
    client, make_user, make_site, make_subject
):
    site, code, investigator, admin, second, second_browser = _scene(
        client, make_user, make_site, make_subject
    )
    request = _ask(client, second, "nurse", f"site:{site.id}")
    assert not _sees(second_browser, code)
    assert second_browser.get("/subjects/").status_code == 404
    assert "waiting for approval" in client.get(f"/admin/users/{second.id}").get_data(as_text=True)
    assert "waiting for approval" in second_browser.get("/").get_data(as_text=True)

    approver = _browser(client, investigator)
    assert "1 role request waits for your decision" in approver.get("/").get_data(as_text=True)
    listed = approver.get("/roles/requests").get_data(as_text=True)
    assert second.email in listed  # who is asked for,
    assert admin.email in listed  # and by whom
    assert _decide(approver, request, "approve").status_code == 302
    assert _sees(second_browser, code)
    [approved] = _events("role.approved")
    assert (approved.actor_id, approved.site_code, approved.entity_id) == (
        investigator.id,
        "FR-21",
        str(request),
    )
    assert approved.new_value["email"] == second.email
    detail = client.get(f"/admin/users/{second.id}").get_data(as_text=True)
    assert f"approved by {investigator.full_name}" in detail
    assert second.email not in approver.get("/roles/requests").get_data(as_text=True)

    token = csrf(client, "/admin/users")
    revoked = client.post(
        f"/admin/users/{second.id}/roles/{request}/revoke",
        data={"reason": "no longer at the site", "csrf_token": token},
    )
    assert revoked.status_code == 302
    assert not _sees(second_browser, code)  # revoking needs nobody's approval


def test_the_administrator_who_asked_cannot_approve_even_as_the_sites_investigator(
    client, make_user, make_site, make_subject
):
    site, code, _investigator, _admin, second, second_browser = _scene(
        client, make_user, make_site, make_subject
    )
    request = _ask(client, second, "nurse", f"site:{site.id}")
    assert "Role requests" not in client.get("/").get_data(as_text=True)
    assert client.get("/roles/requests").status_code == 404
    assert _decide(client, request, "approve").status_code == 404
    assert not _sees(second_browser, code)

    both = make_user(roles=[(Role.ADMIN, None), (Role.INVESTIGATOR, site)])
    both_browser = _browser(client, both)
    other = make_user()
    own_request = _ask(both_browser, other, "monitor", f"site:{site.id}")
    assert other.email not in both_browser.get("/roles/requests").get_data(as_text=True)
    assert _decide(both_browser, own_request, "approve").status_code == 404
    assert not _events("role.approved")
    assert db.session.get(RoleAssignment, own_request).approved_at is None


def test_nobody_approves_their_own_role_request(client, make_user, make_study, make_site):
    study = make_study()
    site = make_site("FR-22", study)
    manager = make_user(roles=[(Role.DATA_MANAGER, study)])
    admin = make_user(roles=[(Role.ADMIN, None)])
    login(client, admin)
    request = _ask(client, manager, "investigator", f"site:{site.id}")
    manager_browser = _browser(client, manager)
    assert manager.email not in manager_browser.get("/roles/requests").get_data(as_text=True)
    assert _decide(manager_browser, request, "approve").status_code == 404
    assert manager_browser.get("/subjects/new").status_code == 404  # no nurse permission came
    assert db.session.get(RoleAssignment, request).pending

    colleague = _browser(client, make_user(roles=[(Role.DATA_MANAGER, study)]))
    assert manager.email in colleague.get("/roles/requests").get_data(as_text=True)
    assert _decide(colleague, request, "approve").status_code == 302  # first investigator
    assert manager_browser.get("/subjects/new").status_code == 200


def test_an_investigator_of_another_site_cannot_approve(client, make_user, make_site, make_subject):
    site, code, _investigator, _admin, second, second_browser = _scene(
        client, make_user, make_site, make_subject
    )
    elsewhere = make_site("IT-22", site.study)
    request = _ask(client, second, "nurse", f"site:{site.id}")
    outsider = _browser(client, make_user(roles=[(Role.INVESTIGATOR, elsewhere)]))
    assert second.email not in outsider.get("/roles/requests").get_data(as_text=True)
    assert _decide(outsider, request, "approve").status_code == 404
    assert _decide(outsider, request, "refuse", "not ours").status_code == 404
    assert not _sees(second_browser, code)
    assert db.session.get(RoleAssignment, request).pending
    denied = _events("access.denied")
    assert any(e.entity_type == "role_assignment" for e in denied)


def test_a_refused_request_grants_nothing_and_keeps_its_reason(
    client, make_user, make_site, make_subject
):
    site, code, investigator, _admin, second, second_browser = _scene(
        client, make_user, make_site, make_subject
    )
    request = _ask(client, second, "nurse", f"site:{site.id}")
    approver = _browser(client, investigator)
    assert _decide(approver, request, "refuse").status_code == 422  # a reason is required
    refused = _decide(approver, request, "refuse", "I do not know this person")
    assert refused.status_code == 302
    assert not _sees(second_browser, code)
    [event] = _events("role.refused")
    assert (event.actor_id, event.reason, event.site_code) == (
        investigator.id,
        "I do not know this person",
        "FR-21",
    )
    late = _decide(approver, request, "approve")  # a decision is final
    assert late.status_code == 409
    assert not _sees(second_browser, code)
    detail = client.get(f"/admin/users/{second.id}").get_data(as_text=True)
    assert f"refused by {investigator.full_name}" in detail
    assert "I do not know this person" in detail
    _ask(client, second, "nurse", f"site:{site.id}")  # asking again is possible


def test_the_operator_approves_a_studys_first_data_manager_at_the_command_line(
    app, make_study, make_site, make_subject
):
    study = make_study("first-dm")
    subject = make_subject(make_site("FR-23", study))
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=[
            "users", "create", "--email", "dm@test.example", "--name", "First DM",
            "--identity-check", "badge", "--role", "data_manager", "--study", "first-dm",
        ]
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "pending" in created.output
    assert "(pending approval)" in runner.invoke(args=["users", "list"]).output
    approved = runner.invoke(
        args=["users", "approve", "dm@test.example", "data_manager", "--study", "first-dm",
              "--reason", "first data manager, named by the sponsor"]
    )  # fmt: skip
    assert approved.exit_code == 0, approved.output
    [event] = _events("role.approved")
    assert event.actor_email.startswith("cli:")
    assert event.reason == "first data manager, named by the sponsor"
    again = runner.invoke(
        args=["users", "approve", "dm@test.example", "data_manager", "--study", "first-dm",
              "--reason", "twice"]
    )  # fmt: skip
    assert again.exit_code != 0
    from edc import access
    from edc.models.users import User

    manager = db.session.scalar(select(User).where(User.email == "dm@test.example"))
    grants = access.grants(db.session, manager)
    assert [g.role for g in grants] == [Role.DATA_MANAGER]
    assert subject.site_id in grants[0].site_ids


@pytest.mark.commits
def test_two_investigators_deciding_at_once_leave_one_decision(app):
    """Two investigators of the site approve and refuse the same request at the same moment
    (PostgreSQL runs them in parallel): the row is locked, one decision wins, the other is told
    the request was already decided; the trail holds one decision."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from edc import audit
    from edc.actor import Actor
    from edc.models.base import utcnow
    from edc.models.studies import Site, Study
    from edc.models.users import User
    from edc.services import role_approval
    from tests.concurrency import at_once

    cli, now = Actor.cli(), utcnow()
    with Session(db.engine) as setup:
        study = Study(slug="approval-race", title="Race")
        site = Site(study=study, code="RACE-02", name="Race", country="FR")
        people = [
            User(email=f"{who}@race.example", full_name=who, password_hash="x", created_at=now)
            for who in ("pi-one", "pi-two", "newcomer")
        ]
        setup.add_all([study, site, *people])
        for target in (study, site, *people):
            audit.record(setup, cli, "test.setup", target=target)
        setup.flush()
        roles = [
            RoleAssignment(
                user_id=person.id,
                role=role,
                site_id=site.id,
                granted_at=now,
                approved_at=approved,
            )
            for person, role, approved in zip(
                people, ("investigator", "investigator", "nurse"), (now, now, None), strict=True
            )
        ]
        setup.add_all(roles)
        for target in roles:
            audit.record(setup, cli, "test.setup", target=target)
        setup.commit()
        ids = {
            "study": study.id,
            "site": site.id,
            "users": [p.id for p in people],
            "request": roles[2].id,
        }
    deciders = iter([(ids["users"][0], "approve"), (ids["users"][1], "refuse")])

    def decide() -> str:
        user_id, decision = next(deciders)
        with app.test_request_context(), Session(db.engine) as session:
            actor = Actor(user=session.get(User, user_id))
            ctx = Context(session, actor, settings=app.config["EDC_SETTINGS"])
            try:
                if decision == "approve":
                    role_approval.approve(ctx, ids["request"], utcnow())
                else:
                    role_approval.refuse(ctx, ids["request"], "unknown", utcnow())
                session.commit()
            except role_approval.ApprovalError:
                session.rollback()
                return "too late"
            return decision

    try:
        outcomes = at_once(2, decide)
        assert sorted(map(str, outcomes)) in (["approve", "too late"], ["refuse", "too late"])
        with Session(db.engine) as check:
            decisions = check.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.action.in_(["role.approved", "role.refused"]),
                    AuditEvent.entity_id == str(ids["request"]),
                    AuditEvent.site_code == "RACE-02",
                )
            ).all()
            assert len(decisions) == 1
            request = check.get(RoleAssignment, ids["request"])
            assert (request.approved_at is None) == (request.refused_at is not None)
    finally:  # the audit events stay (append-only); the rows go, so other tests count as before
        with db.engine.begin() as conn:
            conn.execute(text("DELETE FROM role_assignment WHERE site_id = :site"), ids)
            for user_id in ids["users"]:
                conn.execute(text("DELETE FROM user_account WHERE id = :id"), {"id": user_id})
            conn.execute(text("DELETE FROM site WHERE id = :site"), ids)
            conn.execute(text("DELETE FROM study WHERE id = :study"), ids)
