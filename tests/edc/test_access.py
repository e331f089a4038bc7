"""Access policy: every endpoint declares a rule, scope holds, and denial looks like absence."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from edc import access
from edc.access import ROLE_PERMISSIONS, Permission, Role
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.web import app_context
from tests.factories import another_browser, csrf, login

CLINICAL = {
    Permission.SUBJECT_VIEW,
    Permission.SUBJECT_REGISTER,
    Permission.IDENTITY_VIEW,
    Permission.DATA_ENTER,
    Permission.AUDIT_READ,
    Permission.DATA_EXPORT,
    Permission.SITE_VIEW,
}


def _rules(app: Flask):
    return sorted(app.url_map.iter_rules(), key=lambda r: r.endpoint)


def _url(rule) -> str:
    values = {arg: 999999 for arg in rule.arguments}
    if rule.endpoint == "static":
        values = {"filename": "css/app.css"}
    return rule.build(values)[1]


def _call(client, rule, method: str, token: str):
    response = client.open(_url(rule), method=method, data={"csrf_token": token})
    response.close()  # static files stream from disk
    return response


def _methods(rule) -> list[str]:
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


def test_every_endpoint_declares_its_access(app):
    undeclared = [
        r.endpoint
        for r in _rules(app)
        if access.declaration(app.view_functions[r.endpoint]) is None
    ]
    assert undeclared == [], f"endpoints without @public/@signed_in/@requires: {undeclared}"


def test_route_matrix_anonymous_is_sent_to_sign_in(app, client):
    token = csrf(client, "/login")
    for rule in _rules(app):
        view = app.view_functions[rule.endpoint]
        for method in _methods(rule):
            response = _call(client, rule, method, token)
            assert response.status_code < 500, (rule.endpoint, method)
            if access.is_public(view):
                continue
            assert response.status_code in (302, 401), (rule.endpoint, method)
            if response.status_code == 302:
                assert "/login" in response.headers["Location"], rule.endpoint


def test_route_matrix_without_the_permission_answers_404(app, client, make_user, make_site):
    nurse = make_user(roles=[(Role.NURSE, make_site())])
    login(client, nurse)
    token = csrf(client, "/account")
    held = set(ROLE_PERMISSIONS[Role.NURSE])
    checked = 0
    for rule in _rules(app):
        decl = access.declaration(app.view_functions[rule.endpoint])
        if not isinstance(decl, Permission) or decl in held:
            continue
        for method in _methods(rule):
            response = _call(client, rule, method, token)
            assert response.status_code == 404, (rule.endpoint, method, response.status_code)
            checked += 1
    assert checked > 0
    denied = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied"))
    limit = app.config["EDC_SETTINGS"].denial_trace_limit  # a crawler cannot flood the trail
    assert len(list(denied)) == min(checked, limit)


def test_route_matrix_with_the_permission_never_fails_on_unknown_ids(
    app, client, make_user, make_site
):
    admin = make_user(roles=[(Role.ADMIN, None)])
    login(client, admin)
    token = csrf(client, "/account")
    for rule in _rules(app):
        if not rule.arguments or rule.endpoint == "static":
            continue
        for method in _methods(rule):
            response = _call(client, rule, method, token)
            assert response.status_code == 404, (rule.endpoint, method, response.status_code)


def test_the_gate_refuses_an_endpoint_that_declares_nothing():
    probe = Flask("probe")
    probe.before_request(access.gate)

    @probe.route("/forgotten")
    def forgotten() -> str:
        return "secret"

    @probe.route("/open")
    @access.public
    def open_page() -> str:
        return "hello"

    test = probe.test_client()
    assert test.get("/forgotten").status_code == 404
    assert test.get("/open").status_code == 200


def test_the_gate_fails_closed_when_the_policy_errors(app, client, make_user, monkeypatch):
    login(client, make_user(roles=[(Role.ADMIN, None)]))

    def broken(*_args, **_kwargs):
        raise RuntimeError("policy store unavailable")

    monkeypatch.setattr(access, "grants", broken)
    response = client.get("/admin/users")
    assert response.status_code == 500
    assert "Test User" not in response.get_data(as_text=True)


def test_admin_holds_no_clinical_permission():
    assert not (ROLE_PERMISSIONS[Role.ADMIN] & CLINICAL)
    assert Permission.DATA_ENTER not in ROLE_PERMISSIONS[Role.MONITOR]


def test_home_lists_only_the_sites_in_scope(client, app, make_user, make_site, make_study):
    study = make_study("nb")
    fr, it, es = make_site("FR-01", study), make_site("IT-01", study), make_site("ES-01", study)
    cases = [
        (make_user(roles=[(Role.NURSE, fr)]), {"FR-01"}),
        (make_user(roles=[(Role.MONITOR, it), (Role.MONITOR, es)]), {"IT-01", "ES-01"}),
        (make_user(roles=[(Role.DATA_MANAGER, study)]), {"FR-01", "IT-01", "ES-01"}),
        (make_user(roles=[(Role.ADMIN, None)]), set()),
    ]
    for user, expected in cases:
        browser = another_browser(client)
        login(browser, user)
        page = browser.get("/").get_data(as_text=True)
        seen = {code for code in ("FR-01", "IT-01", "ES-01") if f"<td>{code}</td>" in page}
        assert seen == expected, user.email


def test_out_of_scope_looks_exactly_like_missing(client, app, make_user):
    target = make_user()
    nurse_client = another_browser(client)
    login(nurse_client, make_user())
    existing = nurse_client.get(f"/admin/users/{target.id}")
    missing = nurse_client.get("/admin/users/987654")
    assert existing.status_code == missing.status_code == 404
    assert _without_tokens(existing) == _without_tokens(missing)


def _without_tokens(response) -> str:
    """The page minus its CSRF tokens, which differ on every render."""
    import re

    body = re.sub(r"/admin/users/\d+", "/admin/users/ID", response.get_data(as_text=True))
    # In a hidden input, and in the page's htmx headers (`hx-headers='{"X-CSRFToken": "…"}'`):
    # a token holds its time to the second, so two renders may differ there alone.
    return re.sub(r'(value="|X-CSRFToken&#34;: &#34;|"X-CSRFToken": ")[^"&]{40,}', "TOKEN", body)


@pytest.mark.parametrize("role", list(Role))
def test_every_role_has_a_scope_and_permissions(role):
    assert role in access.ROLE_SCOPE
    assert ROLE_PERMISSIONS[role]


def test_route_matrix_every_subject_route_answers_404_to_another_sites_staff(app, client, tmp_path):
    """With real addresses (a subject, a repeating event's 2nd occurrence, a form, an item) that
    its own site's staff open, the staff of another site (a nurse, and an investigator, who
    holds every site permission) get 404 on every method."""
    import datetime as dt
    import textwrap

    from edc.actor import Actor
    from edc.context import Context
    from edc.models.base import utcnow
    from edc.models.subjects import Subject
    from edc.services import casebook
    from edc.services.definitions import load_definition
    from tests.edc.conftest import FORM, STUDY
    from tests.factories import make_site, make_study, make_subject, make_user

    study = make_study("matrix")
    folder = tmp_path / "matrix"
    (folder / "forms").mkdir(parents=True)
    events = (
        "  - id: review\n    label: Review\n    repeating: true\n    visit_date: true\n"
        "    forms: [visit]\n"
    )
    (folder / "study.yaml").write_text(STUDY.format(slug=study.slug) + events)
    (folder / "forms" / "visit.yaml").write_text(textwrap.dedent(FORM))
    load_definition(app_context(Actor.cli()), study, folder, utcnow())
    home = make_site("FR-40", study)
    subject = make_subject(home)
    # The investigator holds every permission a site grants (a nurse's, and signing).
    nurse = make_user(roles=[(Role.INVESTIGATOR, home)])
    subject = db.session.get(Subject, subject.id)
    casebook.add_occurrence(
        Context(db.session(), Actor(user=nurse)),
        subject,
        "review",
        utcnow(),
        visit_date=dt.date(2026, 1, 5),
    )
    db.session.commit()
    values = {"code": subject.study_code, "event_id": "review", "number": 2,
              "form_id": "visit", "path": "weight"}  # fmt: skip
    rules = [r for r in _rules(app) if "code" in r.arguments]
    assert {"subjects.occurrence_add", "subjects.occurrence_remove", "subjects.visit_date"} <= {
        r.endpoint for r in rules
    }
    login(client, nurse)
    form = f"/subjects/{subject.study_code}/crf/review/2/visit"
    posted = {"csrf_token": csrf(client, form), "weight": "5", "row_version": "0"}
    saved = client.post(form, data=posted)
    assert saved.status_code == 302  # an item with a history, in the 2nd occurrence
    elsewhere = make_site("IT-40", study)
    for role in (Role.NURSE, Role.INVESTIGATOR):
        stranger = another_browser(client)
        login(stranger, make_user(roles=[(role, elsewhere)]))
        token = csrf(stranger, "/account")
        for rule in rules:
            url = rule.build({a: values[a] for a in rule.arguments})[1]
            for method in _methods(rule):
                data = {"csrf_token": token, "reason": "x", "number": "3", "row_version": "0"}
                response = stranger.open(url, method=method, data=data)
                assert response.status_code == 404, (
                    role,
                    rule.endpoint,
                    method,
                    response.status_code,
                )
    for rule in rules:
        if "GET" in rule.methods:
            url = rule.build({a: values[a] for a in rule.arguments})[1]
            assert client.get(url).status_code == 200, rule.endpoint  # the address is real
