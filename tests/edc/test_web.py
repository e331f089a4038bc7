"""Request plumbing: CSRF everywhere, security headers, htmx fragments, friendly errors, no 500s."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edc.access import Role
from tests.factories import another_browser, csrf, login

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def _state_changing_urls(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & STATE_CHANGING):
            yield rule.build({arg: 1 for arg in rule.arguments})[1], method


def test_every_state_changing_request_without_a_csrf_token_answers_400(app, client, make_user):
    urls = list(_state_changing_urls(app))
    assert len(urls) >= 10
    for url, method in urls:  # anonymous
        assert client.open(url, method=method).status_code == 400, (url, method)
    login(client, make_user(roles=[(Role.ADMIN, None)]))
    for url, method in urls:  # signed in, with the permission
        response = client.open(url, method=method, data={"reason": "x"})
        assert response.status_code == 400, (url, method)
        assert "Reload" in response.get_data(as_text=True)


def test_a_token_from_another_session_is_refused(app, client, make_user):
    stranger = another_browser(client)
    foreign = csrf(stranger, "/login")
    user = make_user()
    response = client.post(
        "/login", data={"email": user.email, "password": user.password, "csrf_token": foreign}
    )
    assert response.status_code == 400


def test_htmx_sends_the_token_in_a_header(client, make_user):
    login(client, make_user())
    token = csrf(client, "/account")
    response = client.post("/language", data={"lang": "de"}, headers={"X-CSRFToken": token})
    assert response.status_code == 302


def test_security_headers_and_a_strict_csp(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    assert "unsafe-inline" not in script_src
    assert "unsafe-eval" not in script_src
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script>" not in response.get_data(as_text=True)


def test_htmx_request_gets_only_the_named_block(client, make_user):
    login(client, make_user(roles=[(Role.ADMIN, None)]))
    page = client.get("/admin/users")
    fragment = client.get("/admin/users?q=test", headers={"HX-Request": "true"})
    assert "<html" in page.get_data(as_text=True)
    body = fragment.get_data(as_text=True)
    assert "<html" not in body
    assert body.strip().startswith('<div id="results">')
    for response in (page, fragment):
        assert "HX-Request" in response.headers["Vary"]


def test_htmx_request_after_the_session_ended_is_redirected_by_header(client):
    response = client.get("/admin/users", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")


def test_not_found_page_is_friendly_and_translated(client):
    response = client.get("/no/such/page", headers={"Accept-Language": "fr"})
    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert 'lang="fr"' in body
    assert "Traceback" not in body


def test_a_server_error_leaks_nothing(app, client, make_user, monkeypatch):
    from edc.services import security

    def explode(*_a, **_k):
        raise RuntimeError("SELECT secret FROM somewhere")

    monkeypatch.setattr(security, "security_events", explode)
    login(client, make_user(roles=[(Role.ADMIN, None)]))
    response = client.get("/admin/security")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "SELECT" not in body
    assert "Traceback" not in body
    assert "Nothing you entered was saved" in body


text = st.text(max_size=300)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(email=text, password=text, code=text, extra=st.dictionaries(text, text, max_size=3))
def test_random_input_to_the_sign_in_forms_never_causes_a_server_error(
    client, make_user, email, password, code, extra
):
    token = csrf(client, "/login")
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token, **extra}
    )
    assert response.status_code < 500
    response = client.post("/login/code", data={"code": code, "csrf_token": token, **extra})
    assert response.status_code < 500
    response = client.post("/login/enrol", data={"code": code, "csrf_token": token})
    assert response.status_code < 500


def test_random_codes_after_a_correct_password_never_cause_a_server_error(client, make_user):
    user = make_user()

    @settings(max_examples=40, deadline=None)
    @given(code=st.text(max_size=64))
    def attempt(code: str) -> None:
        token = csrf(client, "/login")
        client.post(
            "/login", data={"email": user.email, "password": user.password, "csrf_token": token}
        )
        response = client.post("/login/code", data={"code": code, "csrf_token": token})
        assert response.status_code < 500

    attempt()
