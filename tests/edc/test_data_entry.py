"""Saving CRF data: drafts, completion, warnings, reasons for change, conflicts, item history."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest
from sqlalchemy import func, select

from edc import audit
from edc.access import Role
from edc.actor import Actor
from edc.context import Context
from edc.errors import Denied
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.models.crf import FormRecord, ItemValue
from edc.models.subjects import Subject
from edc.services import data_entry, entries
from edc.services.data_entry import Outcome
from edc.services.definitions import load_definition
from edc.web import app_context
from tests.edc.conftest import FORM, STUDY
from tests.factories import make_site, make_study, make_subject, make_user, site_reader


def _save(
    entry, posted, *, who, complete=False, reasons=None, confirmed=None, version=None, now=None
):
    at = now or utcnow()
    return data_entry.save(
        Context(db.session(), Actor(user=who), "en", lambda: at),
        entry,
        data_entry.SaveRequest(
            posted,
            expected_version=entry.row_version if version is None else version,
            complete=complete,
            reasons=reasons or {},
            confirmed=confirmed or {},
        ),
    )


def _items(entry):
    record = db.session.scalar(
        select(FormRecord).where(
            FormRecord.subject_id == entry.subject.id, FormRecord.form_id == "visit"
        )
    )
    return entries.stored_items(site_reader(entry.subject.site), record)


def test_a_draft_stores_what_the_server_computes(entry_for):
    entry = entry_for()
    posted = {"visit_date": "2026-03-10", "mycn": "not_amplified", "copies": "12", "age": "999"}
    result = _save(entry, posted, who=entry_for.nurse)
    assert result.outcome is Outcome.SAVED
    items = _items(entry)
    assert items["age"] == 14  # from the vault's birth date, never from the request
    assert "copies" not in items  # hidden: not stored
    assert "weight" not in items  # a blank that was never answered needs no row
    reads = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "identity.read"))
    assert any(e.new_value == {"purpose": "calculation"} for e in reads)


def test_a_draft_with_missing_answers_saves_but_completion_is_blocked(entry_for):
    entry = entry_for()
    assert _save(entry, {"weight": "20"}, who=entry_for.nurse).outcome is Outcome.SAVED
    entry = entry_for()
    blocked = _save(entry, {"weight": "20"}, who=entry_for.nurse, complete=True)
    assert blocked.outcome is Outcome.INVALID
    assert {i.field for i in blocked.evaluation.errors} == {"visit_date", "mycn"}
    assert entry_for().record.status == "in_progress"


def test_malformed_input_blocks_even_a_draft(entry_for):
    result = _save(entry_for(), {"weight": "twenty"}, who=entry_for.nurse)
    assert result.outcome is Outcome.INVALID
    assert entry_for().record is None


def test_completing_needs_each_warning_confirmed_with_a_reason(entry_for):
    posted = {"visit_date": "2026-03-10", "mycn": "amplified", "copies": "3"}
    first = _save(entry_for(), posted, who=entry_for.nurse, complete=True)
    assert first.outcome is Outcome.INVALID
    (warning,) = first.unconfirmed
    key = data_entry.warning_key(warning)
    done = _save(
        entry_for(), posted, who=entry_for.nurse, complete=True,
        confirmed={key: "FISH repeated: 3 copies confirmed"},
    )  # fmt: skip
    assert done.outcome is Outcome.SAVED
    assert entry_for().record.status == "complete"
    confirmation = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "check.confirmed")
    )
    assert confirmation.reason == "FISH repeated: 3 copies confirmed"


def test_changing_a_complete_record_needs_a_reason_per_item_and_keeps_history(entry_for):
    posted = {"visit_date": "2026-03-10", "mycn": "not_amplified", "weight": "10"}
    assert _save(entry_for(), posted, who=entry_for.nurse, complete=True).outcome is Outcome.SAVED
    changed = {**posted, "weight": "11"}
    asked = _save(entry_for(), changed, who=entry_for.nurse)
    assert asked.outcome is Outcome.NEEDS_REASONS
    assert [(c.path, c.old, c.new) for c in asked.changes] == [("weight", 10, 11)]
    assert _items(entry_for())["weight"] == 10  # nothing stored yet
    saved = _save(entry_for(), changed, who=entry_for.nurse, reasons={"weight": "scale error"})
    assert saved.outcome is Outcome.SAVED
    ctx = Context(db.session(), Actor(user=entry_for.nurse))
    history = data_entry.item_history(ctx, entry_for(), "weight").events
    assert [(e.old_value, e.new_value, e.reason, e.actor_email) for e in history] == [
        (None, 10, "", entry_for.nurse.email),
        (10, 11, "scale error", entry_for.nurse.email),
    ]
    assert history[-1].item_path == "baseline/1/visit@1/weight"
    assert history[-1].role == "nurse"


def test_a_stale_save_is_refused_and_stores_nothing(entry_for):
    colleague = make_user(roles=[(Role.NURSE, entry_for.subject.site)])
    opened_by_me = entry_for()
    opened_by_colleague = entry_for(colleague)
    first = _save(opened_by_colleague, {"weight": "12"}, who=colleague)
    assert first.outcome is Outcome.SAVED
    second = _save(opened_by_me, {"weight": "15"}, who=entry_for.nurse, version=0)
    assert second.outcome is Outcome.CONFLICT
    assert second.stored["weight"] == 12
    assert second.last_changed_by == colleague.email
    assert _items(entry_for())["weight"] == 12


def test_every_item_change_is_one_audit_event(entry_for):
    since = db.session.scalar(select(func.max(AuditEvent.seq))) or 0  # race tests leave events
    _save(entry_for(), {"visit_date": "2026-03-10", "weight": "10"}, who=entry_for.nurse)
    events = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action.in_(("item.created", "item.changed")), AuditEvent.seq > since
        )
    ).all()
    paths = sorted(e.item_path.rsplit("/", 1)[-1] for e in events)
    stored = db.session.scalars(select(ItemValue.path)).all()
    assert paths == sorted(stored)


def test_only_site_staff_with_data_entry_may_save(entry_for, make_site):
    other_nurse = make_user(roles=[(Role.NURSE, make_site("IT-09"))])
    with pytest.raises(Denied) as refused:
        _save(entry_for(), {"weight": "1"}, who=other_nurse)
    assert refused.value.status == 404  # refused like a page that is not there
    monitor = make_user(roles=[(Role.MONITOR, entry_for.subject.site)])
    with pytest.raises(Denied):
        _save(entry_for(), {"weight": "1"}, who=monitor)


TABLE = """\
decision_tables:
  weight_class:
    title: Weight class
    inputs: [weight]
    outputs:
      band: Band
    rows:
      - id: light
        when: {weight: "<10"}
        then: {band: light}
      - id: heavy
        when: {weight: ">=10"}
        then: {band: heavy}
  mycn_group:
    title: MYCN group
    inputs: [mycn]
    outputs:
      group: Group
    rows:
      - id: amplified
        when: {mycn: amplified}
        then: {group: high}
      - id: other
        when: {mycn: [not_amplified]}
        then: {group: standard}
