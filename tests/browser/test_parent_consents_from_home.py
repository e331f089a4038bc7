"""Remote consent in a browser, with real mail: a portal whose country rule allows remote consent
(a copy of the demo's rules, Spain) sends through a local SMTP server (tests/mailbox.py). A nurse
registers a child with the mother's two e-mail addresses and invites her; three wrong codes lock
the first invitation; the second invitation's link works once, its code once; the mother reads,
answers and signs with a finger on her own device; the investigator countersigns; the sealed
copy arrives in her mailbox. axe checks every page on the way."""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from edc.settings import ROOT
from tests import mailbox
from tests.browser.conftest import (
    Portal,
    _free_port,
    accessibility_problems,
    first_sign_in,
    serving,
)
from tests.browser.test_parent_signs_in_clinic import (
    _correct,
    _touch_strokes,
    _touch_tablet,
    signer_reads_answers_and_signs,
)
from tests.databases import fresh_database

pytestmark = pytest.mark.browser
PASSWORD = "consent from home on a quiet evening"
MOTHER, SECOND = "lucia.ortega@familia.test", "lucia.movil@familia.test"
SITE = "ES-01"


def _study_copy(tmp: Path) -> Path:
    folder = tmp / "siopen-nb"
    shutil.copytree(ROOT / "studies" / "siopen-nb", folder)
    rules = folder / "consent" / "rules.yaml"
    text = rules.read_text()
    start = text.index("  ES:\n")
    end = text.index("remote_consent: false", start)
    rules.write_text(
        text[:end] + "remote_consent: true" + text[end + len("remote_consent: false") :]
    )
    return folder


@pytest.fixture(scope="module")
def remote_portal(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Portal, mailbox.Mailbox]]:
    """A portal that mails through a local SMTP server, with remote consent allowed in Spain."""
    tmp = tmp_path_factory.mktemp("remote-portal")
    box = mailbox.Mailbox()
    smtp = mailbox.start(box)
    folder = _study_copy(tmp)
    database = fresh_database(tmp, "remote")
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database.url, "DATABASE_OWNER_URL": database.owner_url,
           "EDC_INSTANCE_PATH": str(tmp / "instance"), "EDC_TRUSTED_HOSTS": "localhost",
           "EDC_DEV": "1", "PYTHONUNBUFFERED": "1", "EDC_BASE_URL": f"http://localhost:{port}",
           "EDC_MAIL_BACKEND": "smtp", "EDC_SMTP_HOST": "127.0.0.1",
           "EDC_SMTP_PORT": str(smtp.port), "EDC_MAIL_FROM": "edc@hospital.test"}  # fmt: skip
    portal = Portal(f"http://localhost:{port}", env)
    portal.flask_steps(
        ("db", "upgrade"),
        ("studies", "load", str(folder)),
        ("sites", "add", "siopen-nb", SITE, "Hospital de Madrid", "ES"),
        ("econsent", "keys", "init", "--site", SITE),
    )
    # The server reads the study's consent documents from the copy (econsent.library).
    start = (
        "import sys; from pathlib import Path; from econsent.library import use_folder; "
        f"use_folder('siopen-nb', Path({str(folder)!r})); from flask.cli import main; "
        f"sys.argv = ['flask', '--app', 'app:create_app', 'run', '--port', '{port}', "
        "'--host', '127.0.0.1', '--no-reload']; main()"
    )
    try:
        with serving(portal, tmp, [sys.executable, "-c", start]):
            yield portal, box
    finally:
        smtp.stop()


def _account(portal: Portal, box: mailbox.Mailbox, email: str, role: str) -> str:
    """A staff account made by the operator; its invitation link arrives by mail."""
    check = "ID card seen by the PI"
    made = ("users", "create", "--email", email, "--name", "Carmen Ruiz",
            "--identity-check", check, "--role", role, "--site", SITE)  # fmt: skip
    portal.flask_steps(
        made, ("users", "approve", email, role, "--site", SITE, "--reason", "test site setup")
    )
    bodies = _wait_for(box, email, lambda: [box.body(m) for m in box.to(email)])
    links = [
        m.group(1)
        for b in bodies
        if (m := re.search(r"https?://[^/\s]+(/account/activate/\S+)", b))
    ]
    assert links, bodies
    return portal.url + links[0]


def _wait_for(box: mailbox.Mailbox, address: str, read, count: int = 1):
    deadline = time.monotonic() + 15
    while len(box.to(address)) < count:
        assert time.monotonic() < deadline, f"no mail to {address}"
        time.sleep(0.1)
    return read()


def _registers_child(page: Page, portal: Portal) -> str:
    page.goto(f"{portal.url}/subjects/new")
    page.locator("#family_name").fill("Ortega")
    page.locator("#given_names").fill("Mateo")
    page.locator("#date_of_birth").fill(f"{time.gmtime().tm_year - 2}-03-04")
    page.locator("#sex").select_option("male")
    page.locator("#guardians-0-name").fill("Lucía Ortega")
    page.locator("#guardians-0-email").fill(MOTHER)
    page.locator("#guardians-0-second_email").fill(SECOND)
    page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(r"/subjects/NB-ES01-\d{4}$"))
    return page.url.rsplit("/", 1)[-1]


