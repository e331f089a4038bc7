"""The record status dashboard and the study dashboard: what each cell and chart says, filters,
pages, who sees which sites, and a fixed number of SQL statements for any number of subjects."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from edc import charts, lifecycle
from edc.access import Role
from edc.extensions import db
from edc.models.base import utcnow
from edc.models.crf import EventOccurrence, FormRecord, ItemValue
from edc.models.monitoring import DataLock, DataQuery, ESignature, ItemVerification
from edc.models.studies import Site, Study
from edc.models.subjects import Subject
from edc.models.users import User
from edc.services.definitions import current_form_version
from tests.conftest import https_client
from tests.edc.conftest import FORM, stored_study
from tests.factories import login, make_site, make_user, statements_for

STUDY = """\
study: {slug}
title: Dashboard study
languages: [en]
context:
  date_of_birth: date
events:
  - id: baseline
    label: Baseline
    forms: [visit, extra]
  - id: review
    label: Review
    repeating: true
    visit_date: true
    forms: [visit]
"""
EXTRA = """\
form: extra
version: 1
title: Extra notes
sections:
  - id: main
    title: Main
    fields:
      - id: note
        type: text
        label: Note
"""
MARK = re.compile(r'<a class="mark st-(\w+)" href="([^"]+)" title="([^"]+)">(.*?)</a>')


@dataclass
class Trial:
    study: Study
    a: Site
    b: Site

    def subjects(
        self,
        site: Site,
        n: int,
        *,
        registered: dt.datetime | None = None,
        status: str = "registered",
        first: int = 1,
    ) -> list[int]:
        """`n` subjects at `site`, inserted in one statement."""
        at = registered or utcnow()
        rows = [
            {"study_id": self.study.id, "site_id": site.id, "number": i,
             "study_code": f"T-{site.code}-{i:04d}", "registered_at": at, "status": status,
             "status_date": at.date()}
            for i in range(first, first + n)
        ]  # fmt: skip
        db.session.execute(insert(Subject.__table__), rows)
        return list(
            db.session.scalars(
                select(Subject.id).where(Subject.site_id == site.id, Subject.number >= first)
                .order_by(Subject.number)
            )
        )  # fmt: skip

    def record(self, subject_id: int, event: str, number: int, form: str, status: str) -> int:
        """A saved record (and its visit, if new); returns the record's id."""
        occurrence = db.session.scalar(
            select(EventOccurrence.id).where(
                EventOccurrence.subject_id == subject_id, EventOccurrence.event_id == event,
                EventOccurrence.number == number,
            )
        )  # fmt: skip
        if occurrence is None:
            occurrence = db.session.execute(
                insert(EventOccurrence.__table__).returning(EventOccurrence.__table__.c.id),
                {"subject_id": subject_id, "event_id": event, "number": number,
                 "created_at": utcnow()},
            ).scalar_one()  # fmt: skip
        version = current_form_version(db.session, self.study.id, form)
        assert version is not None
        return db.session.execute(
            insert(FormRecord.__table__).returning(FormRecord.__table__.c.id),
            {"subject_id": subject_id, "occurrence_id": occurrence, "form_id": form,
             "form_version_id": version.id, "status": status, "row_version": 1,
             "created_at": utcnow(), "updated_at": utcnow()},
        ).scalar_one()  # fmt: skip

    def occurrence_of(self, record_id: int) -> int:
        return db.session.scalar(select(FormRecord.occurrence_id).where(FormRecord.id == record_id))


@pytest.fixture
def trial(tmp_path) -> Trial:
    study = stored_study(tmp_path, "dash", STUDY, {"visit": FORM, "extra": EXTRA})
    return Trial(study, make_site("FR-71", study), make_site("IT-72", study))


def put(model, *rows: dict) -> None:
    """Rows of an audited table written directly (the review services are tested elsewhere)."""
    db.session.execute(insert(model.__table__), list(rows))


def reader(client, role: Role, where) -> User:
    user = make_user(roles=[(role, where)])
    login(client, user)
    return user


def marks(page: str) -> dict[str, tuple[str, str, str]]:
    """Each cell link's address → (status class, title, inner HTML)."""
    return {href: (status, title, inner) for status, href, title, inner in MARK.findall(page)}


