"""What a nurse typed survives the end of the session: sign in again and it is back in the form."""

from __future__ import annotations

import datetime as dt
import re
import time

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, update

from edc.models.base import utcnow
from edc.models.users import UserSession
from tests.browser.conftest import first_sign_in, staff_account
from tests.browser.test_nurse_enters_diagnosis import _answer, nurse_registers_subject

pytestmark = pytest.mark.browser
PASSWORD = "the night shift ends at seven"


def idle_for_31_minutes(portal) -> None:
    engine = create_engine(portal.env["DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(update(UserSession).values(last_seen_at=utcnow() - dt.timedelta(minutes=31)))
    engine.dispose()


def test_input_typed_when_the_session_ended_comes_back_after_signing_in(portal, tablet, shots):
    page, email = tablet, "oscar@hospital.test"
    secret = first_sign_in(page, portal, email, staff_account(portal, email), PASSWORD)
    code = nurse_registers_subject(page, portal)
    page.get_by_role("link", name="Diagnosis").first.click()
    form_url = re.compile(rf"/subjects/{code}/crf/diagnosis/1/diagnosis$")
    page.wait_for_url(form_url)
    _answer(page, "#diagnosis_date", "2026-02-02")
    _answer(page, 'input[name="inrg_stage"][value="L2"]')

    idle_for_31_minutes(portal)  # the nurse was called away; the session ended meanwhile
    page.locator("#dna_index").fill("1,3")
    page.locator("#dna_index").press("Tab")  # the live check finds the session gone
    page.wait_for_url(re.compile(r"/login\?next="))

    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(r"/login/code$"))
    page.locator("#code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.locator("main button[type=submit]").click()
    page.wait_for_url(form_url)  # back on the form, not the start page

    expect(page.locator("#draft-restored")).to_be_visible()
    expect(page.locator("#diagnosis_date")).to_have_value("2026-02-02")
    expect(page.locator('input[name="inrg_stage"][value="L2"]')).to_be_checked()
    expect(page.locator("#dna_index")).to_have_value("1,3")
    page.screenshot(path=shots / "16-typed-input-restored.png", full_page=True)

    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(re.compile(rf"/subjects/{code}$"))
    page.get_by_role("link", name="Diagnosis").first.click()
    page.wait_for_url(form_url)
    expect(page.locator("#dna_index")).to_have_value("1.3")  # stored, as the server writes it
    expect(page.locator("#draft-restored")).to_be_hidden()  # saved: nothing left to put back
