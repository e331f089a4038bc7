"""A portal with the demo study, one site, a signed-in nurse and a subject, for the benchmarks."""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from app import create_app
from edc import audit, crypto, passwords
from edc.access import Role
from edc.actor import Actor
from edc.cli import _add_site
from edc.extensions import db
from edc.models.base import utcnow
from edc.models.subjects import Subject
from edc.models.users import User
from edc.services import role_approval, subjects, users
from edc.services.definitions import find_or_create_study, load_definition, read_folder
from edc.settings import ROOT, Settings
from edc.web import app_context
from tests.databases import fresh_database_url

DEMO = ROOT / "studies" / "siopen-nb"
PASSWORD = "a bench password that is long enough"


@dataclass
class Portal:
    app: Flask
    nurse: User
    subject: Subject
    totp_secret: str
    url: str


def demo_portal(url: str | None = None) -> Portal:
    """Build the portal in-process (call inside nothing; it pushes its own app context)."""
    tmp = Path(tempfile.mkdtemp())
    url = url or fresh_database_url(tmp, "bench")
    app = create_app(Settings.from_env(database_url=url, instance_path=tmp, testing=True))
    with app.app_context():
        upgrade()
        actor, now = Actor.cli(), utcnow()
        study, _created = find_or_create_study(app_context(actor), read_folder(DEMO))
        load_definition(app_context(actor), study, DEMO, now)
        site = _add_site(study, "FR-01", "Bench", "FR")
        db.session.flush()  # the site's id, for the nurse's role
        nurse, secret = bench_user("Bench Nurse", users.RoleScope(Role.NURSE, site.id))
        subject = subjects.register(
            app_context(Actor(user=nurse)), site.id,
            subjects.Identity("A", "B", dt.date(2024, 1, 1), "female"), now,
        )  # fmt: skip
        db.session.commit()
    return Portal(app, nurse, subject, secret, url)


def bench_user(
    full_name: str, scope: users.RoleScope, email: str = "bench@x.test"
) -> tuple[User, str]:
    """The bench's signed-in reader, made by the operator with its role approved: the user and
    its TOTP secret (inside an app context)."""
    actor, now = Actor.cli(), utcnow()
    user, _link = users.create_user(
        app_context(actor), email=email, full_name=full_name,
        identity_check="bench", ends_at=None, now=now,
    )  # fmt: skip
    secret = pyotp.random_base32()
    user.password_hash = passwords.hash_password(PASSWORD)
    user.must_change_password = False
    user.totp_secret = crypto.encrypt(secret)
    audit.record(db.session, actor, "user.prepared", target=user)
    db.session.flush()
    role = users.assign_role(app_context(actor), user, scope, now)
    role_approval.approve_as_operator(app_context(actor), role, "bench", now)
    return user, secret


def signed_in(portal: Portal) -> FlaskClient:
    """A test client signed in as the bench nurse (password, then TOTP)."""
    client = portal.app.test_client()
    client.environ_base.update({"wsgi.url_scheme": "https", "HTTP_REFERER": "https://localhost/"})
    token = _csrf(client, "/login")
    client.post("/login", data={"email": "bench@x.test", "password": PASSWORD, "csrf_token": token})
    token = _csrf(client, "/login/code")
    code = pyotp.TOTP(portal.totp_secret).now()
    response = client.post("/login/code", data={"code": code, "csrf_token": token})
    assert response.status_code == 302, response.status_code
    return client


def _csrf(client: FlaskClient, path: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get(path).text)
    assert match, path
    return match.group(1)
