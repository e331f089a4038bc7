"""An investigator takes a copy of their site's data on a tablet (checklist 43): they choose
the format, the export runs in the background while the page follows it, then they download
the file."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import accessibility_problems, first_sign_in, staff_account

pytestmark = pytest.mark.browser
PASSWORD = "a copy of our own site's data"


def test_investigator_exports_their_site_and_downloads_it(portal, tablet, shots):
    page = tablet
    email = "dr.exports@hospital.test"
    first_sign_in(page, portal, email, staff_account(portal, email, "investigator"), PASSWORD)

    page.goto(f"{portal.url}/")
    page.get_by_role("link", name="Exports").click()
    page.wait_for_url(re.compile(r"/exports$"))
    expect(page.get_by_label("What to export")).to_contain_text("FR-01")
    assert accessibility_problems(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 768
    page.screenshot(path=shots / "60-exports-page.png", full_page=True)

    page.get_by_label("CDISC ODM 1.3.2").check()
    page.get_by_role("button", name="Start the export").click()
    page.wait_for_url(re.compile(r"/exports/\d+$"))
    # The page follows the job (polling every 2 s) until it is ready.
    expect(page.get_by_role("status")).to_have_text("Ready", timeout=20_000)
    link = page.get_by_role("link", name="Download the file")
    expect(link).to_be_visible()
    assert accessibility_problems(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 768
    page.screenshot(path=shots / "61-export-ready.png", full_page=True)

    with page.expect_download() as waited:
        link.click()
    download = waited.value
    assert re.fullmatch(r"siopen-nb-FR-01-\d{8}-\d{4}\.xml", download.suggested_filename)
    with open(download.path(), "rb") as handle:
        assert b'ODMVersion="1.3.2"' in handle.read(600)

    page.get_by_role("link", name="All exports").click()
    expect(page.locator("main table")).to_contain_text("ODM")
