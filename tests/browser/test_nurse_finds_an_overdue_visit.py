"""A research nurse opens the portal on a tablet: the to-do list on the home page shows a visit
overdue by the study's schedule, and one tap leads to its form."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from edc.models.studies import timezone_for
from tests.browser.conftest import accessibility_problems, first_sign_in, staff_account

pytestmark = pytest.mark.browser
PASSWORD = "visits come round every quarter"
SITE = "IT-07"  # a site of its own: other tests' subjects never crowd this list


def _register(page, portal) -> str:
    page.goto(f"{portal.url}/subjects/new")
    page.locator("#family_name").fill("Ricci")
    page.locator("#given_names").fill("Matteo")
    page.locator("#date_of_birth").fill("2023-06-01")
    page.locator("#sex").select_option("male")
    page.locator("#guardians-0-name").fill("Sara Ricci")
    page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(r"/subjects/NB-IT07-\d{4}$"))
    return page.url.rsplit("/", 1)[-1]


def test_the_to_do_list_leads_the_nurse_to_an_overdue_visit(portal, tablet, shots):
    page = tablet
    portal.flask("sites", "add", "siopen-nb", SITE, "Ospedale Gaslini", "IT")
    email = "giulia@hospital.test"
    first_sign_in(page, portal, email, staff_account(portal, email, site=SITE), PASSWORD)
    code = _register(page, portal)

    # Diagnosed 400 days ago: the initial treatment (due 30 days after diagnosis, on time
    # until 60 days after it) is 340 days overdue.
    page.get_by_role("link", name="Diagnosis").first.click()
    page.wait_for_url(re.compile(r"/crf/diagnosis/1/diagnosis$"))
    site_today = dt.datetime.now(ZoneInfo(timezone_for("IT"))).date()  # the site's calendar
    diagnosed = site_today - dt.timedelta(days=400)
    page.locator("#diagnosis_date").fill(diagnosed.isoformat())
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(re.compile(rf"/subjects/{code}$"))

    page.get_by_role("link", name="Home").first.click()
    todo = page.locator("#todo")
    expect(todo.get_by_role("heading", name="To do")).to_be_visible()
    expect(todo.get_by_role("heading", name=re.compile(rf"^{SITE} "))).to_be_visible()
    overdue = todo.locator(".todo-visits li").filter(has_text=f"{code} – Initial treatment")
    expect(overdue).to_contain_text("overdue by 340 days")
    target = diagnosed + dt.timedelta(days=30)  # written as the reader's language writes it
    expect(overdue.locator("time").first).to_have_text(target.strftime("%d/%m/%Y"))
    expect(todo.locator(".todo-forms li").filter(has_text=code)).to_contain_text("Diagnosis")
    assert accessibility_problems(page) == []
    page.screenshot(path=shots / "50-to-do-list-overdue-visit.png", full_page=True)

    overdue.get_by_role("link", name=f"{code} – Initial treatment").click()
    page.wait_for_url(re.compile(rf"/subjects/{code}/crf/treatment/1/treatment$"))
    expect(page.locator("#treatment_start_date")).to_be_visible()
