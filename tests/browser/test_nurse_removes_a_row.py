"""A nurse removes a sample entered twice from a complete liquid-biopsy form, on a tablet.

The row that stays keeps its identity: its history holds its own values only, and one reason
covers every answer of the removed row.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import accessibility_problems, first_sign_in, staff_account
from tests.browser.test_nurse_enters_diagnosis import nurse_registers_subject

pytestmark = pytest.mark.browser
PASSWORD = "samples go to the lab at noon"


def _settled(page) -> None:
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


def nurse_enters_sample(page, row, timepoint: str, when: str) -> None:
    """One sample, answered as a nurse does: each answer re-evaluates the form."""
    for selector, value in (
        (f'input[name$="-timepoint"][value="{timepoint}"]', None),
        ('input[name$="-collection_datetime"]', when),
        ('input[name$="-specimen"][value="csf"]', None),
        ('input[name$="-cfdna_done"][value="no"]', None),
    ):
        with page.expect_response(re.compile(r"/evaluate$")):
            if value is None:
                row.locator(selector).check()
            else:
                row.locator(selector).fill(value)
                row.locator(selector).press("Tab")
        _settled(page)


def test_nurse_removes_a_row_and_the_row_left_keeps_its_own_history(portal, tablet, shots):
    page = tablet
    email = "odile@hospital.test"
    first_sign_in(page, portal, email, staff_account(portal, email), PASSWORD)
    code = nurse_registers_subject(
        page, portal, ("Lefèvre", "Anatole", "2024-06-02", "male"), "Inès Lefèvre"
    )
    form_url = f"{portal.url}/subjects/{code}/crf/liquid_biopsy/1/liquid_biopsy"
    page.goto(form_url)
    rows = page.locator(".repeat-row")
    samples = [
        ("diagnosis", "2026-03-10T09:30"),
        ("during_therapy", "2026-04-02T10:15"),
        ("end_of_induction", "2026-06-20T08:45"),
    ]
    for index, (timepoint, when) in enumerate(samples):
        if index:
            page.get_by_role("button", name="Add a row").click()
            expect(rows).to_have_count(index + 1)
        nurse_enters_sample(page, rows.nth(index), timepoint, when)
    page.get_by_role("button", name="Mark complete").click()
    page.wait_for_url(re.compile(rf"/subjects/{code}$"))

    page.goto(form_url)
    third_id = rows.nth(2).get_attribute("id")
    page.get_by_role("button", name="Remove row 2").click()
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_have_attribute("id", third_id)  # the third row, still itself
    panel = page.locator("#crf-reasons")
    expect(panel).to_contain_text("Timepoint (removed row)")
    expect(panel).to_contain_text("During therapy")
    page.locator('input[name="reason:*"]').fill("Sample entered twice")
    page.screenshot(path=shots / "20-row-removed-one-reason.png", full_page=True)
    assert accessibility_problems(page) == []  # the removed answers and their reason
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(re.compile(rf"/subjects/{code}$"))

    page.goto(form_url)
    expect(rows).to_have_count(2)
    kept = rows.nth(1)
    expect(kept).to_have_attribute("id", third_id)
    kept.locator('[id$="-timepoint"] .history-button').click()
    history = kept.locator(".history table")
    expect(history).to_be_visible()
    text = history.inner_text()
    assert "End of induction" in text
    assert "During therapy" not in text  # never the removed row's values
    assert "Diagnosis" not in text
    assert len(history.locator("tbody tr").all()) == 1  # entered once, never renumbered
    page.screenshot(path=shots / "21-history-of-the-row-that-stayed.png", full_page=True)
    assert accessibility_problems(page) == []
