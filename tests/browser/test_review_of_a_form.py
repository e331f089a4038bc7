"""The review of one completed form, each person on a device of their own, on a tablet and on a
desktop: a monitor raises a query on an item; the nurse finds it on the to-do list and beside the
item, and answers it by correcting the value with a reason; the monitor reads the change in the
thread, closes the query and verifies the form; the data manager locks it and the nurse can no
longer change it; the investigator signs it (password, TOTP, and the certification before a
first signature); the data manager lifts the lock with a reason; the nurse corrects another
value; the investigator finds the signature struck through and the form back on the list to
sign, and the changed item is shown as changed after SDV. axe checks each page on the way."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import TABLET, Portal, accessibility_problems, first_sign_in

pytestmark = pytest.mark.browser
PASSWORD = "source documents are in the blue binder"
DESKTOP = {"width": 1366, "height": 900}
STUDY = "siopen-nb"
#: The form reviewed: laboratory tests of the diagnosis visit (serum ferritin only).
FORM = ("diagnosis", 1, "laboratory")


@dataclass
class Person:
    """Someone at their own device, signed in."""

    page: Page
    name: str
    email: str
    secret: str

    @property
    def fresh_code(self) -> str:
        """A code of a time step not used yet (each step is accepted once)."""
        return pyotp.TOTP(self.secret).at(time.time() + 30)


def operator_runs(portal: Portal, *commands: list[str]) -> list[str]:
    """What an operator's script of `flask` commands prints, command by command."""
    return portal.flask_steps(*commands)


@dataclass
class Team:
    nurse: Person
    monitor: Person
    investigator: Person
    data_manager: Person

    def leave(self) -> None:
        for person in (self.nurse, self.monitor, self.investigator, self.data_manager):
            person.page.context.close()


#: Who reviews a site's forms: name, role, and whether the role is the site's or the study's.
PEOPLE = (
    ("Anais Nurse", "nurse", "site"),
    ("Marc Monitor", "monitor", "site"),
    ("Ines Investigator", "investigator", "site"),
    ("Diane Datamanager", "data_manager", "study"),
)


def site_people(
    browser: Browser, portal: Portal, site: str, viewport: dict, roles: tuple = PEOPLE
) -> list[Person]:
    """A new site of the study (in Portugal) and its people, each account made and approved
    by the operator, then signed in for the first time on a device of its owner's."""
    commands = [["sites", "add", STUDY, site, f"Hospital {site}", "PT"]]
    emails = []
    for name, role, level in roles:
        email = f"{name.split()[0].lower()}.{site.lower()}@hospital.test"
        scope = ["--site", site] if level == "site" else ["--study", STUDY]
        create = ["users", "create", "--email", email, "--name", name, "--role", role, *scope]
        commands.append([*create, "--identity-check", "ID card seen by the PI"])
        commands.append(["users", "approve", email, role, *scope, "--reason", "review team"])
        emails.append(email)
    printed = operator_runs(portal, *commands)
    people = []
    for (name, _role, _level), email, out in zip(roles, emails, printed[1::2], strict=True):
        context = browser.new_context(viewport=viewport, locale="en-GB", device_scale_factor=1)
        page = context.new_page()
        link = out.strip().rsplit(" ", 1)[-1]
        people.append(Person(page, name, email, first_sign_in(page, portal, email, link, PASSWORD)))
    return people


def site_team(browser: Browser, portal: Portal, site: str, viewport: dict) -> Team:
    return Team(*site_people(browser, portal, site, viewport))


def settled(page: Page) -> None:
    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


def answer(page: Page, selector: str, value: str | None = None) -> None:
    """Answer as a nurse does (tick, or type and Tab), and wait for the form's re-evaluation."""
    with page.expect_response(re.compile(r"/evaluate$")):
        if value is None:
            page.check(selector)
        else:
            page.locator(selector).fill(value)
            page.locator(selector).press("Tab")
    settled(page)


