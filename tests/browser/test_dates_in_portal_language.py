"""A tablet set up in US English, a nurse who reads the portal in French: she types dates as the
French write them, and the portal reads them so, whatever the device would impose."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import create_engine, select

from edc.models.crf import ItemValue
from tests.browser.conftest import TABLET, first_sign_in, staff_account
from tests.browser.test_nurse_enters_diagnosis import nurse_registers_subject

pytestmark = pytest.mark.browser
PASSWORD = "dates as the nurse writes them"


def _stored(portal, path: str) -> object:
    engine = create_engine(portal.env["DATABASE_URL"])
    with engine.connect() as conn:
        value = conn.scalar(select(ItemValue.value).where(ItemValue.path == path))
    engine.dispose()
    return value


def test_a_french_nurse_on_a_us_tablet_types_a_french_date(portal, browser, shots):
    context = browser.new_context(viewport=TABLET, locale="en-US", device_scale_factor=1)
    page = context.new_page()
    assert page.evaluate("navigator.language") == "en-US"  # the device would say mm/dd/yyyy
    email = "amelie@hospital.test"
    first_sign_in(page, portal, email, staff_account(portal, email), PASSWORD)
    child = ("Lefèvre", "Anouk", "2025-01-20", "female")
    code = nurse_registers_subject(page, portal, child=child, parent="Julie Lefèvre")

    page.locator("#lang").select_option("fr")  # the nurse picks French in the portal
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    form_url = f"{portal.url}/subjects/{code}/crf/diagnosis/1/diagnosis"
    page.goto(form_url)
    date = page.locator("#diagnosis_date")
    expect(date).to_have_attribute("placeholder", "jj/mm/aaaa")
    expect(date).to_have_attribute("type", "text")  # no picker in the device's format

    with page.expect_response(re.compile(r"/evaluate$")):
        date.press_sequentially("31/02/2025")  # a day the calendar does not have
        date.press("Tab")
    expect(page.locator("#diagnosis_date-error")).to_contain_text(
        "Le 31/02/2025 n’existe pas dans le calendrier"
    )
    expect(date).to_have_value("31/02/2025")  # kept as typed, to be corrected

    date.fill("")
    with page.expect_response(re.compile(r"/evaluate$")):
        date.press_sequentially("15/03/2025")  # the separators typed, or added by themselves
        expect(date).to_have_value("15/03/2025")
        date.press("Tab")
    expect(page.locator("#diagnosis_date-error")).to_have_count(0)
    page.screenshot(path=shots / "20-french-date-on-us-tablet.png", full_page=True)

    page.locator('button[name="action"][value="draft"]').click()
    page.wait_for_url(re.compile(rf"/subjects/{code}$"))
    assert _stored(portal, "diagnosis_date") == "2025-03-15"  # stored as ISO
    page.goto(form_url)
    expect(page.locator("#diagnosis_date")).to_have_value("15/03/2025")  # shown as French

    page.goto(form_url)  # a tablet's numeric keypad: digits only, the separators come by themselves
    date = page.locator("#diagnosis_date")
    date.fill("")
    date.press_sequentially("16032025")
    expect(date).to_have_value("16/03/2025")
    context.close()


def test_the_digits_keep_their_place_when_typing_iso(portal, browser):
    """The ISO form still works with the separators added as French digits are typed."""
    context = browser.new_context(viewport=TABLET, locale="en-US", device_scale_factor=1)
    page = context.new_page()
    page.goto(f"{portal.url}/login")
    page.set_content(
        '<input id="d" data-date placeholder="jj/mm/aaaa hh:mm">'
        f'<script src="{portal.url}/static/js/app.js"></script>'
    )
    d = page.locator("#d")
    d.press_sequentially("2026-12-31 14:30")
    expect(d).to_have_value("2026-12-31 14:30")
    d.fill("")
    d.press_sequentially("311220261430")
    expect(d).to_have_value("31/12/2026 14:30")
    context.close()
