"""A research nurse registers a child and enters the diagnosis on a tablet, as in clinic."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import accessibility_problems, first_sign_in, staff_account

pytestmark = pytest.mark.browser
PASSWORD = "the ward round starts at eight"


def nurse_registers_subject(
    page, portal, child=("Moreau", "Zéphyrine", "2025-01-20", "female"), parent="Claire Moreau"
) -> str:
    family, given, born, sex = child
    page.goto(f"{portal.url}/subjects/new")
    page.locator("#family_name").fill(family)
    page.locator("#given_names").fill(given)
    page.locator("#date_of_birth").fill(born)
    page.locator("#sex").select_option(sex)
    page.locator("#guardians-0-name").fill(parent)
    posted = re.compile(r"/subjects/new$")
    with page.expect_response(
        lambda r: bool(posted.search(r.url)) and r.request.method == "POST"
    ) as sent:
        page.locator("main button[type=submit]").click()
    if sent.value.status == 422:  # registered by an earlier test: the nurse checks, confirms
        expect(page.locator("#possible-duplicates")).to_be_visible()
        page.locator("#confirm_duplicate").check()
        page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(r"/subjects/NB-FR01-\d{4}$"))
    return page.url.rsplit("/", 1)[-1]


def _answer(page, selector: str, value: str | None = None) -> None:
    """Answer a field as a nurse does (tick, or type and Tab), then wait for the re-evaluation."""
    with page.expect_response(re.compile(r"/evaluate$")):
        if value is None:
            page.check(selector)
        else:
            page.locator(selector).fill(value)
            page.locator(selector).press("Tab")
    busy = page.locator(".htmx-request, .htmx-swapping, .htmx-settling")
    expect(busy).to_have_count(0)  # the answer is on screen, not just on the wire


def test_nurse_enters_and_corrects_the_diagnosis(portal, tablet, shots):
    page = tablet
    first_sign_in(page, portal, "nina@hospital.test", staff_account(portal, "nina@hospital.test"),
                  PASSWORD)  # fmt: skip
    code = nurse_registers_subject(page, portal)
    page.screenshot(path=shots / "10-subject-registered.png", full_page=True)

    page.get_by_role("link", name="Diagnosis").first.click()
    page.wait_for_url(re.compile(r"/crf/diagnosis/1/diagnosis$"))
    future = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    _answer(page, "#diagnosis_date", future)
    expect(page.locator("#diagnosis_date-error")).to_be_visible()  # the inline error, live
    page.screenshot(path=shots / "11-future-date-error.png", full_page=True)
    assert accessibility_problems(page) == []  # the live error, after an htmx redraw
    _answer(page, "#diagnosis_date", "2026-03-10")
    expect(page.locator("#diagnosis_date-error")).to_have_count(0)

    _answer(page, 'input[name="inrg_stage"][value="L1"]')
    _answer(page, 'input[name="histology"][value="nb"]')
    _answer(page, 'input[name="grade"][value="differentiating"]')  # redraws pathology
    expect(page.locator('input[name="mycn_copies"]')).to_have_count(0)
    page.evaluate("document.getElementById('section-pathology').dataset.untouched = 'yes'")
    _answer(page, 'input[name="mycn"][value="amplified"]')
    expect(page.locator('input[name="mycn_copies"]')).to_be_visible()  # only when amplified
    # Only what MYCN can change was redrawn: the pathology section is the same element.
    expect(page.locator("#section-pathology")).to_have_attribute("data-untouched", "yes")
    page.screenshot(path=shots / "12-mycn-copies-shown.png", full_page=True)
    _answer(page, 'input[name="mycn"][value="not_amplified"]')
    expect(page.locator('input[name="mycn_copies"]')).to_have_count(0)
    page.check('input[name="idrf_present"][value="no"]')
    page.locator("#dna_index").fill("1,2")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(re.compile(rf"/subjects/{code}$"))
    expect(page.get_by_text("In progress").first).to_be_visible()

    page.get_by_role("link", name="Diagnosis").first.click()
    page.get_by_role("button", name="Mark complete").click()
    if page.locator('input[name^="confirm:"]').count():  # warnings: confirm each with a reason
        for box in page.locator('input[name^="confirm:"]').all():
            box.fill("Checked in the pathology report")
        page.get_by_role("button", name="Mark complete").click()
    page.wait_for_url(re.compile(rf"/subjects/{code}$"))
    decision = page.locator("#decision-support")
    assert "very_low" in decision.inner_text() or "very low" in decision.inner_text()
    page.screenshot(path=shots / "13-inrg-risk-group.png", full_page=True)
    assert accessibility_problems(page) == []  # the subject page with decision support

    page.get_by_role("link", name="Diagnosis").first.click()
    page.locator("#dna_index").fill("1,5")
    page.get_by_role("button", name="Save draft").click()
    reason = page.locator('input[name="reason:dna_index"]')
    expect(reason).to_be_visible()  # a complete record asks why
    reason.fill("Ploidy re-measured by the reference lab")
    reason.press("Tab")  # leaving the reason box re-evaluates nothing: it stays
    expect(reason).to_have_value("Ploidy re-measured by the reference lab")
    page.screenshot(path=shots / "14-reason-for-change.png", full_page=True)
    assert accessibility_problems(page) == []  # the reasons asked for, beside their items
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(re.compile(rf"/subjects/{code}$"))

    page.get_by_role("link", name="Diagnosis").first.click()
    page.locator("#field-dna_index .history-button").click()
    expect(page.locator("#history-dna_index table")).to_be_visible()
    history = page.locator("#history-dna_index").inner_text()
    for expected in ("1.2", "1.5", "Ploidy re-measured by the reference lab", "nina@hospital.test"):
        assert expected in history
    page.screenshot(path=shots / "15-item-history.png", full_page=True)
    assert accessibility_problems(page) == []  # the history, opened in place
