"""The home page's to-do list: visits due and overdue by the study's schedule, forms in
progress, refused saves; only the sites the user may see, in a handful of queries."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from edc.access import Role
from edc.actor import Actor
from edc.context import Context
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.models.subjects import Subject
from edc.services import casebook, data_entry, entries, subject_status, todo
from edc.services.data_entry import Outcome
from tests.edc.conftest import stored_study
from tests.factories import csrf, login, make_site, make_subject, make_user, statements_for

STUDY = """\
study: {slug}
title: Test study
languages: [en]
context:
  date_of_birth: date
events:
  - id: baseline
    label: Baseline
    forms: [visit]
    schedule: {{after: registration, days: 0, window: {{after: 14}}}}
  - id: follow_up
    label: Follow-up
    repeating: true
    visit_date: true
    forms: [fu]
    schedule:
      after: visit.visit_date
      days: 90
      every: 90
      times: 3
      window: {{before: 7, after: 14}}
"""
VISIT = """\
form: visit
version: 1
title: Baseline visit
sections:
  - id: main
    title: Main
    fields:
      - id: visit_date
        type: date
        label: Visit date
        required: true
      - id: weight
        type: integer
        label: Weight
"""
FU = """\
form: fu
version: 1
title: Follow-up visit
sections:
  - id: main
    title: Main
    fields:
      - id: weight
        type: integer
        label: Weight
"""


class Study:
    """A scheduled study with two sites (A, B), a nurse of each, and a way to run the list."""

    def __init__(self, tmp_path, slug: str = "todo") -> None:
        self.study = stored_study(tmp_path, slug, STUDY, {"visit": VISIT, "fu": FU})
        self.a = make_site("FR-A1", self.study)
        self.b = make_site("DE-B1", self.study)
        self.nurse_a = make_user(roles=[(Role.NURSE, self.a)])
        self.nurse_b = make_user(roles=[(Role.NURSE, self.b)])

    def subject(self, site, baseline: dt.date | None = None) -> Subject:
        """A subject at `site`; with `baseline`, its baseline visit saved complete on that date."""
        subject = make_subject(site)
        if baseline is not None:
            self.save(subject, "baseline", 1, "visit", {"visit_date": baseline.isoformat()},
                      complete=True)  # fmt: skip
        return subject

    def save(self, subject, event, number, form_id, posted, *, complete=False, reasons=None):
        nurse = self.nurse_a if subject.site_id == self.a.id else self.nurse_b
        entry = entries.open_entry(
            Context(db.session(), Actor(user=nurse)), subject, event, number, form_id
        )
        assert entry is not None
        result = data_entry.save(
            Context(db.session(), Actor(user=nurse)), entry,
            data_entry.SaveRequest(
                posted, expected_version=entry.row_version, complete=complete,
                reasons=reasons or {},
            ),
        )  # fmt: skip
        db.session.commit()
        return result

    def todo(self, user, on: dt.date | None = None) -> todo.TodoList:
        """The user's list; `on` moves the clock to noon UTC of that date."""
        at = dt.datetime.combine(on, dt.time(12), dt.UTC) if on else utcnow()
        ctx = Context(session=db.session(), actor=Actor(user=user), clock=lambda: at)
        return todo.todo(ctx)


def _visits(listing: todo.TodoList) -> list[tuple[str, str, str, int, bool, int]]:
    return [
        (site.code, t.study_code, t.event_id, t.number, t.overdue, t.days)
        for site in listing.sites
        for t in site.categories["visits"].tasks
    ]


@pytest.fixture
def trial(tmp_path):
    return Study(tmp_path)


def test_a_follow_up_is_due_from_its_window_and_overdue_after_it(trial):
    baseline = dt.date(2026, 1, 5)
    subject = trial.subject(trial.a, baseline)
    due = baseline + dt.timedelta(days=90)  # window: 7 days before, 14 after
    code = subject.study_code
    assert _visits(trial.todo(trial.nurse_a, due - dt.timedelta(days=8))) == []
    opened = trial.todo(trial.nurse_a, due - dt.timedelta(days=7))
    assert _visits(opened) == [("FR-A1", code, "follow_up", 1, False, 21)]  # 21 days left
    (task,) = opened.sites[0].categories["visits"].tasks
    assert task.due == due
    assert task.window == (due - dt.timedelta(days=7), due + dt.timedelta(days=14))
    assert task.form_id == "fu"  # the first visit opens with its first form
    last_day = trial.todo(trial.nurse_a, due + dt.timedelta(days=14))
    assert _visits(last_day) == [("FR-A1", code, "follow_up", 1, False, 0)]
    late = trial.todo(trial.nurse_a, due + dt.timedelta(days=19))
    assert _visits(late) == [("FR-A1", code, "follow_up", 1, True, 5)]  # 5 days overdue
    assert late.counts["visits"] == 1


