"""A research nurse's first day: sign in, choose a password, set up TOTP, switch to French."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from babel.messages.pofile import read_po

from edc.settings import ROOT
from tests.browser.conftest import staff_account

pytestmark = pytest.mark.browser


def _french(msgid: str) -> str:
    with open(ROOT / "translations" / "fr" / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return read_po(fh, locale="fr").get(msgid).string


def _fresh_code(secret: str) -> str:
    """A code from a time step not used yet (the guard accepts each step once)."""
    totp = pyotp.TOTP(secret)
    return totp.at(time.time() + 30)


def nurse_is_given_an_account(portal) -> tuple[str, str]:
    return "claire@hospital.test", staff_account(portal, "claire@hospital.test")


def test_nurse_enrols_totp_at_first_sign_in_and_switches_to_french(portal, tablet, shots):
    email, link = nurse_is_given_an_account(portal)
    page = tablet
    page.goto(link)  # the invitation: only the nurse has it
    page.screenshot(path=shots / "01-invitation.png")
    password = "a quiet harbour at dawn in spring"
    page.get_by_label("New password", exact=True).fill(password)
    page.get_by_label("New password again").fill(password)
    page.get_by_role("button", name="Save password").click()

    page.wait_for_url(re.compile(r"/login/enrol$"))
    assert page.locator("img.qr").is_visible()
    page.screenshot(path=shots / "02-enrol-totp.png")
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.get_by_label("6-digit code shown by the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirm").click()

    codes = page.locator("#recovery-codes li")
    assert codes.count() == 10
    page.screenshot(path=shots / "03-recovery-codes.png")
    page.get_by_role("link", name=re.compile("continue")).click()
    assert page.get_by_text("FR-01").first.is_visible()

    page.select_option("#lang", "fr")
    page.wait_for_function("document.documentElement.lang === 'fr'")
    assert page.get_by_role("button", name=_french("Sign out")).is_visible()
    assert page.get_by_text(_french("Your roles")).is_visible()
    page.screenshot(path=shots / "04-home-in-french.png", full_page=True)

    # Signing in again: password, then a TOTP code; the language choice stays.
    page.get_by_role("button", name=_french("Sign out")).click()
    page.wait_for_url(re.compile(r"/login"))
    page.locator("#email").fill(email)
    page.locator("#password").fill(password)
    page.locator("button[type=submit]", has_text=_french("Continue")).click()
    page.wait_for_url(re.compile(r"/login/code$"))
    page.locator("#code").fill(_fresh_code(secret))
    page.screenshot(path=shots / "05-totp-code-in-french.png")
    page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(r"/$"))
    assert page.get_by_text(_french("Your roles")).is_visible()


def test_login_page_fits_a_tablet_without_horizontal_scrolling(portal, tablet):
    tablet.goto(f"{portal.url}/login")
    width = tablet.evaluate("document.documentElement.scrollWidth")
    assert width <= 768
    button = tablet.get_by_role("button", name="Continue").bounding_box()
    assert button is not None
    assert button["height"] >= 44
