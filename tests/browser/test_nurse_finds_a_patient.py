"""A research nurse finds a patient by the hospital number on the wristband, on a tablet, and
opens the patient's page: typed as it comes (spaces, small letters), never in the URL."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import accessibility_problems, first_sign_in, staff_account

pytestmark = pytest.mark.browser
PASSWORD = "a wristband read at the bedside"
HOSPITAL_NUMBER = "PAR-2026-00417"


def nurse_registers_a_child_with_a_hospital_number(page, portal) -> str:
    page.goto(f"{portal.url}/subjects/new")
    page.locator("#family_name").fill("Lambert")
    page.locator("#given_names").fill("Élodie")
    page.locator("#date_of_birth").fill("2024-11-03")
    page.locator("#sex").select_option("female")
    page.locator("#hospital_number").fill(HOSPITAL_NUMBER)
    page.locator("#guardians-0-name").fill("Sophie Lambert")
    page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(r"/subjects/NB-FR01-\d{4}$"))
    return page.url.rsplit("/", 1)[-1]


def test_nurse_finds_a_patient_by_hospital_number_and_opens_the_subject(portal, tablet, shots):
    page = tablet
    email = "lucie@hospital.test"
    first_sign_in(page, portal, email, staff_account(portal, email), PASSWORD)
    code = nurse_registers_a_child_with_a_hospital_number(page, portal)

    page.goto(f"{portal.url}/")
    page.get_by_role("link", name="Find a patient").click()
    page.wait_for_url(re.compile(r"/subjects/find$"))
    page.get_by_label("Hospital number").fill("par 2026 00417")  # as read aloud, not as stored
    page.get_by_role("button", name="Find", exact=True).click()

    found = page.locator("#patients-found tbody tr")
    expect(found).to_have_count(1)
    expect(found).to_contain_text(code)
    expect(found).to_contain_text("Registered, not yet enrolled")
    expect(found).to_contain_text("LAMBERT Élodie")
    assert "00417" not in page.url  # what was typed is posted, never put in the address
    assert page.evaluate("document.documentElement.scrollWidth") <= 768
    assert accessibility_problems(page) == []
    page.screenshot(path=shots / "50-find-a-patient-by-hospital-number.png", full_page=True)

    found.get_by_role("link", name=code).click()
    page.wait_for_url(re.compile(rf"/subjects/{code}$"))
    expect(page.get_by_role("heading", name=code)).to_be_visible()
