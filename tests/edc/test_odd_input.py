"""Odd input found by the probe: each answers a clear 4xx, never a server error."""

from __future__ import annotations

import pytest

from edc.access import Role
from tests.factories import csrf, login

HUGE = 10**20


@pytest.fixture
def admin_client(client, make_user):
    login(client, make_user(roles=[(Role.ADMIN, None)]))
    return client


@pytest.fixture
def nurse_client(app, entry_for):
    from tests.conftest import https_client

    nurse = https_client(app)
    login(nurse, entry_for.nurse)
    return nurse


@pytest.mark.parametrize("page", [str(HUGE), "-5", "0", "abc", "1e9", "", "9" * 5000])
def test_an_odd_page_number_shows_a_page_not_an_error(admin_client, nurse_client, page):
    response = admin_client.get(f"/admin/security?page={page}")
    assert response.status_code == 200
    response = nurse_client.get(f"/subjects/?page={page}")
    assert response.status_code == 200
    assert "NB-FR09-0001" in response.get_data(as_text=True) or page == str(HUGE)


@pytest.mark.parametrize("number", [HUGE, 2**31, 2**63, int("9" * 50)])
def test_a_number_in_a_path_larger_than_the_database_holds_is_not_found(
    admin_client, nurse_client, entry_for, number
):
    response = admin_client.get(f"/admin/users/{number}")
    assert response.status_code == 404
    assert "This page does not exist" in response.get_data(as_text=True)
    code = entry_for.subject.study_code
    for url in (
        f"/subjects/{code}/crf/baseline/{number}/visit",
        f"/subjects/{code}/events/baseline/{number}/date",
    ):
        response = nurse_client.get(url)
        assert response.status_code == 404, url
        assert "This page does not exist" in response.get_data(as_text=True)


def test_ending_a_session_numbered_beyond_the_database_is_not_found(admin_client):
    token = csrf(admin_client, "/account")
    response = admin_client.post(f"/account/sessions/{HUGE}/end", data={"csrf_token": token})
    assert response.status_code == 404


def test_the_largest_number_the_database_holds_is_still_looked_up(admin_client):
    response = admin_client.get(f"/admin/users/{2**31 - 1}")
    assert response.status_code == 404


@pytest.mark.parametrize("suffix", ["%00", "%01", "%7f", "a%00b"])
def test_a_control_character_in_the_path_is_a_bad_request(nurse_client, entry_for, suffix):
    code = entry_for.subject.study_code
    for url in (f"/subjects/{code}{suffix}", f"/subjects/{code}/crf/baseline/1/visit{suffix}"):
        response = nurse_client.get(url)
        assert response.status_code == 400, url
        assert "could not be understood" in response.get_data(as_text=True)


def test_a_control_character_in_the_path_is_a_bad_request_for_anyone(client):
    response = client.get("/subjects/NB-FR01-0001%00")
    assert response.status_code == 400


@pytest.mark.parametrize("header", ["http://[bad", "http://x:99999999/", "::::", "//[::1"])
def test_a_malformed_htmx_current_url_without_a_session_asks_to_sign_in(client, header):
    response = client.get("/admin/users", headers={"HX-Request": "true", "HX-Current-URL": header})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login"


@pytest.mark.parametrize("header", ["HX-Current-URL", "Referer", "X-CSRFToken", "HX-Request"])
def test_a_control_character_in_a_header_we_read_is_a_bad_request(client, header):
    response = client.get("/admin/users", headers={"HX-Request": "true", header: "/x\x00y"})
    assert response.status_code == 400


@pytest.mark.parametrize("target", ["//[bad", "http://[bad/", "/[x"])
def test_an_unreadable_next_page_leads_to_the_start_page(client, target):
    assert client.get("/login", query_string={"next": target}).status_code == 200


def test_a_malformed_referrer_on_a_post_without_a_session_asks_to_sign_in(client):
    token = csrf(client, "/login")
    response = client.post(
        "/account/password", data={"csrf_token": token}, headers={"Referer": "https://[bad/"}
    )
    assert response.status_code in (302, 400)


def test_the_account_page_as_an_htmx_fragment(admin_client):
    response = admin_client.get("/account", headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<html" not in body
    assert "Change password" in body


def test_a_refused_password_change_over_htmx_shows_the_form_again(admin_client):
    token = csrf(admin_client, "/account")
    response = admin_client.post(
        "/account/password",
        data={"csrf_token": token, "current": "wrong", "password": "x", "confirm": "y"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "Your current password is not correct." in body
    response = admin_client.post(
        "/account/password",
        data={"csrf_token": token, "current": "wrong", "password": "x", "confirm": "y"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
