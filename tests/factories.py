"""Factories returning ready objects (indico style): sensible defaults, override what matters."""

from __future__ import annotations

import dataclasses
import itertools
import re
from datetime import timedelta
from typing import Any

import pyotp
from flask.testing import FlaskClient

from edc import audit, crypto, passwords
from edc.access import Role
from edc.actor import Actor
from edc.extensions import db
from edc.models.base import utcnow
from edc.models.studies import Site, Study
from edc.models.users import RoleAssignment, User
from edc.web import app_context

_seq = itertools.count(1)
DEFAULT_PASSWORD = "correct horse battery staple"


def make_study(slug: str | None = None, title: str = "Test study") -> Study:
    study = Study(slug=slug or f"study-{next(_seq)}", title=title)
    db.session.add(study)
    audit.record(db.session, Actor.cli(), "study.created", target=study)
    db.session.commit()  # into the test's outer transaction, like a finished request
    return study


def make_site(code: str | None = None, study: Study | None = None, country: str = "FR") -> Site:
    study = study or make_study()
    site = Site(study=study, code=code or f"S{next(_seq):02d}", name="Test site", country=country)
    db.session.add(site)
    audit.record(db.session, Actor.cli(), "site.created", target=site)
    db.session.commit()
    return site


def make_user(
    email: str | None = None,
    *,
    password: str = DEFAULT_PASSWORD,
    roles: list[tuple[Role, Site | Study | None]] | None = None,
    enrolled: bool = True,
    must_change_password: bool = False,
    active: bool = True,
) -> User:
    """A user; `.password` and `.totp_plain` are kept on the object for the test to use."""
    secret = pyotp.random_base32()
    user = User(
        email=email or f"user{next(_seq)}@test.example",
        full_name="Test User",
        password_hash=passwords.hash_password(password),
        must_change_password=must_change_password,
        activation_expires_at=utcnow() + timedelta(hours=72) if must_change_password else None,
        totp_secret=crypto.encrypt(secret) if enrolled else None,
        is_active=active,
        identity_check="test fixture",
        created_at=utcnow(),
    )
    db.session.add(user)
    audit.record(db.session, Actor.cli(), "user.created", target=user)
    db.session.flush()
    for role, where in roles or []:
        assignment = RoleAssignment(
            user_id=user.id,
            role=role.value,
            site_id=where.id if isinstance(where, Site) else None,
            study_id=where.id if isinstance(where, Study) else None,
            granted_at=utcnow(),
            approved_at=utcnow(),  # tests start from approved roles; test_role_approval asks
        )
        db.session.add(assignment)
        audit.record(db.session, Actor.cli(), "role.granted", target=assignment)
    db.session.commit()
    user.password = password  # type: ignore[attr-defined]
    user.totp_plain = secret  # type: ignore[attr-defined]
    return user


def next_code(user: User) -> str:
    """A valid code the user has not used yet (the next time step if this one is spent)."""
    totp = pyotp.TOTP(user.totp_plain)  # type: ignore[attr-defined]
    now = utcnow()
    step = max(totp.timecode(now), db.session.get(User, user.id).totp_last_step + 1)
    return totp.generate_otp(step)


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    match = CSRF_RE.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({page.status_code})"
    return match.group(1)


def another_browser(client: FlaskClient) -> FlaskClient:
    """A second, independent browser talking to the same app (own cookies, same HTTPS setup)."""
    other = client.application.test_client()
    other.environ_base.update(client.environ_base)
    return other


def login(client: FlaskClient, user: User, code: str | None = None) -> Any:
    """Sign in through the real pages: password, then the TOTP code."""
    token = csrf(client, "/login")
    first = client.post(
        "/login", data={"email": user.email, "password": user.password, "csrf_token": token}
    )  # type: ignore[attr-defined]
    assert first.status_code == 302, first.get_data(as_text=True)
    assert first.headers["Location"].endswith("/login/code")
    token = csrf(client, "/login/code")
    response = client.post(
        "/login/code", data={"code": code or next_code(user), "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def make_subject(site: Site, **identity: Any):
    """A registered subject at `site`, registered by the command line (no user needed)."""
    import datetime as dt

    from edc.services import subjects

    details = {
        "family_name": "Durand",
        "given_names": "Léa",
        "date_of_birth": dt.date(2024, 5, 17),
        "sex": "female",
        "hospital_number": "12345678",
    }
    details.update(identity)
    registrar = make_user(roles=[(Role.NURSE, site)])
    subject = subjects.register(
        app_context(Actor(user=registrar)), site.id, subjects.Identity(**details), utcnow(),
        confirm_duplicate=True,  # tests often register the same default child several times
    )  # fmt: skip
    db.session.commit()
    return subject


def statements_for(client: FlaskClient, path: str) -> int:
    """How many SQL statements one GET of `path` runs (for the no-N+1 tests)."""
    from sqlalchemy import event

    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    db.session.commit()
    db.session.remove()  # measure a request as it comes: nothing cached from the test's own work

    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(path)
        assert response.status_code == 200, path
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def site_reader(site: Site, role: Role = Role.NURSE):
    """The context of a new user holding `role` at `site`: reads of its clinical data are
    scoped to the actor, so a test reads them as somebody who may. (Making the user commits
    into the test's transaction, like any factory.)"""
    return app_context(Actor(user=make_user(roles=[(role, site)])))


def portal_context(app, actor: Actor):
    """`app_context(actor)` with the portal's settings, outside a request (a service that
    mails or makes links needs them)."""
    return dataclasses.replace(app_context(actor), settings=app.config["EDC_SETTINGS"])