def test_a_done_visit_leaves_the_list_and_the_next_one_is_fixed_on_the_anchor(trial):
    baseline = dt.date(2026, 1, 5)
    subject = trial.subject(trial.a, baseline)
    trial.save(subject, "follow_up", 1, "fu", {"weight": "11"}, complete=True)
    nurse = Actor(user=trial.nurse_a)
    late_first = baseline + dt.timedelta(days=120)  # the first follow-up came a month late
    casebook.add_occurrence(Context(db.session(), nurse), subject, "follow_up", utcnow(), number=2,
                            visit_date=late_first)  # fmt: skip
    db.session.commit()
    third_due = baseline + dt.timedelta(days=270)  # not pushed by the late visit
    listing = trial.todo(trial.nurse_a, third_due + dt.timedelta(days=15))
    assert _visits(listing) == [("FR-A1", subject.study_code, "follow_up", 3, True, 1)]
    (task,) = listing.sites[0].categories["visits"].tasks
    assert task.form_id == ""  # a further visit is added first, with its date
    assert trial.todo(trial.nurse_a, baseline + dt.timedelta(days=400)).counts["visits"] == 1
    casebook.add_occurrence(Context(db.session(), nurse), subject, "follow_up", utcnow(), number=3,
                            visit_date=third_due)  # fmt: skip
    db.session.commit()
    assert _visits(trial.todo(trial.nurse_a, baseline + dt.timedelta(days=400))) == []  # 3 at most


def test_without_its_anchor_date_no_follow_up_is_due_but_the_baseline_is(trial):
    subject = trial.subject(trial.a)
    today = subject.site.local_time(utcnow()).date()
    listing = trial.todo(trial.nurse_a, today + dt.timedelta(days=20))
    assert _visits(listing) == [("FR-A1", subject.study_code, "baseline", 1, True, 6)]


def test_a_withdrawn_subject_has_no_visits_due(trial):
    subject = trial.subject(trial.a, dt.date(2026, 1, 5))
    investigator = Actor(user=make_user(roles=[(Role.INVESTIGATOR, trial.a)]))
    today = subject.site.local_time(utcnow()).date()
    for status in ("enrolled", "withdrawn"):
        subject_status.change_status(
            Context(db.session(), investigator), subject, status, today, "why", utcnow()
        )
    db.session.commit()
    assert _visits(trial.todo(trial.nurse_a, dt.date(2026, 12, 1))) == []


def test_a_nurse_never_sees_another_sites_subjects(trial):
    at_a = trial.subject(trial.a, dt.date(2026, 1, 5))
    at_b = trial.subject(trial.b, dt.date(2026, 1, 5))
    trial.save(at_b, "follow_up", 1, "fu", {"weight": "9"})  # a form in progress at B
    listing = trial.todo(trial.nurse_a, dt.date(2026, 6, 1))
    assert [s.code for s in listing.sites] == ["FR-A1"]
    assert [t.study_code for t in listing.sites[0].categories["visits"].tasks] == [at_a.study_code]
    assert listing.counts["forms"] == 0
    theirs = trial.todo(trial.nurse_b, dt.date(2026, 6, 1))
    assert [t.study_code for t in theirs.sites[0].categories["forms"].tasks] == [at_b.study_code]


def test_a_monitor_sees_only_their_sites_and_links_to_the_subject(trial):
    trial.subject(trial.a, dt.date(2026, 1, 5))
    at_b = trial.subject(trial.b, dt.date(2026, 1, 5))
    monitor = make_user(roles=[(Role.MONITOR, trial.b)])
    listing = trial.todo(monitor, dt.date(2026, 6, 1))
    assert [s.code for s in listing.sites] == ["DE-B1"]
    assert listing.sites[0].may_enter is False
    visits = listing.sites[0].categories["visits"].tasks
    assert [t.study_code for t in visits] == [at_b.study_code]
    admin = make_user(roles=[(Role.ADMIN, None)])
    assert trial.todo(admin).sites == []


