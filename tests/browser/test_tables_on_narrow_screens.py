"""The subject list reads on a tablet as a table and on a phone as cards, dates never broken."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, ViewportSize

from tests.browser.conftest import TABLET, first_sign_in, staff_account
from tests.browser.test_nurse_enters_diagnosis import nurse_registers_subject

pytestmark = pytest.mark.browser
PASSWORD = "tables that fold into cards"
PHONE: ViewportSize = {"width": 375, "height": 812}
TABLET_SIZE: ViewportSize = {"width": TABLET["width"], "height": TABLET["height"]}


def _one_line(page: Page, selector: str) -> bool:
    """The element is drawn on a single line (a wrapped inline element has several boxes)."""
    return page.locator(selector).first.evaluate("el => el.getClientRects().length") == 1


def _cells_side_by_side(page: Page) -> bool:
    row = page.locator("#subjects tbody tr").first
    first = row.locator("td").first.bounding_box()
    last = row.locator("td").last.bounding_box()
    assert first is not None
    assert last is not None
    return abs(first["y"] - last["y"]) < 2 and last["x"] > first["x"]


def test_the_subject_list_is_a_table_on_a_tablet_and_cards_on_a_phone(portal, browser: Browser,
                                                                       shots):  # fmt: skip
    context = browser.new_context(viewport=TABLET_SIZE, locale="en-GB", device_scale_factor=1)
    page = context.new_page()
    email = "noa@hospital.test"
    first_sign_in(page, portal, email, staff_account(portal, email), PASSWORD)
    nurse_registers_subject(page, portal)

    page.goto(f"{portal.url}/subjects/")
    assert _cells_side_by_side(page)  # the tablet keeps the table
    assert _one_line(page, "#subjects tbody time")
    page.screenshot(path=shots / "50-subjects-on-a-tablet.png", full_page=True)

    page.set_viewport_size(PHONE)
    row = page.locator("#subjects tbody tr").first
    assert not _cells_side_by_side(page)  # one card: the cells one under the other
    assert row.evaluate("tr => getComputedStyle(tr).display") == "block"
    label = row.locator("td").first.evaluate("td => getComputedStyle(td, '::before').content")
    assert label == '"Study code"'  # each cell says which column it is
    assert _one_line(page, "#subjects tbody time")  # the registration moment stays whole
    page.screenshot(path=shots / "51-subjects-on-a-phone.png", full_page=True)
    context.close()
