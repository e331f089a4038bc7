"""On a tablet: the save bar stays in view without hiding answers; a monitor reads a saved form
as questions and answers in text, and the page passes axe-core's WCAG 2.1 AA checks."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import TABLET, accessibility_problems, first_sign_in, staff_account
from tests.browser.test_nurse_enters_diagnosis import _answer, nurse_registers_subject

pytestmark = pytest.mark.browser
PASSWORD = "quiet reading of saved pages"


def _in_view(page, locator) -> bool:
    box = locator.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= TABLET["height"]


def test_the_save_bar_stays_in_view_and_a_monitor_reads_answers_as_text(
    portal, tablet, browser, shots
):
    page = tablet
    email = "ornella@hospital.test"
    first_sign_in(page, portal, email, staff_account(portal, email), PASSWORD)
    code = nurse_registers_subject(
        page, portal, child=("Ferrand", "Léonie", "2024-01-05", "female")
    )
    form = f"{portal.url}/subjects/{code}/crf/diagnosis/1/diagnosis"
    page.goto(form)
    complete = page.get_by_role("button", name="Mark complete")
    assert _in_view(page, complete)  # at the top of a long form, the save is on screen
    expect(page.locator("#save-help")).to_contain_text("missing answers are allowed")
    page.keyboard.press("End")
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    last = page.locator(".crf-section:not([hidden]) .crf-field").last
    bar = page.locator("#save-bar").bounding_box()
    field = last.bounding_box()
    assert field["y"] + field["height"] <= bar["y"] + 1  # the bar never covers the last answer
    page.screenshot(path=shots / "30-save-bar.png")

    _answer(page, "#diagnosis_date", "2026-08-10")
    _answer(page, 'input[name="inrg_stage"][value="M"]')
    _answer(page, 'input[name="mycn"][value="amplified"]')
    panel = page.locator("#crf-decisions")
    expect(panel).to_contain_text("Risk: high")  # decision support in the form it comes from
    expect(panel).to_contain_text("Age at diagnosis (completed months): 31 months")
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(re.compile(rf"/subjects/{code}$"))

    monitor_email = "marc.monitor@cro.test"
    link = staff_account(portal, monitor_email, role="monitor")
    context = browser.new_context(viewport=TABLET, locale="en-GB", device_scale_factor=1)
    try:
        reader = context.new_page()
        first_sign_in(reader, portal, monitor_email, link, PASSWORD)
        reader.goto(form)
        answers = reader.locator("dl.answers")
        expect(answers.first).to_be_visible()
        stage = reader.locator("#field-inrg_stage dd")
        expect(stage).to_contain_text("M")
        assert stage.locator(".answer-text").inner_text().startswith("M")
        expect(reader.locator("#field-mycn dd .answer-text")).to_have_text("Amplified")
        expect(reader.locator("#field-diagnosis_date dd .answer-text")).to_have_text("10/08/2026")
        expect(reader.locator("#field-primary_site dd")).to_contain_text("No answer")
        expect(reader.locator("#crf input[type=radio]")).to_have_count(0)
        reader.screenshot(path=shots / "31-read-only-form.png", full_page=True)
        assert accessibility_problems(reader) == []
    finally:
        context.close()
