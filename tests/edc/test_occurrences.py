"""Occurrences of repeating events: added on confirmation with their visit date, removed while
empty (audited), and their numbers kept for life."""

from __future__ import annotations

import datetime as dt
import textwrap
import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from edc import audit
from edc.access import Role
from edc.actor import Actor
from edc.context import Context
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.models.crf import EventOccurrence
from edc.models.subjects import Subject
from edc.services import casebook
from edc.services.definitions import load_definition
from edc.web import app_context
from tests.edc.conftest import FORM, STUDY
from tests.factories import (
    another_browser,
    csrf,
    login,
    make_site,
    make_study,
    make_subject,
    make_user,
    statements_for,
)
from tests.html_forms import submitted

EVENTS = """\
  - id: response
    label: Response
    repeating: true
    visit_date: true
    forms: [visit]
  - id: biopsy
    label: Biopsy
    repeating: true
    forms: [visit]
"""


class Visits:
    """A subject of a study with repeating events, the site's nurse, and their pages."""

    def __init__(self, tmp_path, slug: str = "visits", site_code: str = "FR-30") -> None:
        study = make_study(slug)
        folder = tmp_path / slug
        (folder / "forms").mkdir(parents=True)
        (folder / "study.yaml").write_text(STUDY.format(slug=study.slug) + EVENTS)
        (folder / "forms" / "visit.yaml").write_text(textwrap.dedent(FORM))
        load_definition(app_context(Actor.cli()), study, folder, utcnow())
        db.session.commit()
        self.site = make_site(site_code, study)
        self.subject = make_subject(self.site, date_of_birth=dt.date(2025, 1, 10))
        self.code = self.subject.study_code
        self.nurse = make_user(roles=[(Role.NURSE, self.site)])

    @property
    def page(self) -> str:
        return f"/subjects/{self.code}"

    def new(self, event: str = "response") -> str:
        return f"/subjects/{self.code}/events/{event}/occurrences/new"

    def remove(self, number: int, event: str = "response") -> str:
        return f"/subjects/{self.code}/events/{event}/{number}/remove"

    def form(self, number: int, event: str = "response") -> str:
        return f"/subjects/{self.code}/crf/{event}/{number}/visit"

    def today(self) -> dt.date:
        return db.session.get(Subject, self.subject.id).site.local_time(utcnow()).date()

    def add(self, client, visit_date: str | None = None, event: str = "response"):
        """Open the confirmation page and confirm what it offers, as a browser would."""
        page = client.get(self.new(event)).get_data(as_text=True)
        data = {k: v[0] for k, v in submitted(page).items() if k in ("csrf_token", "number")}
        if visit_date is not None:
            data["visit_date"] = visit_date
        return client.post(self.new(event), data=data)

    def occurrences(self, event: str = "response") -> dict[int, EventOccurrence]:
        rows = db.session.scalars(
            select(EventOccurrence).where(
                EventOccurrence.subject_id == self.subject.id, EventOccurrence.event_id == event
            )
        )
        return {o.number: o for o in rows}


@pytest.fixture
def visits(tmp_path) -> Visits:
    return Visits(tmp_path)


def _text(response) -> str:
    return " ".join(response.get_data(as_text=True).split())


def test_add_another_asks_for_confirmation_and_the_visit_date(client, visits):
    since = db.session.scalar(select(func.max(AuditEvent.seq))) or 0  # race tests leave events
    login(client, visits.nurse)
    page = client.get(visits.page).get_data(as_text=True)
    assert f'href="{visits.new()}"' in page  # a link to a confirmation, not a one-tap form
    confirm = client.get(visits.new())
    assert confirm.status_code == 200
    body = _text(confirm)
    assert "Add Response #2?" in body
    assert 'name="visit_date"' in body
    assert "required" in body
    assert 'placeholder="dd/mm/yyyy"' in body  # typed in the portal's format, not the device's
    assert visits.occurrences() == {}  # looking creates nothing

    missing = visits.add(client)
    assert missing.status_code == 422
    assert "Enter the visit date." in missing.get_data(as_text=True)
    tomorrow = (visits.today() + dt.timedelta(days=1)).isoformat()
    future = visits.add(client, tomorrow)
    assert future.status_code == 422
    assert "The visit date cannot be in the future." in future.get_data(as_text=True)
    assert submitted(future.get_data(as_text=True))["visit_date"] == [tomorrow]  # input kept
    assert visits.add(client, "2026-13-45").status_code == 422
    assert visits.occurrences() == {}

    added = visits.add(client, "2026-02-03")
    assert added.status_code == 302
    assert added.headers["Location"].endswith(visits.page)
    page = _text(client.get(visits.page))
    assert "Response #2" in page
    assert "Response #3" not in page
    assert '<time datetime="2026-02-03">03/02/2026</time>' in page
    assert "Response #2 added." in page
    (event,) = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "event.opened", AuditEvent.seq > since)
    )
    assert event.new_value["visit_date"] == "2026-02-03"
    assert (event.role, event.site_code) == ("nurse", "FR-30")


