"""A real portal in its own process, and Chromium (Debian's) driven by Playwright on a tablet."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from edc.settings import ROOT
from tests.conftest import OUTPUT
from tests.databases import fresh_database

CHROMIUM = "/usr/bin/chromium"
TABLET = {"width": 768, "height": 1024}
#: axe-core, installed from the npm registry at setup (a development package, never served).
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@dataclass
class Portal:
    url: str
    env: dict[str, str]

    def flask(self, *args: str) -> str:
        """Run a `flask` command against the portal's database, as an operator would."""
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app:create_app", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr + done.stdout
        return done.stdout

    def flask_steps(self, *commands: Sequence[str]) -> list[str]:
        """Several `flask` commands run one after the other, each on an app of its own, in one
        Python process; what each printed. Setup of many steps: a new interpreter takes
        seconds of CPU to load the portal's code, which need not be paid for each step."""
        done = subprocess.run(
            [sys.executable, "-c", _STEPS, json.dumps(commands)],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120 * len(commands),
        )
        assert done.returncode == 0, done.stderr + done.stdout
        return list(json.loads(done.stdout))


#: Runs the `flask` commands given as JSON (argv[1]) as `flask --app app:create_app ...` would,
#: stops at the first that fails (its output on stderr), prints what each printed as JSON.
_STEPS = r"""
import json, sys
from click.testing import CliRunner
from flask.cli import cli
printed = []
for args in json.loads(sys.argv[1]):
    result = CliRunner().invoke(cli, ["--app", "app:create_app", *args], prog_name="flask")
    if result.exit_code != 0:
        sys.exit(f"flask {' '.join(args)}: exit {result.exit_code}\n{result.output}"
                 f"{result.exception!r}")
    printed.append(result.stdout)
print(json.dumps(printed))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    tmp = tmp_path_factory.mktemp("portal")
    database = fresh_database(tmp, "browser")  # on PostgreSQL: migrated by its owner, served by
    env = {  # the application's role, as in production
        **os.environ,
        "DATABASE_URL": database.url,
        "DATABASE_OWNER_URL": database.owner_url,
        "EDC_INSTANCE_PATH": str(tmp / "instance"),
        "EDC_TRUSTED_HOSTS": "localhost",  # as in production: the Host check is on
        "EDC_DEV": "1",  # but links point at plain http://localhost
        "PYTHONUNBUFFERED": "1",
    }
    port = _free_port()
    env["EDC_BASE_URL"] = f"http://localhost:{port}"  # links the operator is given point here
    portal = Portal(f"http://localhost:{port}", env)
    portal.flask_steps(
        ("db", "upgrade"),
        ("studies", "load", str(ROOT / "studies" / "siopen-nb")),
        ("sites", "add", "siopen-nb", "FR-01", "Centre de Paris", "FR"),
    )
    argv = [sys.executable, "-m", "flask", "--app", "app:create_app", "run", "--port", str(port),
            "--host", "127.0.0.1", "--no-reload"]  # fmt: skip
    with serving(portal, tmp, argv):
        yield portal


@contextlib.contextmanager
def serving(portal: Portal, tmp: Path, argv: list[str]) -> Iterator[None]:
    """The portal's server started with `argv`, once it answers; stopped at the end."""
    log = open(tmp / "server.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        argv, env=portal.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{portal.url}/login", timeout=2)  # noqa: S310 - loopback
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError((tmp / "server.log").read_text()) from None
                time.sleep(0.2)
        yield
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def tablet(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=TABLET, locale="en-GB", device_scale_factor=1)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def shots() -> Path:
    folder = OUTPUT / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def staff_account(portal: Portal, email: str, role: str = "nurse", site: str = "FR-01") -> str:
    """A new account made (and its role approved) by the operator, with no mail here: returns
    its invitation link."""
    out, _approved = portal.flask_steps(
        ("users", "create", "--email", email, "--name", "Claire Martin",
         "--identity-check", "ID card seen by the PI", "--role", role, "--site", site),
        ("users", "approve", email, role, "--site", site, "--reason", "test site setup"),
    )  # fmt: skip
    return out.strip().rsplit(" ", 1)[-1]


def first_sign_in(page: Page, portal: Portal, email: str, link: str, password: str) -> str:
    """Invitation link → own password → TOTP enrolment → recovery codes; returns the seed."""
    import re

    import pyotp

    assert link.startswith(portal.url), link
    page.goto(link)
    page.locator("#password").fill(password)
    page.locator("#confirm").fill(password)
    page.locator("main button[type=submit]").click()
    page.wait_for_url(re.compile(r"/login/enrol$"))
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.locator("#code").fill(pyotp.TOTP(secret).now())
    page.locator("main button[type=submit]").click()
    page.wait_for_selector("#recovery-codes")
    return secret


def accessibility_problems(page: Page) -> list[str]:
    """axe-core's WCAG 2.1 AA violations on the page as it is shown now, one line each: the
    rule, its impact, what it asks and where (empty when the page passes)."""
    import json

    assert AXE.exists(), f"{AXE} is missing: run scripts/setup (it installs the npm packages)"
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))  # evaluated by the browser tool: no CSP
    options = json.dumps({"runOnly": {"type": "tag", "values": WCAG_21_AA}})
    result = page.evaluate(f"axe.run(document, {options})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(node["target"]) for node in v["nodes"][:4])
        for v in result["violations"]
    ]
