"""The data manager and the registry push, on a tablet, with the demo study and the reference
registry running as a real process: they lock a site; its locked forms wait on the Registry
page; the registry is down when the push runs, so they are parked with the error shown; the data
manager sends one ticked item again, then every other parked one with one button; the worker
(`flask registry worker`, a real process) tries and fails while the registry is down, notices
its return without waiting out its retry delay, and every locked form arrives once. axe checks
each page."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, expect

from edc.settings import ROOT
from tests.browser.conftest import TABLET, Portal, _free_port, accessibility_problems, serving
from tests.databases import fresh_database
from tests.registry_process import RegistryProcess

pytestmark = pytest.mark.browser
TOKEN = "registry-token-of-the-browser-test"
DATA_MANAGER = "jonas.weber@demo.siopen.test"
SITE = "FR-01"


@dataclass
class Demo:
    portal: Portal
    logins: str  # what `flask demo seed` printed


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryProcess]:
    with RegistryProcess(tmp_path_factory.mktemp("registry"), TOKEN) as running:
        yield running


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, registry: RegistryProcess) -> Iterator[Demo]:
    """The demo portal as `scripts/demo` sets it up, pushing to the registry (one try only for
    `flask registry push`, so that a failure parks at once)."""
    tmp = tmp_path_factory.mktemp("demo-portal")
    database = fresh_database(tmp, "registrypush")
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database.url,
        "DATABASE_OWNER_URL": database.owner_url,
        "EDC_INSTANCE_PATH": str(tmp / "instance"),
        "EDC_TRUSTED_HOSTS": "localhost",
        "EDC_DEV": "1",
        "PYTHONUNBUFFERED": "1",
        "EDC_BASE_URL": f"http://localhost:{port}",
        "EDC_REGISTRY_URL": registry.url,
        "EDC_REGISTRY_TOKEN": TOKEN,
        "EDC_REGISTRY_MAX_ATTEMPTS": "1",
        "EDC_LINKAGE_SECRET": "linkage secret of the browser test network",
    }
    portal = Portal(f"http://localhost:{port}", env)
    _upgraded, logins = portal.flask_steps(["db", "upgrade"], ["demo", "seed"])
    argv = [sys.executable, "-m", "flask", "--app", "app:create_app", "run", "--port", str(port),
            "--host", "127.0.0.1", "--no-reload"]  # fmt: skip
    with serving(portal, tmp, argv):
        yield Demo(portal, logins)


def push(portal: Portal) -> subprocess.CompletedProcess[str]:
    """`flask registry push` as the operator's timer runs it (exit 1 when something failed)."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app:create_app", "registry", "push"],
        env=portal.env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def data_manager_signs_in(browser: Browser, demo: Demo) -> Page:
    password = re.search(rf"{re.escape(DATA_MANAGER)}\s+(\S+)", demo.logins)
    assert password is not None, demo.logins
    context = browser.new_context(viewport=TABLET, locale="en-GB", device_scale_factor=1)
    page = context.new_page()
    page.goto(f"{demo.portal.url}/login")
    page.locator("#email").fill(DATA_MANAGER)
    page.locator("#password").fill(password.group(1))
    page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(r"/login/code$"))
    page.locator("#code").fill(demo.portal.flask("demo", "totp", DATA_MANAGER).strip())
    page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(r"/$"))
    return page


def counts(page: Page) -> dict[str, int]:
    states = ("pending", "sent", "parked", "withheld", "cancelled")
    return {s: int(page.locator(f"#count-{s}").inner_text()) for s in states}


def checked(page: Page, shots, name: str) -> None:
    assert accessibility_problems(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]
    page.screenshot(path=shots / name, full_page=True)