def test_an_event_without_a_visit_date_is_added_on_confirmation_alone(client, visits):
    login(client, visits.nurse)
    body = _text(client.get(visits.new("biopsy")))
    assert "Add Biopsy #2?" in body
    assert 'name="visit_date"' not in body
    assert visits.add(client, "2026-02-03", event="biopsy").status_code == 302
    assert visits.occurrences("biopsy")[2].visit_date is None  # not asked, not stored
    not_repeating = client.get(f"/subjects/{visits.code}/events/baseline/occurrences/new")
    assert not_repeating.status_code == 404
    assert client.get(f"/subjects/{visits.code}/events/nope/occurrences/new").status_code == 404


def test_not_in_the_future_means_by_the_sites_own_date(visits):
    half_past_midnight_in_paris = dt.datetime(2026, 11, 27, 23, 30, tzinfo=dt.UTC)
    nurse, subject = Actor(user=visits.nurse), db.session.get(Subject, visits.subject.id)

    def add() -> int:
        return casebook.add_occurrence(
            Context(db.session(), nurse), subject, "response", half_past_midnight_in_paris,
            visit_date=dt.date(2026, 11, 28),
        )  # fmt: skip

    assert subject.site.timezone == "UTC"
    with pytest.raises(casebook.OccurrenceError):
        add()  # still the 27th on UTC
    subject.site.timezone = "Europe/Paris"
    audit.record(db.session, Actor.cli(), "site.timezone", target=subject.site)
    db.session.flush()
    assert add() == 2  # already the 28th in Paris


def test_a_second_tap_adds_nothing_more(client, visits):
    login(client, visits.nurse)
    page = client.get(visits.new()).get_data(as_text=True)
    data = {k: v[0] for k, v in submitted(page).items() if k in ("csrf_token", "number")}
    data["visit_date"] = "2026-02-03"
    assert client.post(visits.new(), data=data).status_code == 302
    again = client.post(visits.new(), data=data)  # the same confirmation, posted twice
    assert again.status_code == 409
    body = _text(again)
    assert "#2 was added meanwhile" in body
    assert "Add Response #3?" in body  # now offering the next one, the date kept
    assert submitted(again.get_data(as_text=True))["visit_date"] == ["2026-02-03"]
    assert sorted(visits.occurrences()) == [2]
    for junk in ("²", "3" * 40, "-1", ""):  # never an error page, never a visit
        data["number"] = junk
        assert client.post(visits.new(), data=data).status_code == 409
    assert sorted(visits.occurrences()) == [2]


def test_an_empty_occurrence_is_removed_with_a_reason_and_its_number_never_returns(client, visits):
    login(client, visits.nurse)
    for day in ("2026-02-03", "2026-03-03"):
        assert visits.add(client, day).status_code == 302
    page = _text(client.get(visits.page))
    assert page.count("<summary>Remove</summary>") == 2  # on #2 and #3, never on #1
    assert client.get(visits.remove(1)).status_code == 404

    token = csrf(client, visits.page)
    blank = client.post(visits.remove(2), data={"csrf_token": token, "reason": "  "})
    assert blank.status_code == 422
    assert visits.occurrences()[2].removed_at is None

    removed = client.post(visits.remove(2), data={"csrf_token": token, "reason": "Added twice"})
    assert removed.status_code == 302
    page = _text(client.get(visits.page))
    assert "Response #2" not in page.replace("Response #2 removed.", "")
    assert "Response #1" in page
    assert "Response #3" in page  # the others untouched, in order
    assert page.index("Response #1") < page.index("Response #3")
    assert client.get(visits.form(2)).status_code == 404
    save = client.post(visits.form(2), data={"csrf_token": token, "weight": "5", "row_version": 0})
    assert save.status_code == 404
    assert client.post(visits.remove(2), data={"csrf_token": token, "reason": "x"}).status_code == (
        404
    )

    kept = visits.occurrences()[2]  # marked, not deleted: the number stays taken
    assert kept.removed_at is not None
    assert kept.removal_reason == "Added twice"
    assert kept.removed_by_id == visits.nurse.id
    (event,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "event.removed"))
    assert (event.reason, event.role, event.site_code) == ("Added twice", "nurse", "FR-30")
    assert event.old_value["number"] == 2
    assert event.old_value["visit_date"] == "2026-02-03"
    assert event.entity_id == str(kept.id)

    assert "Add Response #4?" in _text(client.get(visits.new()))
    assert visits.add(client, "2026-04-01").status_code == 302
    assert sorted(visits.occurrences()) == [2, 3, 4]