def test_each_cell_shows_the_status_as_icon_and_words_a_lock_and_a_signature_first(trial, client):
    (subject,) = trial.subjects(trial.a, 1)
    signed = trial.record(subject, "baseline", 1, "visit", "complete")
    draft = trial.record(subject, "baseline", 1, "extra", "in_progress")
    trial.record(subject, "review", 1, "visit", "verified")
    locked = trial.record(subject, "review", 2, "visit", "complete")
    signer = make_user(roles=[(Role.INVESTIGATOR, trial.a)])
    occurrence = trial.occurrence_of(signed)
    put(ESignature, dict(level="form", subject_id=subject, occurrence_id=occurrence,
                         record_id=signed, signer_id=signer.id, printed_name="Dr A",
                         meaning="author", data_hash="0" * 64))  # fmt: skip
    put(DataLock, dict(level="form", study_id=trial.study.id, subject_id=subject, form_id="visit",
                       occurrence_id=trial.occurrence_of(locked)))  # fmt: skip
    put(DataQuery, *(dict(site_id=trial.a.id, subject_id=subject, record_id=r, item_key=k,
                          status=st)
                     for r, k, st in ((draft, "note", "open"), (draft, "", "answered"),
                                      (signed, "", "closed"))))  # fmt: skip
    db.session.commit()
    reader(client, Role.MONITOR, trial.a)
    page = client.get("/dashboards/records").get_data(as_text=True)
    crf = "/subjects/T-FR-71-0001/crf"
    found = marks(page)
    assert {href: status for href, (status, _t, _i) in found.items()} == {
        f"{crf}/baseline/1/visit": "signed",
        f"{crf}/baseline/1/extra": "in_progress",
        f"{crf}/review/1/visit": "verified",
        f"{crf}/review/2/visit": "locked",
    }
    _s, title, inner = found[f"{crf}/review/2/visit"]
    assert title == "Locked"  # not colour alone
    assert lifecycle.ICONS["locked"] in inner
    assert ">#2 Locked<" in inner
    _s, title, inner = found[f"{crf}/baseline/1/visit"]
    assert title == "Signed"
    assert "✍" in inner
    assert "open quer" not in inner  # its query is closed
    _s, _t, inner = found[f"{crf}/baseline/1/extra"]
    assert "◐" in inner
    assert "2 open queries" in inner
    assert "⚑2" in inner
    assert "○" in page  # the legend names every icon
    assert "Not started" in page


def test_a_form_not_started_shows_as_such_and_leads_to_its_form_page(trial, client):
    trial.subjects(trial.a, 1)
    reader(client, Role.NURSE, trial.a)
    page = client.get("/dashboards/records").get_data(as_text=True)
    found = marks(page)
    assert {s for s, _t, _i in found.values()} == {"not_started"}
    assert len(found) == 3  # baseline: visit, extra; review: #1 always
    url = "/subjects/T-FR-71-0001/crf/baseline/1/extra"
    assert url in found
    assert client.get(url).status_code == 200  # one click to the form


def test_filters_keep_the_site_the_subject_status_the_record_status_and_the_event(trial, client):
    (first, second) = trial.subjects(trial.a, 2)
    (other,) = trial.subjects(trial.b, 1)
    trial.subjects(trial.b, 1, status="enrolled", first=2)
    trial.record(first, "baseline", 1, "visit", "complete")
    trial.record(second, "baseline", 1, "visit", "complete")
    put(DataLock, {"level": "subject", "study_id": trial.study.id, "subject_id": second})
    trial.record(other, "review", 1, "visit", "in_progress")
    db.session.commit()
    reader(client, Role.DATA_MANAGER, trial.study)

    def codes(**args) -> list[str]:
        page = client.get("/dashboards/records", query_string=args).get_data(as_text=True)
        return re.findall(r'<th scope="row"><a href="/subjects/([^"]+)">', page)

    assert codes() == ["T-FR-71-0001", "T-FR-71-0002", "T-IT-72-0001", "T-IT-72-0002"]
    assert codes(site=trial.b.id) == ["T-IT-72-0001", "T-IT-72-0002"]
    assert codes(subject_status="enrolled") == ["T-IT-72-0002"]
    assert codes(status="complete") == ["T-FR-71-0001"]  # the second one's is locked
    assert codes(status="locked") == ["T-FR-71-0002"]
    assert codes(status="in_progress", site=trial.a.id) == []
    assert codes(status="bogus", subject_status="bogus") == codes()  # ignored, not an error
    review = client.get("/dashboards/records", query_string={"event": "review"}).text
    assert "/crf/review/1/visit" in review
    assert "/crf/baseline/" not in review


def test_pages_hold_25_subjects_and_any_page_number_shows_a_page(trial, client):
    trial.subjects(trial.a, 30)
    reader(client, Role.DATA_MANAGER, trial.study)

    def rows(page) -> int:
        response = client.get("/dashboards/records", query_string={"page": page})
        assert response.status_code == 200, page
        return response.text.count('<th scope="row">')

    assert rows(1) == 25
    assert rows(2) == 5
    assert rows("-4") == rows("0") == rows("abc") == 25
    assert rows(10**30) == rows(2**31) == 5  # past the end: the last page
    page = client.get("/dashboards/records", query_string={"page": 1}).text
    assert "Page 1 of 2" in page
    assert "page=2" in page