def test_parked_items_are_sent_again_and_every_locked_form_arrives_once(
    demo, registry, browser, shots
):
    page = data_manager_signs_in(browser, demo)
    page.get_by_role("link", name="Locks").click()
    page.get_by_role("button", name=f"Lock site {SITE}").click()
    expect(page.locator(".flash, [role=status]").first).to_contain_text("Locked")

    page.get_by_role("link", name="Registry").click()
    page.wait_for_url(re.compile(r"/registry$"))
    waiting = counts(page)["pending"]
    assert waiting > 1  # the site's complete forms of consenting children
    assert counts(page) == {"pending": waiting, "sent": 0, "parked": 0, "withheld": 0,
                            "cancelled": 0}  # fmt: skip
    checked(page, shots, "70-registry-waiting.png")

    registry.stop()
    failed = push(demo.portal)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert f"{waiting} parked" in failed.stdout
    page.reload()
    assert counts(page)["parked"] == waiting
    rows = page.locator("tr[id^=outbox-]")
    expect(rows).to_have_count(waiting)
    expect(rows.first).to_contain_text("unreachable")
    expect(rows.first).to_contain_text(SITE.replace("-", ""))  # the subject's study code
    checked(page, shots, "71-registry-parked.png")

    rows.first.get_by_role("checkbox").check()
    page.get_by_role("button", name="Send the ticked items again").click()
    expect(page.get_by_text("1 item will be sent again now.")).to_be_visible()
    assert (counts(page)["pending"], counts(page)["parked"]) == (1, waiting - 1)

    page.get_by_role("button", name=f"Send all {waiting - 1} parked items again").click()
    expect(page.get_by_text(f"{waiting - 1} items will be sent again now.")).to_be_visible()
    assert (counts(page)["pending"], counts(page)["parked"]) == (waiting, 0)
    expect(page.get_by_text("Nothing needs a look.")).to_be_visible()

    with running_worker(demo.portal) as worker:  # the registry is still down
        page_shows(page, lambda: page.locator("tr[id^=outbox-]").count() == min(waiting, 100))
        expect(page.locator("tr[id^=outbox-]").first).to_contain_text("Next try")
        expect(page.get_by_role("button", name="Send the ticked items again")).to_have_count(0)
        assert counts(page)["pending"] == waiting
        checked(page, shots, "72-registry-retrying.png")
        registry.start()
        back = time.monotonic()
        page_shows(page, lambda: counts(page)["sent"] == waiting)
        # The next try was 10 minutes away: the worker's idle probe saw the registry return.
        assert time.monotonic() - back < 30
    assert worker.returncode == 0
    assert counts(page) == {"pending": 0, "sent": waiting, "parked": 0, "withheld": 0,
                            "cancelled": 0}  # fmt: skip
    expect(page.get_by_text("Nothing needs a look.")).to_be_visible()
    checked(page, shots, "73-registry-sent.png")
    assert registry_count(registry, "QuestionnaireResponse") == waiting  # each form once
    page.context.close()


@contextlib.contextmanager
def running_worker(portal: Portal) -> Iterator[subprocess.Popen[str]]:
    """`flask registry worker` as a service runs it: waits of 10 minutes after a failure, an
    idle pass every half second; stopped with SIGTERM (it finishes its pass and exits 0)."""
    env = {**portal.env, "EDC_REGISTRY_MAX_ATTEMPTS": "8", "EDC_REGISTRY_RETRY_SECONDS": "600"}
    command = [sys.executable, "-m", "flask", "--app", "app:create_app", "registry", "worker",
               "--interval", "0.5"]  # fmt: skip
    process = subprocess.Popen(command, env=env, cwd=ROOT, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
        assert "registry worker stopped" in output, output


def page_shows(page: Page, condition: Callable[[], bool], seconds: float = 60) -> None:
    """Reload the page (as the data manager would) until `condition` holds."""
    deadline = time.monotonic() + seconds
    while True:
        page.reload()
        if condition():
            return
        assert time.monotonic() < deadline, "the page never showed it"
        time.sleep(0.5)


def registry_count(registry: RegistryProcess, kind: str) -> int:
    """How many resources of `kind` the registry holds (read with its search API)."""
    request = urllib.request.Request(  # noqa: S310 (loopback)
        f"{registry.url}/{kind}?_count=1000", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (loopback)
        return len(json.loads(answer.read()).get("entry", []))
