"""Each test runs in its own rolled-back transaction: what one writes, the next never sees."""

from __future__ import annotations

from sqlalchemy import select

from edc.extensions import db
from edc.models.studies import Study

PROBE = "isolation-probe"


def test_1_writes_a_row(make_study):
    make_study(PROBE)
    assert db.session.scalar(select(Study).where(Study.slug == PROBE)) is not None


def test_2_the_row_is_gone():
    assert db.session.scalar(select(Study).where(Study.slug == PROBE)) is None


def test_3_committed_requests_are_rolled_back_too(client):
    from tests.factories import make_user

    make_user(email="probe@test.example")


def test_4_and_gone_again():
    from edc.models.users import User

    assert db.session.scalar(select(User).where(User.email == "probe@test.example")) is None
