"""In Spain (one parent signs), on a tablet held in landscape: a 2-year-old's consent completes
with one parent; a 9-year-old's refusal stops the consent after the parent signed, and staff
cannot override it. axe checks the kiosk pages in landscape."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import accessibility_problems, first_sign_in, staff_account
from tests.browser.test_parent_signs_in_clinic import (
    _correct,
    _next,
    _touch_strokes,
    signer_reads_answers_and_signs,
)

pytestmark = pytest.mark.browser
PASSWORD = "one parent is enough in valencia"
LANDSCAPE = {"width": 1024, "height": 768}


def nurse_registers(page: Page, portal, family: str, given: str, age: int) -> str:
    page.goto(f"{portal.url}/subjects/new")
    page.locator("#family_name").fill(family)
    page.locator("#given_names").fill(given)
    page.locator("#date_of_birth").fill(f"{time.gmtime().tm_year - age}-01-02")
    page.locator("#sex").select_option("male")
    page.locator("main button[type=submit]").click()
    if page.locator("#possible-duplicates").count():
        page.locator("#confirm_duplicate").check()
        page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(r"/subjects/NB-ES01-\d{4}$"))
    return page.url.rsplit("/", 1)[-1]


def hand_over(page: Page, portal, code: str) -> str:
    page.goto(f"{portal.url}/consent/subjects/{code}")
    page.locator("#language").select_option("es")
    page.locator("#identity_document").select_option("residence_permit")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/consent/sessions/\d+$"))
    session_page = page.url
    page.locator("form[action$='/handover'] button").click()  # the staff read Spanish
    page.wait_for_url(re.compile(r"/kiosk/[^/]+/language$"))
    return session_page


def fresh_code(secret: str, used: list[int]) -> str:
    """A code of a time step not used yet (each step is accepted once): waits for the clock
    when the next step is still out of reach."""
    while int(time.time() // 30) + 1 <= max(used, default=0):
        time.sleep(1)
    step = int(time.time() // 30) + 1
    used.append(step)
    return pyotp.TOTP(secret).at(step * 30)


def staff_takes_the_tablet_back(page: Page, code: str, session_page: str) -> None:
    page.locator("main a.kiosk-button").click()
    page.locator("#password").fill(PASSWORD)
    page.locator("#code").fill(code)
    page.locator("main button[type=submit]").click()
    page.wait_for_url(session_page)


def test_one_parent_in_spain_and_a_childs_refusal_blocks(portal, browser: Browser):
    portal.flask_steps(
        ("sites", "add", "siopen-nb", "ES-01", "Hospital de Valencia", "ES"),
        ("econsent", "keys", "init", "--site", "ES-01"),
    )
    context = browser.new_context(viewport=LANDSCAPE, locale="es-ES", has_touch=True)
    page, seen = context.new_page(), {}
    email = "lucia@hospital.test"
    link = staff_account(portal, email, role="nurse", site="ES-01")
    secret = first_sign_in(page, portal, email, link, PASSWORD)
    parents = _correct("parent_consent")
    used: list[int] = []

    toddler = nurse_registers(page, portal, "García", "Pablo", 2)
    session_page = hand_over(page, portal, toddler)
    signer_reads_answers_and_signs(page, seen, "parent_1", "Ana García",
                                   parents, language="es")  # fmt: skip
    expect(page.locator("#hand-back")).to_be_visible()  # one parent: done
    seen["done (landscape)"] = accessibility_problems(page)
    staff_takes_the_tablet_back(page, fresh_code(secret, used), session_page)
    expect(page.locator("#consent-status")).to_have_attribute("data-status", "signed")

    child = nurse_registers(page, portal, "López", "Mateo", 9)
    session_page = hand_over(page, portal, child)
    signer_reads_answers_and_signs(page, seen, "parent_1", "Eva López",
                                   parents, language="es")  # fmt: skip
    expect(page.locator(".kiosk-who strong")).to_have_attribute("data-role", "child_assent")
    page.locator("button[name=language][value=es]").click()
    page.wait_for_url(re.compile(r"/read/1$"))
    while "/read/" in page.url:
        _next(page)
    for question, answer in _correct("child_assent", "younger").items():
        page.locator(f"input[name='q-{question}'][value='{answer}']").check()
    page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(r"/sign$"))
    box = page.locator(".signature-box").bounding_box()
    assert box is not None
    assert box["height"] == 180  # the landscape layout
    seen["child decides (landscape)"] = accessibility_problems(page)
    _touch_strokes(page)  # a scribble first: the child still says no
    page.locator("form.kiosk-refuse button").click()
    expect(page.locator("#hand-back")).to_be_visible()
    staff_takes_the_tablet_back(page, fresh_code(secret, used), session_page)
    expect(page.locator("#consent-status")).to_have_attribute("data-status", "blocked")
    assert (
        page.locator("li[data-role=child_assent]").inner_text().endswith("ha dicho que no")
    )  # the staff read Spanish
    assert page.locator("form[action$='/handover']").count() == 0
    assert page.locator("a[href$='/countersign']").count() == 0
    assert {name: found for name, found in seen.items() if found} == {}
    context.close()