def test_an_occurrence_holding_data_stays(client, visits):
    login(client, visits.nurse)
    assert visits.add(client, "2026-02-03").status_code == 302
    token = csrf(client, visits.form(2))
    draft = client.post(visits.form(2), data={"csrf_token": token, "weight": "5", "row_version": 0})
    assert draft.status_code == 302
    assert "<summary>Remove</summary>" not in _text(client.get(visits.page))
    page = _text(client.get(visits.remove(2)))
    assert "cannot be removed" in page
    assert 'name="reason"' not in page
    refused = client.post(visits.remove(2), data={"csrf_token": token, "reason": "Mistake"})
    assert refused.status_code == 409
    assert "cannot be removed" in refused.get_data(as_text=True)
    assert visits.occurrences()[2].removed_at is None
    assert client.get(visits.form(2)).status_code == 200


def test_forms_of_an_occurrence_never_added_answer_404(client, visits):
    login(client, visits.nurse)
    token = csrf(client, visits.page)
    assert client.get(visits.form(7)).status_code == 404
    save = client.post(visits.form(7), data={"csrf_token": token, "weight": "5", "row_version": 0})
    assert save.status_code == 404
    assert visits.occurrences() == {}  # a typed address opens no visit
    assert client.get(visits.form(1)).status_code == 200  # the first opens with its first save


def test_other_sites_and_readers_get_404_and_change_nothing(client, visits):
    login(client, visits.nurse)
    assert visits.add(client, "2026-02-03").status_code == 302
    study = db.session.get(Subject, visits.subject.id).site.study
    others = [
        make_user(roles=[(Role.NURSE, make_site("IT-30", study))]),
        make_user(roles=[(Role.MONITOR, visits.site)]),
        make_user(roles=[(Role.DATA_MANAGER, study)]),
    ]
    for user in others:
        browser = another_browser(client)
        login(browser, user)
        token = csrf(browser, "/account")
        for path in (visits.new(), visits.remove(2)):
            assert browser.get(path).status_code == 404, (user.email, path)
            posted = {"csrf_token": token, "number": "3", "visit_date": "2026-02-04", "reason": "x"}
            assert browser.post(path, data=posted).status_code == 404, (user.email, path)
    assert sorted(visits.occurrences()) == [2]
    assert visits.occurrences()[2].removed_at is None


def test_the_subject_page_reads_visits_in_a_fixed_number_of_statements(client, visits):
    login(client, visits.nurse)
    assert visits.add(client, "2026-02-01").status_code == 302
    few = statements_for(client, visits.page)
    for day in range(2, 8):
        assert visits.add(client, f"2026-02-{day:02d}").status_code == 302
        assert visits.add(client, event="biopsy").status_code == 302
    token = csrf(client, visits.page)
    for number in (3, 5):
        removal = {"csrf_token": token, "reason": "Mistake"}
        assert client.post(visits.remove(number), data=removal).status_code == 302
    assert statements_for(client, visits.page) == few
    shown = db.session.scalar(
        select(func.count())
        .select_from(EventOccurrence)
        .where(
            EventOccurrence.subject_id == visits.subject.id, EventOccurrence.removed_at.is_(None)
        )
    )
    assert shown == 11


def _own_database(app, tmp_path, born: dt.date = dt.date(2024, 1, 1)):
    """A subject with a repeating event in a database of this test's own: its rows are
    committed for real (the threads must see them) and never reach the suite's database."""
    from alembic import command
    from alembic.config import Config

    from edc.extensions import make_engine
    from edc.models.studies import Site, Study
    from edc.models.users import RoleAssignment, User
    from edc.services import subjects
    from edc.settings import ROOT
    from tests.databases import fresh_database_url

    engine = make_engine(fresh_database_url(tmp_path, "occurrences"))
    with engine.begin() as conn:
        config = Config(str(ROOT / "migrations" / "alembic.ini"))
        config.set_main_option("script_location", str(ROOT / "migrations"))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    folder = tmp_path / "concurrent"
    (folder / "forms").mkdir(parents=True)
    (folder / "study.yaml").write_text(STUDY.format(slug="concurrent") + EVENTS)
    (folder / "forms" / "visit.yaml").write_text(textwrap.dedent(FORM))
    cli = Actor.cli()
    with app.test_request_context(), Session(engine) as setup:
        study = Study(slug="concurrent", title="C")
        site = Site(study=study, code="CC-30", name="C", country="FR")
        nurse = User(email="n@test.example", full_name="N", password_hash="-", created_at=utcnow())
        setup.add_all([study, site, nurse])
        for target in (study, site, nurse):
            audit.record(setup, cli, "test.setup", target=target)
        setup.flush()
        grant = RoleAssignment(
            user_id=nurse.id,
            role=Role.NURSE.value,
            site_id=site.id,
            granted_at=utcnow(),
            approved_at=utcnow(),
        )
        setup.add(grant)
        audit.record(setup, cli, "test.setup", target=grant)
        load_definition(Context(setup, cli), study, folder, utcnow())
        identity = subjects.Identity("A", "B", born, "female")
        subject = subjects.register(Context(setup, Actor(user=nurse)), site.id, identity, utcnow())
        setup.commit()
        return engine, subject.id, nurse.id