def _invites(page: Page, portal: Portal, code: str, seen: dict[str, list[str]]) -> str:
    page.goto(f"{portal.url}/consent/subjects/{code}")
    page.locator(f"a[href$='/consent/subjects/{code}/remote']").click()
    seen["staff: invite"] = accessibility_problems(page)
    page.locator("#guardian").select_option("0")
    page.locator("#language").select_option("es")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("main h1")).to_have_text("Invitation sent")
    assert page.locator("#printed-code").count() == 0  # the code went to the second address
    seen["staff: invited"] = accessibility_problems(page)
    page.locator("main a.button").click()
    page.wait_for_url(re.compile(r"/consent/sessions/\d+$"))
    return page.url


def _mailed(box: mailbox.Mailbox, count: int) -> tuple[str, str]:
    """The link (to the mother) and the code (to her second address) of invitation `count`."""
    body = _wait_for(box, MOTHER, lambda: box.body(box.to(MOTHER)[count - 1]), count)
    assert "Hola, Lucía Ortega:" in body  # in the language of her consent
    link = re.search(r"https?://[^/\s]+(/remote/invitation/\S+)", body)
    code_body = _wait_for(box, SECOND, lambda: box.body(box.to(SECOND)[count - 1]), count)
    code = re.search(r"^\s*(\d{4} \d{4})\s*$", code_body, re.MULTILINE)
    assert link, body
    assert code, code_body
    assert code.group(1).replace(" ", "") not in body  # never in the same message as the link
    return link.group(1), code.group(1)


def _opens(page: Page, portal: Portal, link: str, seen: dict[str, list[str]], name: str) -> None:
    page.goto(portal.url + link)
    seen[f"{name}: start"] = accessibility_problems(page)
    page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(r"/remote/code$"))
    seen[f"{name}: code"] = accessibility_problems(page)


def _types(page: Page, code: str) -> None:
    page.locator("#code").fill(code)
    page.locator("main button[type=submit]").click()


def test_a_mother_consents_from_home_and_receives_her_sealed_copy(remote_portal, browser, shots):
    portal, box = remote_portal
    seen: dict[str, list[str]] = {}
    staff = _touch_tablet(browser)
    nurse = "carmen@hospital.test"
    first_sign_in(staff, portal, nurse, _account(portal, box, nurse, "nurse"), PASSWORD)
    code = _registers_child(staff, portal)
    first = _invites(staff, portal, code, seen)
    link, _right = _mailed(box, 1)

    home = _touch_tablet(browser)  # the mother's own device: no staff session
    _opens(home, portal, link, seen, "first")
    for wrong in ("1111 1111", "2222 2222"):
        _types(home, wrong)
        expect(home.locator("#code-error")).to_be_visible()
    seen["wrong code"] = accessibility_problems(home)
    _types(home, "3333 3333")
    expect(home.locator("#invitation-closed")).to_be_visible()  # locked, said in plain words
    seen["locked"] = accessibility_problems(home)
    home.screenshot(path=shots / "remote-code-locked.png", full_page=True)
    staff.goto(first)
    expect(staff.locator("#remote-invitation")).to_have_attribute("data-state", "locked")
    seen["staff: locked invitation"] = accessibility_problems(staff)
    staff.screenshot(path=shots / "remote-invitation-locked.png", full_page=True)

    session_page = _invites(staff, portal, code, seen)
    link, right = _mailed(box, 2)
    home = _touch_tablet(browser)
    _opens(home, portal, link, seen, "second")
    again = home.context.new_page()
    again.goto(portal.url + link)  # the link works once
    expect(again.locator("#invitation-closed")).to_be_visible()
    seen["used link"] = accessibility_problems(again)
    again.close()
    _types(home, right)
    home.wait_for_url(re.compile(r"/remote/s/[^/]+/language$"))
    signer = home.url.rsplit("/", 1)[0]
    signer_reads_answers_and_signs(
        home, seen, "parent_1", "Lucía Ortega", _correct("parent_consent"), language="es"
    )
    expect(home.locator("#remote-done")).to_be_visible()
    seen["signed"] = accessibility_problems(home)
    home.screenshot(path=shots / "remote-consent-signed.png", full_page=True)
    home.goto(f"{portal.url}/remote/code")  # the code works once: nothing waits for one
    expect(home.locator("#invitation-closed")).to_be_visible()
    stranger = _touch_tablet(browser)
    assert stranger.goto(signer).status == 404  # the signer's page is bound to her browser

    _countersigns(browser, portal, box, session_page, seen)
    copy = _wait_for(box, MOTHER, lambda: box.to(MOTHER)[-1], 3)
    attached = [p for p in copy.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert len(attached) == 1
    assert attached[0].get_content().startswith(b"%PDF")
    assert {name: found for name, found in seen.items() if found} == {}


def _countersigns(browser: Browser, portal: Portal, box, session_page: str, seen) -> None:
    page = _touch_tablet(browser)
    email = "dr.navarro@hospital.test"
    secret = first_sign_in(
        page, portal, email, _account(portal, box, email, "investigator"), PASSWORD
    )
    page.goto(session_page)
    expect(page.locator("#consent-status")).to_have_attribute("data-status", "signed")
    expect(page.locator("#remote-invitation")).to_have_attribute("data-state", "code_used")
    seen["staff: signed remotely"] = accessibility_problems(page)
    page.goto(session_page + "/countersign")
    seen["staff: countersign"] = accessibility_problems(page)
    _touch_strokes(page)
    page.locator("#printed_name").fill("Dr Pablo Navarro")
    page.locator("#password").fill(PASSWORD)
    page.locator("#code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(session_page)
    expect(page.locator("#consent-status")).to_have_attribute("data-status", "active")
    seen["staff: sealed"] = accessibility_problems(page)
