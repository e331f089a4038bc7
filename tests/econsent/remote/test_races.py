"""The invitation's link and code are single-use, and wrong codes are counted exactly, under
requests that arrive at the same moment: the invitation's row lock makes them take turns.
Real parallel transactions (PostgreSQL in CI; SQLite makes them take turns anyway)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from econsent.library import use_folder
from econsent.models import ConsentInvitation
from econsent.services import invitations
from edc import audit
from edc.actor import Actor
from edc.context import Context
from edc.extensions import db
from edc.models.base import utcnow
from edc.models.studies import Site, Study
from edc.models.users import RoleAssignment, User
from edc.services import subjects
from tests.concurrency import at_once, remove_committed

PARENT = subjects.Guardian(name="Ana Race", relationship="mother", email="ana@race.test")


def _home(app: Flask, session: Session, slug: str) -> tuple[dict[str, int], str, str]:
    """A Spanish site, a nurse, a child whose mother is invited: ids, the link and the code
    (the mother has no second address: the code is the one staff read out)."""
    cli = Actor.cli()
    study = Study(slug=slug, title="Race")
    site = Site(study=study, code=f"ES-{slug[-2:]}", name="Race", country="ES")
    user = User(email=f"{slug}@test.example", full_name="Race", password_hash="x",
                identity_check="test", created_at=utcnow())  # fmt: skip
    for row, action in ((study, "study.created"), (site, "site.created"), (user, "user.created")):
        session.add(row)
        audit.record(session, cli, action, target=row)
    session.flush()
    grant = RoleAssignment(user_id=user.id, role="nurse", site_id=site.id, granted_at=utcnow(),
                           approved_at=utcnow())  # fmt: skip
    session.add(grant)
    audit.record(session, cli, "role.granted", target=grant)
    settings = replace(app.config["EDC_SETTINGS"], mail_backend="console")
    ctx = Context(session, Actor(user=user), settings=settings)
    child = subjects.Identity("Race", "Child", dt.date(utcnow().year - 2, 1, 1), "male",
                              guardians=(PARENT,))  # fmt: skip
    subject = subjects.register(ctx, site.id, child, utcnow())
    invited = invitations.invite(ctx, subject, invitations.Invite(0, "es"))
    outbox = session.info.get("edc_outbox", [])
    body = outbox[0].message.get_body(("plain",)).get_content()
    link = body.split("/remote/invitation/", 1)[1].split()[0]
    session.info.pop("edc_outbox", None)  # nothing to deliver
    session.commit()
    ids = {"study": study.id, "site": site.id, "user": user.id, "subject": subject.id,
           "session": invited.session.id, "invitation": invited.invitation.id}  # fmt: skip
    return ids, link, invited.printed_code


def _cleanup(ids: dict[str, int]) -> None:
    remove_committed(
        ids,
        "DELETE FROM consent_invitation WHERE id = :invitation",
        "DELETE FROM consent_session WHERE id = :session",
    )


def _in_own_transaction(app: Flask, work):
    """`work(ctx)` in its own session and transaction, committed; its result or its refusal."""

    def run() -> object:
        with app.test_request_context():
            session = Session(db.engine)
            settings = app.config["EDC_SETTINGS"]
            ctx = Context(session, Actor.anonymous("127.0.0.1", "race"), settings=settings)
            try:
                outcome = work(ctx)
                session.commit()
                return outcome
            except (invitations.InvitationClosed, invitations.WrongCode) as refused:
                session.rollback()
                return type(refused).__name__
            finally:
                session.close()

    return run


def _read(ids: dict[str, int]) -> ConsentInvitation:
    with Session(db.engine) as check:
        invitation = check.get(ConsentInvitation, ids["invitation"])
        assert invitation is not None
        check.expunge(invitation)
        return invitation


@pytest.fixture
def remote_home(app: Flask, remote_folder: Path):
    made: list[dict[str, int]] = []

    def make(slug: str) -> tuple[dict[str, int], str, str]:
        use_folder(slug, remote_folder)
        with app.test_request_context(), Session(db.engine) as setup:
            ids, link, code = _home(app, setup, slug)
        made.append(ids)
        return ids, link, code

    yield make
    for ids in made:
        _cleanup(ids)


@pytest.mark.commits
def test_the_link_opens_once_and_the_code_works_once_at_the_same_moment(app, remote_home):
    ids, link, code = remote_home("remote-race-01")
    opened = at_once(4, _in_own_transaction(app, lambda ctx: invitations.open_link(ctx, link)))
    assert sorted(map(str, opened)) == [str(ids["invitation"])] + ["InvitationClosed"] * 3
    tokens = at_once(
        4,
        _in_own_transaction(app, lambda ctx: invitations.check_code(ctx, ids["invitation"], code)),
    )
    won = [t for t in tokens if isinstance(t, str) and t != "InvitationClosed"]
    assert len(won) == 1, tokens
    assert tokens.count("InvitationClosed") == 3
    invitation = _read(ids)
    assert invitation.failed_codes == 0
    assert invitation.code_used_at is not None


@pytest.mark.commits
def test_wrong_codes_at_the_same_moment_are_counted_exactly_and_lock_at_three(app, remote_home):
    ids, link, code = remote_home("remote-race-02")
    _in_own_transaction(app, lambda ctx: invitations.open_link(ctx, link))()
    wrong = "0" * 8 if code != "0" * 8 else "1" * 8
    outcomes = at_once(
        6,
        _in_own_transaction(app, lambda ctx: invitations.check_code(ctx, ids["invitation"], wrong)),
    )
    assert sorted(map(str, outcomes)) == ["InvitationClosed"] * 4 + ["WrongCode"] * 2, (
        outcomes,
        _read(ids).failed_codes,
    )
    invitation = _read(ids)
    assert invitation.failed_codes == 3
    assert invitation.locked_at is not None
    late = _in_own_transaction(
        app, lambda ctx: invitations.check_code(ctx, ids["invitation"], code)
    )
    assert late() == "InvitationClosed"  # the right code after the lock opens nothing