"""


@pytest.fixture
def with_table(tmp_path):
    """A study whose visit form carries a decision table, stored and ready."""
    study = make_study("crf-table")
    folder = tmp_path / "crf-table"
    (folder / "forms").mkdir(parents=True)
    (folder / "study.yaml").write_text(
        STUDY.format(slug=study.slug).replace(
            "    forms: [visit]\n",
            "    forms: [visit]\n  - id: review\n    label: Review\n    repeating: true\n"
            "    forms: [visit]\n",
        )
    )
    (folder / "forms" / "visit.yaml").write_text(textwrap.dedent(FORM) + TABLE)
    load_definition(app_context(Actor.cli()), study, folder, utcnow())
    db.session.commit()
    return study


def test_the_subject_page_shows_statuses_and_recomputed_decision_support(client, with_table):
    site = make_site("FR-10", with_table)
    subject = make_subject(site, date_of_birth=dt.date(2025, 1, 10))
    nurse = make_user(roles=[(Role.NURSE, site)])
    from tests.factories import login

    login(client, nurse)
    page = client.get(f"/subjects/{subject.study_code}").get_data(as_text=True)
    assert "Not started" in page
    assert "No decision yet" in page
    subject = db.session.get(Subject, subject.id)
    entry = entries.open_entry(
        Context(db.session(), Actor(user=nurse)), subject, "baseline", 1, "visit"
    )
    _save(entry, {"weight": "8"}, who=nurse)
    db.session.commit()
    page = client.get(f"/subjects/{subject.study_code}").get_data(as_text=True)
    assert "In progress" in page
    assert "<strong>Band: light</strong>" in page  # in plain words, no codes or row ids
    assert "Based on: Weight: 8" in page
    listed = client.get("/subjects/").get_data(as_text=True)
    assert '<span class="status status-in_progress">1 In progress</span>' in listed
    assert "Not classifiable yet: answer MYCN." in page  # the label, not the field id
    subject = db.session.get(Subject, subject.id)
    entry = entries.open_entry(
        Context(db.session(), Actor(user=nurse)), subject, "baseline", 1, "visit"
    )
    _save(entry, {"weight": "8", "mycn": "not_amplified"}, who=nurse)
    db.session.commit()
    page = client.get(f"/subjects/{subject.study_code}").get_data(as_text=True)
    assert "Based on: MYCN: Not amplified" in page  # labels, as clinicians read
    subject = db.session.get(Subject, subject.id)
    entry = entries.open_entry(
        Context(db.session(), Actor(user=nurse)), subject, "baseline", 1, "visit"
    )
    _save(entry, {"weight": "12"}, who=nurse)
    db.session.commit()
    assert "<strong>Band: heavy</strong>" in client.get(f"/subjects/{subject.study_code}").text


def test_a_repeating_event_gets_another_occurrence(client, with_table):
    from tests.factories import csrf, login

    site = make_site("FR-11", with_table)
    subject = make_subject(site)
    login(client, make_user(roles=[(Role.NURSE, site)]))
    token = csrf(client, f"/subjects/{subject.study_code}")
    response = client.post(
        f"/subjects/{subject.study_code}/events/review/occurrences/new",
        data={"csrf_token": token, "number": "2"},
    )
    assert response.status_code == 302
    page = client.get(f"/subjects/{subject.study_code}").get_data(as_text=True)
    assert "Review #2" in page
    assert (
        client.post(
            f"/subjects/{subject.study_code}/events/baseline/occurrences/new",
            data={"csrf_token": token},
        ).status_code
        == 404
    )  # not a repeating event


def test_today_is_the_sites_date_not_the_servers(entry_for):
    half_past_midnight_in_paris = dt.datetime(2026, 11, 27, 23, 30, tzinfo=dt.UTC)
    posted = {"visit_date": "2026-11-28", "mycn": "not_amplified"}
    site = entry_for.subject.site
    assert site.timezone == "UTC"
    on_utc = _save(entry_for(), posted, who=entry_for.nurse, now=half_past_midnight_in_paris)
    assert [i.kind for i in on_utc.evaluation.errors] == ["max"]  # tomorrow, on UTC
    site.timezone = "Europe/Paris"
    audit.record(db.session, Actor.cli(), "site.timezone", target=site)
    db.session.flush()
    in_paris = _save(entry_for(), posted, who=entry_for.nurse, now=half_past_midnight_in_paris)
    assert in_paris.outcome is Outcome.SAVED
    assert in_paris.evaluation.errors == []  # already the 28th in Paris


def test_a_form_that_never_reads_the_birth_date_opens_no_vault(client, tmp_path):
    from tests.factories import csrf, login

    age = '      - id: age\n        type: calc\n        label: Age (months)\n' \
          '        calc: "age_months(date_of_birth, visit_date)"\n'  # fmt: skip
    assert age in FORM
    study = make_study("no-birth")
    folder = tmp_path / "no-birth"
    (folder / "forms").mkdir(parents=True)
    (folder / "study.yaml").write_text(STUDY.format(slug=study.slug))
    (folder / "forms" / "visit.yaml").write_text(textwrap.dedent(FORM).replace(age, ""))
    load_definition(app_context(Actor.cli()), study, folder, utcnow())
    db.session.commit()
    site = make_site("FR-11", study)
    subject = make_subject(site)
    nurse = make_user(roles=[(Role.NURSE, site)])

    def reads() -> int:
        return db.session.scalar(
            select(func.count()).where(
                AuditEvent.action == "identity.read", AuditEvent.entity_id == subject.study_code
            )
        )

    login(client, nurse)
    url = f"/subjects/{subject.study_code}/crf/baseline/1/visit"
    page = client.get(url).get_data(as_text=True)  # the page evaluates the stored answers
    assert 'name="visit_date"' in page
    answers = {"visit_date": "2026-03-10", "mycn": "not_amplified", "csrf_token": csrf(client, url)}
    live = client.post(f"{url}/evaluate", data={**answers, "row_version": 0})
    assert live.status_code == 200
    assert client.post(url, data={**answers, "row_version": 0}).status_code == 302
    reader = Context(db.session(), Actor(user=nurse))
    again = entries.open_entry(reader, db.session.get(Subject, subject.id), "baseline", 1, "visit")
    assert again.stored["mycn"] == "not_amplified"
    assert reads() == 0  # nothing in this form needs the identity, so none was decrypted