@pytest.mark.commits
def test_simultaneous_confirmations_add_one_visit(app, tmp_path):
    """Several people confirm "#2" at once (PostgreSQL runs them in parallel): one visit is
    added, the others are told it was added meanwhile; no error, no number given twice."""
    from edc.models.users import User

    engine, subject_id, nurse_id = _own_database(app, tmp_path)
    outcomes: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4, timeout=30)

    def confirm() -> None:
        try:
            barrier.wait()  # before any statement: SQLite's BEGIN IMMEDIATE makes them queue
            with app.test_request_context(), Session(engine) as session:
                subject = session.get(Subject, subject_id)
                nurse = Actor(user=session.get(User, nurse_id))
                try:
                    casebook.add_occurrence(
                        Context(session, nurse), subject, "response", utcnow(),
                        number=2, visit_date=dt.date(2026, 2, 3),
                    )  # fmt: skip
                except casebook.OccurrenceConflict:
                    outcomes.append("told")
                    session.rollback()
                else:
                    session.commit()
                    outcomes.append("added")
        except BaseException as exc:  # reported below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=confirm) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sorted(outcomes) == ["added", "told", "told", "told"]
        with Session(engine) as check:
            numbers = check.scalars(
                select(EventOccurrence.number).where(EventOccurrence.subject_id == subject_id)
            ).all()
        assert numbers == [2]
    finally:
        engine.dispose()


def _date_page(visits, number: int, event: str = "response") -> str:
    return f"/subjects/{visits.code}/events/{event}/{number}/date"


def _set_date(client, visits, number, visit_date, reason=None, event="response"):
    page = client.get(_date_page(visits, number, event))
    assert page.status_code == 200
    data = {k: v[0] for k, v in submitted(page.get_data(as_text=True)).items()}
    data["visit_date"] = visit_date
    if reason is not None:
        data["reason"] = reason
    return client.post(_date_page(visits, number, event), data=data)


def test_the_first_visit_gets_its_date_and_a_date_changes_only_with_a_reason(client, visits):
    login(client, visits.nurse)
    page = client.get(visits.page).get_data(as_text=True)
    assert "Set the visit date" in page  # the first visit opens with no date
    assert _set_date(client, visits, 1, "2026-01-12").status_code == 302
    first = visits.occurrences()[1]  # opened now, with its date, before any form was saved
    assert first.visit_date == dt.date(2026, 1, 12)
    refused = _set_date(client, visits, 1, "2026-01-14")
    assert refused.status_code == 422
    kept = submitted(refused.get_data(as_text=True))
    assert kept["visit_date"] == ["2026-01-14"]  # what was typed stays
    assert "Give a reason for changing the visit date." in refused.get_data(as_text=True)
    future = (visits.today() + dt.timedelta(days=1)).isoformat()
    assert _set_date(client, visits, 1, future, reason="typo").status_code == 422
    assert _set_date(client, visits, 1, "2026-01-14", reason="clinic letter").status_code == 302
    dated = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "event.dated").order_by(AuditEvent.seq)
    ).all()
    assert [(e.old_value, e.new_value["visit_date"], e.reason) for e in dated] == [
        ({"visit_date": None}, "2026-01-12", ""),
        ({"visit_date": "2026-01-12"}, "2026-01-14", "clinic letter"),
    ]
    assert {(e.role, e.site_code) for e in dated} == {("nurse", visits.site.code)}


def test_only_dated_events_and_live_visits_have_a_date_page(client, visits):
    login(client, visits.nurse)
    assert client.get(_date_page(visits, 1, "biopsy")).status_code == 404  # no visit date
    assert client.get(_date_page(visits, 2)).status_code == 404  # never added
    monitor = make_user(roles=[(Role.MONITOR, visits.site)])
    other = another_browser(client)
    login(other, monitor)
    assert other.get(_date_page(visits, 1)).status_code == 404  # readers do not date visits
