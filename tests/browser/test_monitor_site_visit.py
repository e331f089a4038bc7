"""A monitor's visits to a site, on a tablet: during the visit the to-do list shows the queries
waiting for each side and the subject with forms to verify; the monitor ends the visit; the
nurse then changes two items of a form (one more was changed before the visit ended); at the
next visit the site's page, reached from the to-do list, lists exactly the two items changed
since the visit before."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import TABLET, Portal, accessibility_problems
from tests.browser.test_review_of_a_form import (
    PEOPLE,
    Person,
    form_url,
    monitor_raises_query,
    nurse_changes,
    nurse_completes_the_laboratory_form,
    nurse_registers_child,
    site_people,
)

pytestmark = pytest.mark.browser
SITE = "PT-43"  # a site of its own: nobody else's forms or queries on these lists


def monitor_starts_a_visit(page: Page, portal: Portal) -> None:
    page.goto(f"{portal.url}/monitoring/sites/{SITE}")
    page.get_by_role("button", name="Start a visit").click()
    page.wait_for_url(f"{portal.url}/monitoring/sites/{SITE}")
    expect(page.get_by_role("button", name="End the visit")).to_be_visible()


def monitor_ends_the_visit(page: Page, portal: Portal) -> None:
    page.goto(f"{portal.url}/monitoring/sites/{SITE}")
    page.get_by_role("button", name="End the visit").click()
    page.wait_for_url(f"{portal.url}/monitoring/sites/{SITE}")
    expect(page.get_by_role("button", name="Start a visit")).to_be_visible()


def nurse_answers_in_words(page: Page, url: str, query_id: int, text: str) -> None:
    page.goto(url)
    query = page.locator(f"#query-{query_id}")
    query.get_by_label("Answer").fill(text)
    query.get_by_role("button", name="Send the answer").click()
    page.wait_for_url(re.compile(rf"#query-{query_id}$"))
    expect(query).to_have_class(re.compile(r"\bquery-answered\b"))


def test_the_next_visit_lists_only_the_items_changed_since_the_last(portal, browser, shots):
    nurse_person, monitor_person = site_people(browser, portal, SITE, TABLET, PEOPLE[:2])
    seen: dict[str, list[str]] = {}
    try:
        site_visits(portal, nurse_person, monitor_person.page, seen, shots)
    finally:
        nurse_person.page.context.close()
        monitor_person.page.context.close()
    assert {name: found for name, found in seen.items() if found} == {}


def site_visits(portal, person: Person, monitor: Page, seen: dict[str, list[str]], shots) -> None:
    nurse = person.page
    code = nurse_registers_child(nurse, portal, SITE)
    url = form_url(portal, code)
    nurse_completes_the_laboratory_form(nurse, url, "250")

    monitor_starts_a_visit(monitor, portal)
    on_ferritin = monitor_raises_query(monitor, url, "Ferritin", "Is it 205 on the report?")
    on_date = monitor_raises_query(monitor, url, "Date of blood sample", "Which day was it?")

    nurse.goto(f"{portal.url}/")
    expect(nurse.locator("#todo .todo-counts")).to_contain_text("2 queries waiting for you")
    expect(nurse.locator("#todo .todo-queries li")).to_have_count(2)
    expect(nurse.locator("#todo .todo-queries li").first).to_contain_text("open, to answer")
    nurse_answers_in_words(nurse, url, on_date, "The date on the tube label: 10 March.")
    # Changed before the visit ends: the next visit must not list it.
    nurse.goto(url)
    nurse_changes(nurse, {"ferritin_uln": ("320", "Age-specific limit of the lab")})
    nurse.goto(f"{portal.url}/")
    waiting = nurse.locator("#todo .todo-queries li")
    expect(waiting).to_have_count(1)  # the query answered in words waits for the monitor now
    expect(waiting.get_by_role("link")).to_have_attribute(
        "href", re.compile(f"#query-{on_ferritin}$")
    )

    monitor.goto(f"{portal.url}/")
    todo = monitor.locator("#todo")
    answered = todo.locator(".todo-queries li")
    expect(answered).to_have_count(1)
    expect(answered).to_contain_text("Date of blood sample: answered, to review and close")
    expect(answered.get_by_role("link")).to_have_attribute("href", re.compile(f"#query-{on_date}$"))
    to_verify = todo.locator(".todo-verify li")
    expect(to_verify).to_have_count(1)
    expect(to_verify).to_contain_text(f"{code} 1 complete form not verified")
    expect(todo.locator(".todo-changed")).to_have_count(0)  # no visit completed yet
    monitor.screenshot(path=shots / "70-monitor-to-do-during-a-visit.png", full_page=True)
    seen["monitor: to-do during a visit"] = accessibility_problems(monitor)
    monitor_ends_the_visit(monitor, portal)
    seen["monitor: site page after the visit"] = accessibility_problems(monitor)

    nurse.goto(url)
    nurse_changes(
        nurse,
        {
            "ferritin": ("205", "Typed from the wrong line of the report"),
            "sample_date": ("2026-03-11", "The tube label says 11 March"),
        },
    )
    next_visit(portal, monitor, code, person.email, seen, shots)


def next_visit(
    portal, monitor: Page, code: str, by: str, seen: dict[str, list[str]], shots
) -> None:
    monitor.goto(f"{portal.url}/")
    changed = monitor.locator("#todo .todo-changed li")
    expect(changed).to_have_count(1)
    expect(monitor.locator("#todo .todo-counts")).to_contain_text(
        "2 items changed since your last visit"
    )
    changed.get_by_role("link").click()
    monitor.wait_for_url(f"{portal.url}/monitoring/sites/{SITE}")
    monitor.get_by_role("button", name="Start a visit").click()
    monitor.wait_for_url(f"{portal.url}/monitoring/sites/{SITE}")
    listed = monitor.locator("#changed tbody tr")
    expect(listed).to_have_count(2)
    items = monitor.locator("#changed tbody td[data-label='Item']")
    assert sorted(items.all_inner_texts()) == ["Date of blood sample", "Ferritin"]
    for row in listed.all():
        expect(row.locator("td[data-label='Subject']")).to_have_text(code)
        expect(row.locator("td[data-label='By']")).to_have_text(by)
    monitor.screenshot(path=shots / "71-changed-since-the-last-visit.png", full_page=True)
    seen["monitor: changed since the last visit"] = accessibility_problems(monitor)
    listed.first.get_by_role("link").click()
    monitor.wait_for_url(form_url(portal, code))
