"""The pages nurses, parents and monitors use pass axe-core's WCAG 2.1 AA checks on a tablet."""

from __future__ import annotations

import pytest

from tests.browser.conftest import accessibility_problems, first_sign_in, staff_account
from tests.browser.test_nurse_enters_diagnosis import nurse_registers_subject

pytestmark = pytest.mark.browser
PASSWORD = "accessible pages for every nurse"


def test_the_data_entry_pages_pass_wcag_21_aa(portal, tablet):
    page = tablet
    seen: dict[str, list[str]] = {}
    page.goto(f"{portal.url}/login")
    seen["sign-in"] = accessibility_problems(page)
    email = "ines@hospital.test"
    first_sign_in(page, portal, email, staff_account(portal, email), PASSWORD)
    seen["recovery codes"] = accessibility_problems(page)
    page.goto(f"{portal.url}/")
    seen["start page"] = accessibility_problems(page)
    page.goto(f"{portal.url}/subjects/new")
    seen["registration"] = accessibility_problems(page)
    code = nurse_registers_subject(page, portal)
    seen["subject page"] = accessibility_problems(page)
    page.goto(f"{portal.url}/subjects/")
    seen["subject list"] = accessibility_problems(page)
    page.goto(f"{portal.url}/subjects/{code}/crf/diagnosis/1/diagnosis")
    seen["diagnosis form"] = accessibility_problems(page)
    page.get_by_role("button", name="Mark complete").click()
    page.wait_for_selector("#error-summary")
    seen["diagnosis form with errors"] = accessibility_problems(page)
    page.goto(f"{portal.url}/subjects/{code}/identity")
    seen["identity"] = accessibility_problems(page)
    page.goto(f"{portal.url}/subjects/{code}/status")
    seen["status change"] = accessibility_problems(page)
    page.goto(f"{portal.url}/subjects/{code}/events/response/1/date")
    seen["visit date"] = accessibility_problems(page)
    page.goto(f"{portal.url}/subjects/{code}/identity/correct")
    seen["identity correction"] = accessibility_problems(page)
    page.goto(f"{portal.url}/subjects/new")
    page.locator("#family_name").fill("Moreau")
    page.locator("#given_names").fill("Zéphyrine")
    page.locator("#date_of_birth").fill("2025-01-20")
    page.locator("#sex").select_option("female")
    page.locator("main button[type=submit]").click()
    page.wait_for_selector("#possible-duplicates")
    seen["registration of a possible duplicate"] = accessibility_problems(page)
    assert {name: found for name, found in seen.items() if found} == {}
    # The check itself sees a violation when there is one: an unlabelled input, an image
    # without alternative text.
    page.evaluate(
        "document.querySelector('main').insertAdjacentHTML('beforeend',"
        ' \'<img src="x.png"><input type="text">\')'
    )
    found = " ".join(accessibility_problems(page))
    assert "image-alt" in found
    assert "label" in found