def test_a_monitor_sees_only_their_sites_and_a_nurse_elsewhere_nothing_of_them(trial, client):
    trial.subjects(trial.a, 2)
    trial.subjects(trial.b, 2)
    reader(client, Role.MONITOR, trial.a)
    for args in ({}, {"site": trial.b.id}, {"site": trial.b.id, "status": "not_started"}):
        page = client.get("/dashboards/records", query_string=args).text
        assert "T-FR-71-0001" in page, args
        assert "T-IT-72" not in page, args
    charts_page = client.get("/dashboards/study").text
    assert "IT-72" not in charts_page
    assert "FR-71" in charts_page
    stranger = https_client(client.application)
    reader(stranger, Role.NURSE, make_site("ES-73", trial.study))
    for path in ("/dashboards/records", f"/dashboards/records?site={trial.a.id}",
                 "/dashboards/study"):  # fmt: skip
        page = stranger.get(path).text
        assert "T-FR-71" not in page, path
        assert "T-IT-72" not in page, path
        assert "FR-71" not in page, path


def test_an_administrator_has_no_dashboard(trial, client):
    reader(client, Role.ADMIN, None)
    assert client.get("/dashboards/records").status_code == 404
    assert client.get("/dashboards/study").status_code == 404
    assert "Record status" not in client.get("/account").text


def test_the_navigation_offers_both_dashboards_to_readers_of_subjects(trial, client):
    reader(client, Role.NURSE, trial.a)
    page = client.get("/").text
    assert 'href="/dashboards/records"' in page
    assert 'href="/dashboards/study"' in page


def _with_records(trial: Trial, ids: list[int]) -> None:
    """Every subject a complete baseline visit and a review #2 in progress (bulk inserts)."""
    version = {f: current_form_version(db.session, trial.study.id, f).id for f in ("visit",)}
    db.session.execute(
        insert(EventOccurrence.__table__),
        [{"subject_id": s, "event_id": e, "number": n, "created_at": utcnow()}
         for s in ids for e, n in (("baseline", 1), ("review", 2))],
    )  # fmt: skip
    occurrences = db.session.execute(
        select(EventOccurrence.id, EventOccurrence.subject_id, EventOccurrence.event_id).where(
            EventOccurrence.subject_id.in_(ids)
        )
    ).all()
    db.session.execute(
        insert(FormRecord.__table__),
        [{"subject_id": s, "occurrence_id": o, "form_id": "visit", "form_version_id":
          version["visit"], "status": "complete" if e == "baseline" else "in_progress",
          "row_version": 1, "created_at": utcnow(), "updated_at": utcnow()}
         for o, s, e in occurrences],
    )  # fmt: skip
    db.session.commit()


@pytest.mark.parametrize(
    "path", ["/dashboards/records", "/dashboards/records?status=complete", "/dashboards/study"]
)
def test_the_dashboards_cost_the_same_statements_for_10_and_500_subjects(trial, client, path):
    reader(client, Role.DATA_MANAGER, trial.study)
    _with_records(trial, trial.subjects(trial.a, 10))
    statements_for(client, path)  # the study's definition is read once per process
    few = statements_for(client, path)
    _with_records(trial, trial.subjects(trial.a, 240, first=11))
    _with_records(trial, trial.subjects(trial.b, 250))
    assert db.session.scalar(select(func.count()).select_from(Subject)) >= 500
    assert statements_for(client, path) == few


def _table(page: str, table_id: str) -> list[list[str]]:
    body = page.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1])
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row) for row in rows]


