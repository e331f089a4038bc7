"""In clinic, on a 768×1024 tablet: a nurse prepares the consent of a 9-year-old in France and
hands the tablet over; both parents read, answer and sign with a finger, then the child reads
the child's text and agrees; the nurse takes the tablet back with password and TOTP; the
investigator countersigns with TOTP (a replayed code is refused) and the copy is sealed. axe
checks every kiosk page on the way."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from econsent.documents import load_consent
from edc.settings import ROOT
from tests.browser.conftest import TABLET, accessibility_problems, first_sign_in, staff_account
from tests.browser.test_nurse_enters_diagnosis import nurse_registers_subject

pytestmark = pytest.mark.browser
PASSWORD = "the tablet goes to the parents now"
NINE_YEARS_OLD = ("Lefèvre", "Inès", f"{time.gmtime().tm_year - 9}-01-02", "female")


def _correct(document: str, band: str | None = None) -> dict[str, str]:
    library = load_consent(ROOT / "studies" / "siopen-nb")
    reading = library.documents[document].version(1).reading(band)
    return {q.id: q.correct for q in reading.questions}


def _touch_strokes(page: Page) -> None:
    """Two strokes drawn with a finger: real touch events (Chromium's input layer), which the
    browser turns into the pointer events signature_pad listens to."""
    canvas = page.locator(".js-signature-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box is not None
    cdp = page.context.new_cdp_session(page)
    for row in (0.35, 0.65):
        points = [
            (
                box["x"] + box["width"] * (0.1 + 0.08 * i),
                box["y"] + box["height"] * row + 12 * (-1) ** i,
            )
            for i in range(10)
        ]
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart",
                 "touchPoints": [{"x": points[0][0], "y": points[0][1]}]})  # fmt: skip
        for x, y in points[1:]:
            cdp.send("Input.dispatchTouchEvent",
                     {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})  # fmt: skip
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def _next(page: Page) -> None:
    page.locator(".kiosk-nav a.kiosk-button:not(.secondary)").click()


def signer_reads_answers_and_signs(
    page: Page,
    seen: dict[str, list[str]],
    who: str,
    name: str,
    answers: dict[str, str],
    language: str = "fr",
) -> None:
    """One signer on the kiosk: language, every section, the questions, choices, signature."""
    expect(page.locator(".kiosk-who strong")).to_have_attribute("data-role", who)
    seen[f"{who}: language"] = accessibility_problems(page)
    page.locator(f"button[name=language][value={language}]").click()
    page.wait_for_url(re.compile(r"/read/1$"))
    expect(page.locator("html")).to_have_attribute("lang", language)
    seen[f"{who}: reading"] = accessibility_problems(page)
    page.locator("a[href*='/pause']").click()  # a question for the staff, then back
    page.wait_for_url(re.compile(r"/pause"))
    seen[f"{who}: paused"] = accessibility_problems(page)
    page.locator("a.kiosk-button").click()
    page.wait_for_url(re.compile(r"/read/1$"))
    while "/read/" in page.url:
        _next(page)
    seen[f"{who}: questions"] = accessibility_problems(page)
    for question, answer in answers.items():
        page.locator(f"input[name='q-{question}'][value='{answer}']").check()
    page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(r"/sign$"))
    for choice in page.locator("input[type=radio][value=yes]").all():
        choice.check()
    seen[f"{who}: signature"] = accessibility_problems(page)
    _touch_strokes(page)
    page.locator("#printed_name").fill(name)
    page.locator("form.js-signature-form button[type=submit]").click()


def _touch_tablet(browser: Browser) -> Page:
    context = browser.new_context(
        viewport=TABLET, locale="en-GB", device_scale_factor=1, has_touch=True
    )
    return context.new_page()


def test_two_parents_and_the_child_sign_in_france_and_the_investigator_countersigns(
    portal, browser, shots
):
    portal.flask("econsent", "keys", "init", "--site", "FR-01")
    page, seen = _touch_tablet(browser), {}
    email = "agathe@hospital.test"
    secret = first_sign_in(page, portal, email, staff_account(portal, email), PASSWORD)
    code = nurse_registers_subject(page, portal, child=NINE_YEARS_OLD, parent="Julie Lefèvre")
    page.goto(f"{portal.url}/subjects/{code}")
    page.get_by_role("link", name="Consent on the tablet").click()
    seen["staff: prepare"] = accessibility_problems(page)
    page.locator("#language").select_option("fr")
    page.locator("#identity_document").select_option("national_id")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/consent/sessions/\d+$"))
    session_page = page.url
    seen["staff: session"] = accessibility_problems(page)
    page.get_by_role("button", name="Hand the tablet to the signer").click()
    page.wait_for_url(re.compile(r"/kiosk/[^/]+/language$"))
    kiosk = page.url.rsplit("/", 1)[0]
    page.goto(f"{portal.url}/subjects/")  # nothing but the consent while handed over
    assert page.url.startswith(kiosk)
    assert page.locator("header.topbar").count() == 0

    parents = _correct("parent_consent")
    signer_reads_answers_and_signs(page, seen, "parent_1", "Julie Lefèvre", parents)
    # France needs both parents: the tablet now asks for the second one.
    signer_reads_answers_and_signs(page, seen, "parent_2", "Marc Lefèvre", parents)
    expect(page.locator(".kiosk-who strong")).to_have_attribute("data-role", "child_assent")
    page.locator("button[name=language][value=fr]").click()
    page.wait_for_url(re.compile(r"/read/1$"))
    assert page.locator("article[data-text-band=younger][data-audience=child]").count() == 1
    page.screenshot(path=shots / "kiosk-child-reads.png")
    page.go_back()
    signer_reads_answers_and_signs_child(page, seen)

    expect(page.locator("#hand-back")).to_be_visible()
    seen["kiosk: done"] = accessibility_problems(page)
    page.locator("main a.kiosk-button").click()
    seen["kiosk: staff exit"] = accessibility_problems(page)
    page.locator("#password").fill(PASSWORD)
    page.locator("#code").fill("000000")
    page.locator("main button[type=submit]").click()
    assert "/kiosk/" in page.url  # a wrong code keeps the kiosk
    page.locator("#password").fill(PASSWORD)
    page.locator("#code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.locator("main button[type=submit]").click()
    page.wait_for_url(session_page)
    expect(page.locator("#consent-status")).to_have_attribute("data-status", "signed")

    investigator_countersigns(browser, portal, session_page, seen, shots)
    assert {name: found for name, found in seen.items() if found} == {}


def signer_reads_answers_and_signs_child(page: Page, seen: dict[str, list[str]]) -> None:
    """The child's text (younger band) in child's words; the child agrees."""
    page.locator("button[name=language][value=fr]").click()
    page.wait_for_url(re.compile(r"/read/1$"))
    while "/read/" in page.url:
        _next(page)
    seen["child: questions"] = accessibility_problems(page)
    for question, answer in _correct("child_assent", "younger").items():
        page.locator(f"input[name='q-{question}'][value='{answer}']").check()
    page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(r"/sign$"))
    expect(page.locator("#child-decision")).to_be_visible()
    assert page.locator("form.kiosk-refuse button").is_visible()  # the child may say no
    seen["child: decision"] = accessibility_problems(page)
    _touch_strokes(page)
    page.locator("#printed_name").fill("Inès")
    page.locator("form.js-signature-form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/kiosk/[^/]+$"))


def investigator_countersigns(browser, portal, session_page, seen, shots) -> None:
    page = _touch_tablet(browser)
    email = "dr.roux@hospital.test"
    link = staff_account(portal, email, role="investigator")
    used_at = time.time()
    secret = first_sign_in(page, portal, email, link, PASSWORD)
    replayed = pyotp.TOTP(secret).at(used_at)  # the step enrolment used (or an older one)
    page.goto(session_page + "/countersign")
    seen["staff: countersign"] = accessibility_problems(page)
    for code in (replayed, pyotp.TOTP(secret).at(time.time() + 30)):
        _touch_strokes(page)
        page.locator("#printed_name").fill("Dr Hélène Roux")
        page.locator("#password").fill(PASSWORD)
        page.locator("#code").fill(code)
        page.locator("main form button[type=submit]").click()
        if code == replayed:
            expect(page.locator("main .error")).to_contain_text("already been used")
    page.wait_for_url(session_page)
    expect(page.locator("#consent-status")).to_have_attribute("data-status", "active")
    page.screenshot(path=shots / "consent-sealed.png", full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the signed copy for the signer").click()
    assert download.value.suggested_filename.endswith(".pdf")