def test_a_form_in_progress_is_listed_until_it_is_complete(trial):
    subject = trial.subject(trial.a)
    trial.save(subject, "baseline", 1, "visit", {"weight": "10"})
    listing = trial.todo(trial.nurse_a)
    (task,) = listing.sites[0].categories["forms"].tasks
    assert (task.study_code, task.event_id, task.number, task.form_id) == (
        subject.study_code, "baseline", 1, "visit",
    )  # fmt: skip
    assert task.form_title == "Baseline visit"
    trial.save(subject, "baseline", 1, "visit", {"visit_date": "2026-01-05", "weight": "10"},
               complete=True)  # fmt: skip
    assert trial.todo(trial.nurse_a).counts["forms"] == 0


def test_each_category_is_capped_per_site_and_counts_the_rest(trial, monkeypatch):
    monkeypatch.setattr(todo, "CAP", 2)
    for _ in range(3):
        trial.save(trial.subject(trial.a), "baseline", 1, "visit", {"weight": "10"})
        trial.subject(trial.a)  # no visit yet: its baseline becomes due
    site = trial.todo(trial.nurse_a).sites[0]
    forms = site.categories["forms"]
    assert (len(forms.tasks), forms.total, forms.more) == (2, 3, 1)
    later = trial.todo(trial.nurse_a, utcnow().date() + dt.timedelta(days=30))
    visits = later.sites[0].categories["visits"]
    assert (len(visits.tasks), visits.total, visits.more) == (2, 3, 1)


def test_a_save_refused_for_a_missing_reason_waits_for_its_author_until_saved(trial):
    subject = trial.subject(trial.a, dt.date(2026, 1, 5))
    changed = {"visit_date": "2026-01-05", "weight": "12"}
    refused = trial.save(subject, "baseline", 1, "visit", changed)
    assert refused.outcome is Outcome.NEEDS_REASONS
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "crf.save_refused"))
    assert event is not None
    assert event.new_value == {"needs_reason": ["weight"]}
    (task,) = trial.todo(trial.nurse_a).sites[0].categories["refused"].tasks
    assert (task.study_code, task.form_id) == (subject.study_code, "visit")
    colleague = make_user(roles=[(Role.NURSE, trial.a)])
    assert trial.todo(colleague).counts["refused"] == 0  # the author's own reminder
    saved = trial.save(subject, "baseline", 1, "visit", changed, reasons={"weight": "scale"})
    assert saved.outcome is Outcome.SAVED
    assert trial.todo(trial.nurse_a).counts["refused"] == 0


def test_the_list_costs_the_same_few_queries_for_many_subjects(trial, client):
    def statements() -> int:
        return statements_for(client, "/")

    trial.subject(trial.a, dt.date(2026, 1, 5))
    login(client, trial.nurse_a)
    statements()  # the study's definition is read once per process
    one = statements()
    for _ in range(4):
        subject = trial.subject(trial.a, dt.date(2026, 1, 5))
        trial.save(subject, "follow_up", 1, "fu", {"weight": "9"})
    assert statements() == one


def test_the_home_page_shows_the_overdue_visit_with_a_link_to_it(trial, client):
    subject = trial.subject(trial.a, dt.date(2025, 1, 5))  # follow-ups long overdue
    login(client, trial.nurse_a)
    page = client.get("/").get_data(as_text=True)
    assert "To do" in page
    assert f"/subjects/{subject.study_code}/crf/follow_up/1/fu" in page
    assert "overdue" in page
    assert csrf(client, "/")  # the page still carries its forms


def test_an_empty_list_says_so(trial, client):
    login(client, trial.nurse_a)
    page = client.get("/").get_data(as_text=True)
    assert "Nothing to do at your sites" in page


def test_a_refused_save_survives_the_refusal_page_and_links_back_to_the_form(trial, client):
    subject = trial.subject(trial.a, dt.date(2026, 1, 5))
    url = f"/subjects/{subject.study_code}/crf/baseline/1/visit"
    login(client, trial.nurse_a)
    token = csrf(client, url)
    asked = client.post(url, data={
        "visit_date": "2026-01-05", "weight": "12", "csrf_token": token, "action": "draft",
        "row_version": 1,
    })  # fmt: skip
    assert asked.status_code == 422  # rolled back: only the durable event is kept
    page = client.get("/").get_data(as_text=True)
    assert "1 save refused: reason for change missing" in page
    assert f'href="{url}"' in page


def test_a_package_adds_its_category_after_the_built_in_ones_but_never_replaces_one():
    keys = todo.category_keys()
    assert keys[: len(todo.SOURCES)] == tuple(key for key, _source in todo.SOURCES)
    assert "reconsent" in keys  # e-consent's, registered when the app starts
    with pytest.raises(ValueError, match="built in"):
        todo.register_source("visits", lambda ctx, scope: {}, "x.html")