def nurse_registers_child(page: Page, portal: Portal, site: str) -> str:
    page.goto(f"{portal.url}/subjects/new")
    page.locator("#family_name").fill("Garnier")
    page.locator("#given_names").fill("Léon")
    page.locator("#date_of_birth").fill("2023-06-01")
    page.locator("#sex").select_option("male")
    page.locator("#guardians-0-name").fill("Eva Garnier")
    page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/subjects/NB-{site.replace('-', '')}-\d{{4}}$"))
    return page.url.rsplit("/", 1)[-1]


def form_url(portal: Portal, code: str) -> str:
    event, number, form = FORM
    return f"{portal.url}/subjects/{code}/crf/{event}/{number}/{form}"


def nurse_completes_the_laboratory_form(page: Page, url: str, ferritin: str) -> None:
    page.goto(url)
    answer(page, 'input[name="ldh_done"][value="no"]')
    answer(page, 'input[name="ferritin_done"][value="yes"]')
    answer(page, "#sample_date", "2026-03-10")
    answer(page, "#ferritin", ferritin)
    answer(page, "#ferritin_uln", "300")
    answer(page, 'input[name="urine_done"][value="no"]')
    page.get_by_role("button", name="Mark complete").click()
    page.wait_for_url(re.compile(r"/subjects/[^/]+$"))


def monitor_raises_query(page: Page, url: str, item: str, question: str) -> int:
    """A query on one item of the form; returns its number."""
    page.goto(url)
    review = page.locator("#review")
    review.get_by_label("On", exact=True).select_option(label=item)
    review.get_by_label("Question to the site").fill(question)
    review.get_by_role("button", name="Raise the query").click()
    page.wait_for_url(re.compile(r"#query-\d+$"))
    return int(page.url.rsplit("-", 1)[-1])


def nurse_changes(page: Page, changes: dict[str, tuple[str, str]]) -> None:
    """On the form page: new values for a complete form's items, each with the reason the page
    asks for beside it (`changes`: field → (value, reason))."""
    for field, (value, _reason) in changes.items():
        answer(page, f"#{field}", value)
    for field, (_value, reason) in changes.items():
        asked = page.locator(f'input[name="reason:{field}"]')
        expect(asked).to_be_visible()
        asked.fill(reason)
    page.get_by_role("button", name="Save draft").click()
    page.wait_for_url(re.compile(r"/subjects/[^/]+$"))


def nurse_answers_with_a_change(page: Page, field: str, value: str, reason: str) -> None:
    """A query on an item answered by changing it: the reason answers the query."""
    nurse_changes(page, {field: (value, reason)})


def monitor_closes_query(page: Page, query_id: int, note: str) -> None:
    query = page.locator(f"#query-{query_id}")
    query.get_by_label("Closing note (optional)").fill(note)
    query.get_by_role("button", name="Close the query").click()
    page.wait_for_url(re.compile(rf"#query-{query_id}$"))


def monitor_verifies_the_form(page: Page, url: str) -> None:
    """One item first (selected), then the rest of the form at once."""
    page.goto(url)
    sdv = page.locator("#sdv-form")
    sdv.get_by_label("Verify Date of blood sample").check()
    sdv.get_by_role("button", name="Verify selected items").click()
    page.wait_for_url(re.compile(r"#review$"))
    expect(page.locator("#sdv-sample_date .sdv-done")).to_be_visible()
    expect(page.locator("#sdv-ferritin .sdv-done")).to_have_count(0)
    sdv.get_by_role("button", name="Verify the whole form").click()
    page.wait_for_url(re.compile(r"#review$"))
    expect(page.locator("#sdv-form tbody tr")).not_to_have_count(0)
    expect(page.locator("#sdv-form tbody tr:not(:has(.sdv-done))")).to_have_count(0)


def data_manager_locks_the_form(page: Page, url: str) -> None:
    page.goto(url)
    page.locator("#review").get_by_role("button", name="Lock this form").click()
    page.wait_for_url(url)
    expect(page.locator("#review .lock-note")).to_contain_text("Diane Datamanager")


