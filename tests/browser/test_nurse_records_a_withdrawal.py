"""A nurse records that parents withdrew from all further data collection, on a tablet: the
form keeps what was typed when a field is missing, the subject page shows the withdrawal at
once, and the child's forms can no longer take data; the pages pass axe."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import accessibility_problems, first_sign_in, staff_account
from tests.browser.test_nurse_enters_diagnosis import nurse_registers_subject

pytestmark = pytest.mark.browser
PASSWORD = "parents may withdraw at any time"


def test_a_withdrawal_from_all_further_collection_closes_the_forms(portal, tablet, shots):
    page = tablet
    email = "withdrawal.nurse@hospital.test"
    first_sign_in(page, portal, email, staff_account(portal, email), PASSWORD)
    code = nurse_registers_subject(
        page, portal, child=("Lambert", "Noé", "2022-09-14", "male"), parent="Julie Lambert"
    )
    seen: dict[str, list[str]] = {}
    page.get_by_role("link", name="Record a withdrawal").click()
    page.wait_for_url(re.compile(rf"/subjects/{code}/withdrawal$"))
    seen["withdrawal form"] = accessibility_problems(page)

    page.get_by_label("What is withdrawn").select_option("all_collection")
    page.get_by_label("How the site learnt of it").select_option("letter")
    page.get_by_label("Note (optional)").fill("Letter from both parents")
    page.get_by_role("button", name="Record the withdrawal").click()
    expect(page.locator("#withdrawn_by-error")).to_have_text("Choose who withdrew.")
    expect(page.get_by_label("Note (optional)")).to_have_value("Letter from both parents")
    seen["withdrawal form with an error"] = accessibility_problems(page)

    page.get_by_label("Who withdrew").select_option("parent")
    page.get_by_role("button", name="Record the withdrawal").click()
    page.wait_for_url(re.compile(rf"/subjects/{code}#consent$"))
    expect(page.locator(".withdrawals")).to_contain_text("All further data collection")
    expect(page.locator(".withdrawals")).to_contain_text("A parent, by letter.")
    seen["subject page after a withdrawal"] = accessibility_problems(page)
    page.screenshot(path=shots / "withdrawal-subject-page.png", full_page=True)

    page.goto(f"{portal.url}/subjects/{code}/crf/diagnosis/1/diagnosis")
    expect(page.get_by_text("Consent to further data collection was withdrawn")).to_be_visible()
    expect(page.locator("main input[type=text]")).to_have_count(0)
    assert {name: found for name, found in seen.items() if found} == {}
