"""A research nurse adds a response assessment with its visit date, adds one by mistake and
removes it, on a tablet: nothing is created by a tap alone, and the number is never reused."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import accessibility_problems, first_sign_in, staff_account
from tests.browser.test_nurse_enters_diagnosis import nurse_registers_subject

pytestmark = pytest.mark.browser
PASSWORD = "one visit at a time, please"


def nurse_adds_a_visit(page, visit_date: str) -> None:
    row = page.locator("#casebook tr", has=page.get_by_text("Response assessment #"))
    row.last.get_by_role("link", name="Add another").click()
    page.wait_for_url(re.compile(r"/events/response/occurrences/new$"))
    page.get_by_label("Visit date").fill(visit_date)
    page.locator("main button[type=submit]").click()


def test_nurse_adds_a_visit_and_removes_one_added_by_mistake(portal, tablet, shots):
    page = tablet
    first_sign_in(page, portal, "rosa@hospital.test", staff_account(portal, "rosa@hospital.test"),
                  PASSWORD)  # fmt: skip
    code = nurse_registers_subject(page, portal)

    nurse_adds_a_visit(page, "")  # no date: refused, nothing added
    expect(page.locator("#visit_date-error")).to_have_text("Enter the visit date.")
    expect(page.get_by_role("heading", name="Add Response assessment #2?")).to_be_visible()
    assert accessibility_problems(page) == []
    page.screenshot(path=shots / "40-add-visit-needs-a-date.png", full_page=True)
    page.get_by_label("Visit date").fill("2026-04-02")
    page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/subjects/{code}$"))
    expect(page.locator("#visit-response-2 time")).to_have_text("02/04/2026")  # the reader's format

    nurse_adds_a_visit(page, "2026-04-02")  # a second one, by mistake
    page.wait_for_url(re.compile(rf"/subjects/{code}$"))
    mistake = page.locator("#visit-response-3")
    mistake.get_by_text("Remove", exact=True).click()
    mistake.get_by_label("Reason").fill("Added twice by mistake")
    assert accessibility_problems(page) == []
    page.screenshot(path=shots / "41-remove-visit-added-by-mistake.png", full_page=True)
    mistake.get_by_role("button", name="Remove Response assessment #3").click()
    page.wait_for_url(re.compile(rf"/subjects/{code}$"))
    expect(page.locator("#visit-response-3")).to_have_count(0)
    expect(page.locator("#visit-response-2")).to_be_visible()

    nurse_adds_a_visit(page, "2026-05-07")
    page.wait_for_url(re.compile(rf"/subjects/{code}$"))
    expect(page.locator("#visit-response-4 time")).to_have_text("07/05/2026")  # 3 stays taken
    expect(page.locator("#visit-response-3")).to_have_count(0)