def investigator_signs(person: Person, portal: Portal, code: str) -> None:
    """From the to-do list: the form to sign, signed with password and a fresh TOTP code after
    accepting the certification of a first signature."""
    page = person.page
    page.goto(f"{portal.url}/")
    to_sign = page.locator("#todo .todo-sign li").filter(has_text=code)
    expect(to_sign).to_have_count(1)
    to_sign.get_by_role("link").click()
    page.wait_for_url(re.compile(rf"/subjects/{code}/sign/diagnosis/1/laboratory$"))
    expect(page.locator("#certification")).to_be_visible()  # never signed before
    page.get_by_label("I have reviewed these data").check()
    page.get_by_label("I accept this certification").check()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("6-digit code from your authenticator app").fill(person.fresh_code)
    page.get_by_role("button", name="Sign", exact=True).click()
    page.wait_for_url(form_url(portal, code))
    valid = page.locator("#signatures .signature:not(.signature-invalid)")
    expect(valid).to_contain_text(person.name)
    expect(valid).to_contain_text("I have reviewed these data")


def data_manager_lifts_the_lock(page: Page, portal: Portal, code: str, reason: str) -> None:
    page.goto(f"{portal.url}/locks")
    lock = page.locator("tr[id^=lock-]").filter(has_text=code)
    expect(lock).to_have_count(1)
    lock.get_by_label("Reason for lifting").fill(reason)
    lock.get_by_role("button", name="Lift the lock").click()
    page.wait_for_url(f"{portal.url}/locks")
    expect(page.locator("tr[id^=lock-]").filter(has_text=code)).to_have_count(0)


@pytest.mark.parametrize(
    ("viewport", "site"), [(TABLET, "PT-41"), (DESKTOP, "PT-42")], ids=["tablet", "desktop"]
)
def test_a_form_is_queried_corrected_verified_locked_signed_and_changed_again(
    portal, browser, shots, viewport, site
):
    team = site_team(browser, portal, site, viewport)
    seen: dict[str, list[str]] = {}
    try:
        review_of_a_form(portal, team, site, seen, shots)
    finally:
        team.leave()
    assert {name: found for name, found in seen.items() if found} == {}


def review_of_a_form(portal, team: Team, site: str, seen: dict[str, list[str]], shots) -> None:
    code = nurse_registers_child(team.nurse.page, portal, site)
    url = form_url(portal, code)
    nurse_completes_the_laboratory_form(team.nurse.page, url, "250")
    expect(status_of(team.nurse.page, url)).to_have_attribute("data-status", "complete")
    a_query_answered_by_a_change(portal, team, code, seen, shots)
    verified_locked_and_signed(portal, team, code, seen, shots)
    unlocked_and_changed_again(portal, team, code, seen, shots)


def status_of(page: Page, url: str):
    """The form's status as its page shows it, near its title."""
    page.goto(url)
    return page.locator("#record-status")


def a_query_answered_by_a_change(portal, team: Team, code: str, seen, shots) -> None:
    nurse, monitor, url = team.nurse.page, team.monitor.page, form_url(portal, code)
    query_id = monitor_raises_query(
        monitor, url, "Ferritin", "The laboratory report says 205 ng/mL: please check."
    )
    expect(monitor.locator(f"#query-{query_id}")).to_have_class(re.compile(r"\bquery-open\b"))
    seen["monitor: form with a query"] = accessibility_problems(monitor)

    # The nurse: the query on the to-do list, leading to the item, its badge on the item's row.
    nurse.goto(f"{portal.url}/")
    expect(nurse.locator("#todo .todo-counts")).to_contain_text("1 query waiting for you")
    waiting = nurse.locator("#todo .todo-queries li").filter(has_text=code)
    expect(waiting).to_contain_text("Ferritin: open, to answer")
    seen["nurse: to-do with a query"] = accessibility_problems(nurse)
    waiting.get_by_role("link").click()
    nurse.wait_for_url(f"{url}#query-{query_id}")
    expect(nurse.locator("#sdv-ferritin .query-badge")).to_have_text("1 open query")
    expect(nurse.locator("#sdv-ferritin_uln .query-badge")).to_have_count(0)
    nurse_answers_with_a_change(nurse, "ferritin", "205", "Typed from the wrong line of the report")
    nurse.goto(f"{portal.url}/")
    expect(nurse.locator("#todo .todo-queries")).to_have_count(0)  # answered: nothing waits

    # The monitor: the change, linked in the thread; the query closed.
    monitor.goto(url)
    thread = monitor.locator(f"#query-{query_id}")
    expect(thread).to_have_class(re.compile(r"\bquery-answered\b"))
    expect(thread.locator(".thread li").last).to_contain_text(
        "Typed from the wrong line of the report (changed from 250 to 205)"
    )
    monitor.screenshot(path=shots / f"60-query-answered-by-a-change-{code}.png", full_page=True)
    monitor_closes_query(monitor, query_id, "Matches the report")
    expect(thread).to_have_class(re.compile(r"\bquery-closed\b"))
    expect(monitor.locator("#sdv-ferritin .query-badge")).to_have_count(0)


