"""The consent pages through HTTP: staff prepare and hand over, the kiosk keeps the tablet until
staff re-authenticate, malformed input answers 422, and every consent route answers 404 to
anyone outside the subject's site (central roles included)."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from econsent.services import countersign, sessions, signing
from edc.access import Role
from edc.extensions import db
from tests.econsent.kiosk.conftest import STROKES, all_yes, png_data_url, right_answers
from tests.factories import another_browser, csrf, login, make_user, next_code

CONSENT_ENDPOINTS = ("consent.", "kiosk.")


def _prepare(client, c) -> str:
    page = f"/consent/subjects/{c.subject.study_code}"
    data = {"csrf_token": csrf(client, page), "language": "fr",
            "identity_document": "passport", "parent_exception": ""}  # fmt: skip
    response = client.post(page, data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def _hand_over(client, session_page: str) -> str:
    token = csrf(client, session_page)
    response = client.post(session_page + "/handover", data={"csrf_token": token})
    assert response.status_code == 302
    return response.headers["Location"]


def _fresh_session(c, location: str):
    db.session.expire_all()  # as the requests left it
    return sessions.kiosk_session(c.ctx(), _kiosk_token(location))


def _kiosk_token(location: str) -> str:
    match = re.search(r"/kiosk/([^/]+)$", location)
    assert match, location
    return match.group(1)


def test_a_nurse_prepares_hands_over_and_the_kiosk_keeps_the_tablet(client, clinic):
    c = clinic("FR", age=2)
    login(client, c.nurse)
    session_page = _prepare(client, c)
    assert 'data-status="prepared"' in client.get(session_page).get_data(as_text=True)
    kiosk = _hand_over(client, session_page)
    # Nothing but the consent: any other page (sign-out included) leads back to it.
    for path in ("/", "/subjects/", f"/subjects/{c.subject.study_code}", session_page):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].endswith(kiosk)
    signed_out = client.post("/logout", data={"csrf_token": csrf(client, kiosk + "/exit")})
    assert signed_out.headers["Location"].endswith(kiosk)  # not signed out: back to the kiosk
    language = client.get(kiosk)
    assert language.headers["Location"].endswith("/language")
    page = client.get(language.headers["Location"]).get_data(as_text=True)
    assert 'class="topbar"' not in page  # no menus, no sign-out in the kiosk
    assert "Français" in page
    token = csrf(client, kiosk + "/language")
    chosen = client.post(kiosk + "/language", data={"csrf_token": token, "language": "fr"})
    assert chosen.headers["Location"].endswith("/read/1")
    first = client.get(kiosk + "/read/1").get_data(as_text=True)
    assert 'lang="fr"' in first
    assert "<progress" in first


def test_leaving_the_kiosk_needs_the_staff_password_and_a_new_code(client, clinic):
    c = clinic("FR", age=2)
    login(client, c.nurse)
    session_page = _prepare(client, c)
    kiosk = _hand_over(client, session_page)
    token = csrf(client, kiosk + "/exit")
    refused = client.post(kiosk + "/exit", data={"csrf_token": token, "password": "guess",
                                                 "code": next_code(c.nurse)})  # fmt: skip
    assert refused.status_code == 422
    assert client.get("/").status_code == 302  # still a kiosk
    token = csrf(client, kiosk + "/exit")
    left = client.post(kiosk + "/exit", data={"csrf_token": token, "password": c.nurse.password,
                                              "code": next_code(c.nurse)})  # fmt: skip
    assert left.status_code == 302
    assert left.headers["Location"].endswith(session_page)
    assert client.get("/").status_code == 200
    assert client.get(kiosk).status_code == 404  # the token is spent


def test_a_wrong_answer_hands_the_tablet_back_to_staff(client, clinic):
    c = clinic("ES", age=2)
    login(client, c.nurse)
    kiosk = _hand_over(client, _prepare(client, c))
    client.post(kiosk + "/language", data={"csrf_token": csrf(client, kiosk + "/language"),
                                           "language": "es"})  # fmt: skip
    cs = sessions.kiosk_session(c.ctx(), _kiosk_token(kiosk))
    answers = {f"q-{q}": "wrong" for q in right_answers(cs, "parent_1")}
    token = csrf(client, kiosk + "/questions")
    response = client.post(kiosk + "/questions", data={"csrf_token": token, **answers})
    assert response.status_code == 302
    done = client.get(kiosk).get_data(as_text=True)
    assert "Por favor, devuelva la tableta" in done or "tablet back" in done
    assert _fresh_session(c, kiosk).status == "blocked"


def test_malformed_signatures_answer_422_not_500(client, clinic):
    c = clinic("ES", age=2)
    login(client, c.nurse)
    kiosk = _hand_over(client, _prepare(client, c))
    client.post(kiosk + "/language", data={"csrf_token": csrf(client, kiosk + "/language"),
                                           "language": "es"})  # fmt: skip
    cs = sessions.kiosk_session(c.ctx(), _kiosk_token(kiosk))
    answers = {f"q-{q}": a for q, a in right_answers(cs, "parent_1").items()}
    client.post(kiosk + "/questions", data={"csrf_token": csrf(client, kiosk + "/questions"),
                                            **answers})  # fmt: skip
    options = {f"option-{k}": v for k, v in all_yes(cs, "parent_1").items()}
    for strokes, image in (("{", png_data_url()), (STROKES, "data:x"), ("[" * 5000, "")):
        token = csrf(client, kiosk + "/sign")
        response = client.post(kiosk + "/sign", data={
            "csrf_token": token, "printed_name": "Ana", "strokes": strokes, "image": image,
            **options})  # fmt: skip
        assert response.status_code == 422
    token = csrf(client, kiosk + "/sign")
    response = client.post(kiosk + "/sign", data={
        "csrf_token": token, "printed_name": "Ana García", "strokes": STROKES,
        "image": png_data_url(), **options})  # fmt: skip
    assert response.status_code == 302
    assert _fresh_session(c, kiosk).status == "signed"


def _consent_rules(app: Flask):
    return [r for r in app.url_map.iter_rules() if r.endpoint.startswith(CONSENT_ENDPOINTS)]


def test_route_matrix_every_consent_route_answers_404_outside_the_site(app, client, clinic):
    """With a real session, kiosk token and sealed copy: another site's nurse, a monitor and a
    data manager get 404 on every consent route and method; its own nurse gets the pages."""
    c = clinic("ES", age=2)
    with app.test_request_context():  # ends by removing the session: commit inside
        cs = sessions.prepare(c.ctx(), c.subject, sessions.Preparation("es", "passport"))
        role = "parent_1"
        signing.sign(c.ctx(), cs, role, signing.Signing(
            printed_name="Ana", strokes_json=STROKES, png_data_url=png_data_url(),
            options=all_yes(cs, role)), {})  # fmt: skip
        countersign.countersign(
            c.ctx(c.investigator), cs, password=c.investigator.password,
            code=next_code(c.investigator), signature=signing.Signing(
                printed_name="Dr", strokes_json=STROKES, png_data_url=png_data_url()),
        )  # fmt: skip
        token = sessions.hand_over(c.ctx(), _fresh(c))
        db.session.commit()  # into the test's transaction, like the requests that did it
    values = {"code": c.subject.study_code, "session_id": cs.id, "token": token, "number": 1}
    rules = _consent_rules(app)
    assert {r.endpoint for r in rules} >= {"consent.signer_copy", "kiosk.sign", "kiosk.leave"}
    outsiders = [
        make_user(roles=[(Role.NURSE, clinic("IT", age=2).site)]),
        make_user(roles=[(Role.MONITOR, c.site)]),
        make_user(roles=[(Role.DATA_MANAGER, c.site.study)]),
    ]
    for user in outsiders:
        browser = another_browser(client)
        login(browser, user)
        form = csrf(browser, "/account")
        for rule in rules:
            url = rule.build({a: values[a] for a in rule.arguments})[1]
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                response = browser.open(url, method=method, data={"csrf_token": form})
                assert response.status_code == 404, (user.email, rule.endpoint, method)
    login(client, c.nurse)
    copy = client.get(f"/consent/sessions/{cs.id}/copy")
    assert copy.status_code == 200, copy.get_data(as_text=True)[-600:]
    assert copy.headers["Content-Type"] == "application/pdf"


def _fresh(c):
    """Another open session of the same subject, to hold a live kiosk token."""
    return sessions.prepare(c.ctx(), c.subject, sessions.Preparation("es", "passport"))


@pytest.mark.parametrize("path", ["/kiosk/abc", "/kiosk/" + "a" * 300 + "/read/1"])
def test_a_kiosk_token_not_handed_to_this_browser_is_not_found(client, clinic, path):
    c = clinic("FR", age=2)
    login(client, c.nurse)
    assert client.get(path).status_code == 404


def test_a_kiosk_taken_back_elsewhere_frees_this_browser(app, client, clinic):
    c = clinic("FR", age=2)
    login(client, c.nurse)
    kiosk = _hand_over(client, _prepare(client, c))
    assert client.get("/").status_code == 302
    with app.test_request_context():  # staff re-authenticated on another device
        cs = _fresh_session(c, kiosk)
        sessions.leave_kiosk(c.ctx(), cs, c.nurse.password, next_code(c.nurse))
        db.session.commit()
    assert client.get("/").status_code == 200
    assert client.get(kiosk).status_code == 404


def test_staff_pages_name_documents_and_options_not_their_ids(client, clinic):
    c = clinic("FR", age=9)
    login(client, c.nurse)
    session_page = _prepare(client, c)
    cs = sessions.find_session(c.ctx(), int(session_page.rsplit("/", 1)[-1]))
    while (role := sessions.next_signer(cs)) is not None:
        signing.sign(c.ctx(), cs, role, _signed(cs, role), right_answers(cs, role))
    db.session.commit()
    page = client.get(session_page).get_data(as_text=True)
    listing = client.get(f"/consent/subjects/{c.subject.study_code}").get_data(as_text=True)
    for shown in (page, listing):
        assert "information and consent for parents" in shown  # the document's title
        assert "parent_consent" not in shown
    assert "Storage of samples in the biobank: <strong>Yes</strong>" in page
    text = re.sub(r"<[^>]+>", " ", page)  # what people read (attributes aside)
    for internal in ("biobank_storage", "child_assent", "younger"):
        assert internal not in text


def _signed(cs, role):
    from tests.econsent.kiosk.conftest import signed

    return signed("Marie Durand", **all_yes(cs, role))
