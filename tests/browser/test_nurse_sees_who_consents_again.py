"""On a tablet: a 17-year-old whose parents consented on paper turns 18 in three weeks; the
nurse looks at the children reaching majority, then at the subjects to consent again and her
to-do list, where the adult consent now waits. axe checks each page (and the wrong-number
state)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from edc.settings import ROOT
from tests.browser.conftest import accessibility_problems, first_sign_in, staff_account
from tests.browser.test_nurse_enters_diagnosis import nurse_registers_subject

pytestmark = pytest.mark.browser
PASSWORD = "children grow up and consent again"
PAPER_CONSENT = """
import datetime as dt, sys
from app import create_app
from edc.actor import Actor
from edc.extensions import db
from edc.models.users import User
from edc.services import consent_scope, subjects
from edc.web import app_context
app = create_app()
with app.app_context():
    ctx = app_context(Actor(user=db.session.query(User).filter_by(email=sys.argv[2]).one()))
    subject = subjects.find(ctx, sys.argv[1])
    consent_scope.put_in_force(ctx, subject, consent_scope.Granted(
        reference="paper:" + subject.study_code, document="parent_consent",
        title="Consent of the parents", version="1", language="fr", options={},
        since=dt.datetime.now(dt.UTC)))
    db.session.commit()
"""


def test_a_nurse_sees_a_child_reaching_majority_and_the_adult_consent_waiting(portal, tablet):
    page = tablet
    seen: dict[str, list[str]] = {}
    email = "amandine@hospital.test"
    first_sign_in(page, portal, email, staff_account(portal, email), PASSWORD)
    birthday = dt.date.today() + dt.timedelta(days=21)
    born = dt.date(birthday.year - 18, birthday.month, min(birthday.day, 28))
    code = nurse_registers_subject(page, portal, ("Roux", "Maël", born.isoformat(), "male"))
    subprocess.run(
        [sys.executable, "-c", PAPER_CONSENT, code, email],
        env=portal.env, cwd=ROOT, check=True, capture_output=True, timeout=120,
    )  # fmt: skip

    page.goto(f"{portal.url}/consent/majority?days=30")
    expect(page.locator("main table")).to_contain_text(code)
    seen["children reaching majority"] = accessibility_problems(page)
    page.locator("#days").fill("1000")
    page.locator("main form button[type=submit]").click()
    expect(page.locator("#days-error")).to_be_visible()
    seen["a wrong number of days"] = accessibility_problems(page)
    page.goto(f"{portal.url}/consent/reconsent")
    expect(page.locator("main table")).to_contain_text("Age of majority: consent as an adult")
    seen["subjects to consent again"] = accessibility_problems(page)
    page.goto(f"{portal.url}/")
    expect(page.locator(".todo-reconsent")).to_contain_text(code)
    seen["to-do list"] = accessibility_problems(page)
    assert {name: found for name, found in seen.items() if found} == {}