def verified_locked_and_signed(portal, team: Team, code: str, seen, shots) -> None:
    nurse, url = team.nurse.page, form_url(portal, code)
    monitor_verifies_the_form(team.monitor.page, url)
    expect(team.monitor.page.locator("#record-status")).to_have_attribute("data-status", "verified")
    seen["monitor: form verified"] = accessibility_problems(team.monitor.page)

    data_manager = team.data_manager.page
    data_manager_locks_the_form(data_manager, url)
    seen["data manager: locked form"] = accessibility_problems(data_manager)
    expect(status_of(nurse, url)).to_have_attribute("data-status", "locked")
    expect(nurse.locator("#review .lock-note")).to_contain_text("Locked by Diane Datamanager")
    expect(nurse.locator("#save-bar")).to_have_count(0)
    expect(nurse.locator("main button[type=submit]")).to_have_count(0)
    expect(nurse.locator("#crf input:not([type=hidden])")).to_have_count(0)
    nurse.screenshot(path=shots / f"61-locked-form-{code}.png", full_page=True)
    seen["nurse: locked form"] = accessibility_problems(nurse)

    investigator = team.investigator
    investigator.page.goto(f"{portal.url}/subjects/{code}/sign/diagnosis/1/laboratory")
    seen["investigator: sign"] = accessibility_problems(investigator.page)
    investigator_signs(investigator, portal, code)
    expect(investigator.page.locator("#record-status")).to_have_attribute("data-status", "locked")


def unlocked_and_changed_again(portal, team: Team, code: str, seen, shots) -> None:
    nurse, data_manager, url = team.nurse.page, team.data_manager.page, form_url(portal, code)
    data_manager.goto(f"{portal.url}/locks")
    seen["data manager: locks"] = accessibility_problems(data_manager)
    data_manager_lifts_the_lock(data_manager, portal, code, "Late laboratory result to enter")
    expect(status_of(nurse, url)).to_have_attribute("data-status", "signed")
    nurse_answers_with_a_change(nurse, "ferritin_uln", "280", "Age-specific limit of the lab")

    investigator = team.investigator
    page = investigator.page
    page.goto(f"{portal.url}/")
    again = page.locator("#todo .todo-sign li").filter(has_text=code)
    expect(again).to_contain_text("changed after it was signed: sign again")
    seen["investigator: to-do, sign again"] = accessibility_problems(page)
    again.get_by_role("link").click()
    page.wait_for_url(re.compile(rf"/subjects/{code}/sign/diagnosis/1/laboratory$"))
    expect(page.locator("main .signature-invalid del")).to_contain_text(investigator.name)
    expect(page.locator("#certification")).to_have_count(0)  # certified once, at the first
    expect(status_of(page, url)).to_have_attribute("data-status", "complete")
    struck = page.locator("#signatures .signature-invalid")
    expect(struck.locator("del")).to_contain_text(investigator.name)
    expect(struck).to_contain_text("Age-specific limit of the lab")
    expect(page.locator("#signatures .signature:not(.signature-invalid)")).to_have_count(0)
    expect(page.get_by_role("link", name="Sign this form")).to_be_visible()
    expect(page.locator("#sdv-ferritin_uln .sdv-changed")).to_have_text("⚠ Changed after SDV")
    expect(page.locator("#sdv-ferritin .sdv-done")).to_be_visible()  # untouched: still verified
    page.screenshot(path=shots / f"62-signature-invalidated-{code}.png", full_page=True)
    seen["investigator: invalidated signature"] = accessibility_problems(page)