def _months_ago(n: int) -> dt.datetime:
    now = utcnow()
    index = now.year * 12 + now.month - 1 - n
    return dt.datetime(index // 12, index % 12 + 1, 15, 12, tzinfo=dt.UTC)


def test_the_enrolment_table_lists_registrations_cumulated_by_month_and_site(trial, client):
    trial.subjects(trial.a, 2, registered=_months_ago(2))
    trial.subjects(trial.a, 1, registered=_months_ago(1), first=3)
    trial.subjects(trial.b, 3, registered=_months_ago(1))
    reader(client, Role.DATA_MANAGER, trial.study)
    page = client.get("/dashboards/study").text
    table = _table(page, "enrolment-table")
    assert [row[1:] for row in table] == [["2", "0"], ["3", "3"], ["3", "3"]]
    assert table[-1][0] == f"{utcnow():%B} {utcnow().year}"
    assert '<th scope="col">FR-71</th><th scope="col">IT-72</th>' in page
    assert '<svg class="chart" id="enrolment-chart"' in page
    assert "FR-71 (3)" in page


def test_completion_queries_and_verification_count_what_the_module_says(trial, client):
    (one, two) = trial.subjects(trial.a, 2)
    verified = trial.record(one, "baseline", 1, "visit", "verified")
    complete = trial.record(one, "review", 2, "visit", "complete")
    draft = trial.record(two, "baseline", 1, "extra", "in_progress")
    paths = ((verified, "abc"), (complete, "de"), (draft, "f"))
    items = [
        {"record_id": r, "path": p, "value": "1", "updated_at": utcnow()}
        for r, letters in paths
        for p in letters
    ]
    db.session.execute(insert(ItemValue.__table__), items)
    now = utcnow()
    put(
        ItemVerification,
        {"record_id": complete, "item_key": "d", "reset_at": None},
        {"record_id": complete, "item_key": "e", "reset_at": now},
    )  # e changed since
    put(DataQuery, *({"site_id": trial.a.id, "subject_id": one, "record_id": verified,
                      "status": status, "raised_at": now - timedelta(days=days)}
                     for days, status in ((0, "open"), (7, "answered"), (8, "open"),
                                          (31, "open"), (40, "closed"))))  # fmt: skip
    db.session.commit()
    reader(client, Role.DATA_MANAGER, trial.study)
    page = client.get("/dashboards/study").text
    # visit: baseline ×2 subjects + review #1 ×2 + review #2 of one = 5 expected; extra: 2
    assert _table(page, "completion-table") == [
        ["Visit", "2", "0", "3"],
        ["Extra notes", "0", "1", "1"],
    ]
    assert _table(page, "queries-table") == [
        ["0–7 days", "2"], ["8–14 days", "1"], ["15–30 days", "0"], ["more than 30 days", "1"]
    ]  # fmt: skip
    assert _table(page, "sdv-table") == [["FR-71", "4", "5", "80 %"], ["IT-72", "0", "0", "0 %"]]


def test_the_chart_axes_step_in_round_numbers():
    assert [charts.nice_step(n) for n in (0, 3, 7, 40, 95, 1200)] == [1, 1, 2, 10, 50, 500]
    chart = charts.line_chart(["Jan", "Feb"], [("A", [0, 7])])
    assert [t.label for t in chart.y_ticks] == ["0", "2", "4", "6", "8"]
    assert chart.lines[0].last == 7
    same = charts.line_chart(["Jan"], [("A", [3]), ("B", [3]), ("C", [0])])
    a, b, c = (line.label_y for line in same.lines)
    assert b - a >= 15  # two sites ending alike: their names one under the other
    assert c > b


def test_a_reader_of_two_studies_chooses_the_study_and_sees_only_its_sites(trial, client, tmp_path):
    other = stored_study(tmp_path, "dash-other", STUDY, {"visit": FORM, "extra": EXTRA})
    elsewhere = make_site("NL-74", other)
    trial.subjects(trial.a, 1)
    user = make_user(roles=[(Role.MONITOR, trial.a), (Role.MONITOR, elsewhere)])
    login(client, user)
    first = client.get("/dashboards/records").text
    assert 'name="study"' in first
    assert "T-FR-71-0001" in first
    chosen = client.get("/dashboards/records", query_string={"study": other.id}).text
    assert "T-FR-71-0001" not in chosen
    assert "NL-74" in chosen
    assert "No subject matches these filters." in chosen
    by_site = client.get("/dashboards/records", query_string={"site": trial.a.id}).text
    assert "T-FR-71-0001" in by_site  # the site's study, whatever study was asked for
    charts_page = client.get("/dashboards/study", query_string={"study": other.id}).text
    assert "NL-74" in charts_page
    assert "FR-71" not in charts_page


def test_a_site_lock_covers_every_form_of_its_subjects_and_an_event_lock_its_visit(trial, client):
    (here,) = trial.subjects(trial.a, 1)
    trial.subjects(trial.b, 1)
    visit = trial.record(here, "review", 2, "visit", "complete")
    put(DataLock, {"level": "site", "study_id": trial.study.id, "site_id": trial.b.id})
    put(DataLock, {"level": "event", "study_id": trial.study.id, "subject_id": here,
                   "occurrence_id": trial.occurrence_of(visit)})  # fmt: skip
    db.session.commit()
    reader(client, Role.DATA_MANAGER, trial.study)
    found = marks(client.get("/dashboards/records").text)
    shown = {href.split("/")[2] + href.split("crf")[1]: s for href, (s, _t, _i) in found.items()}
    assert shown == {
        "T-FR-71-0001/baseline/1/visit": "not_started",
        "T-FR-71-0001/baseline/1/extra": "not_started",
        "T-FR-71-0001/review/1/visit": "not_started",
        "T-FR-71-0001/review/2/visit": "locked",
        "T-IT-72-0001/baseline/1/visit": "locked",
        "T-IT-72-0001/baseline/1/extra": "locked",
        "T-IT-72-0001/review/1/visit": "locked",
    }
