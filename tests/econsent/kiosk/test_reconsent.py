"""Re-consent on a new version: approving version 2 for every active subject opens one task per
active subject of the sites where it is approved (never twice, however often the list is read),
their consent counting until the grace date; signing version 2 closes the task."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select

from econsent.library import use_folder
from econsent.models import ReconsentTask
from econsent.services import reconsent
from edc.access import Role
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.services import consent_scope, todo
from tests.econsent.kiosk.reconsent_helpers import at, run_consent, with_v2
from tests.factories import make_site, make_subject, make_user

pytestmark = pytest.mark.usefixtures("in_request")


def _tasks(reason: str = reconsent.NEW_VERSION) -> list[ReconsentTask]:
    return list(
        db.session.scalars(
            select(ReconsentTask).where(ReconsentTask.reason == reason).order_by(ReconsentTask.id)
        )
    )


def _count(action: str, reason: str = reconsent.NEW_VERSION, site: str = "FR-71") -> int:
    events = db.session.scalars(
        select(AuditEvent.new_value).where(
            AuditEvent.action == action, AuditEvent.site_code == site
        )
    )
    return sum(1 for new in events if new["reason"] == reason)


def test_v2_for_all_active_subjects_opens_one_task_per_subject_where_approved(clinic, tmp_path):
    fr, es = clinic("FR", age=2), clinic("ES", age=2)
    study = fr.site.study
    it_site = make_site("IT-71", study, country="IT")
    it_nurse = make_user(roles=[(Role.NURSE, it_site)])
    second = make_subject(fr.site, family_name="Moreau", date_of_birth=dt.date(2023, 1, 1))
    italian = make_subject(it_site, family_name="Rossi", date_of_birth=dt.date(2023, 1, 1))
    no_consent = make_subject(fr.site, family_name="Petit", date_of_birth=dt.date(2023, 1, 1))
    for c, subject in ((fr, fr.subject), (fr, second), (es, es.subject)):
        run_consent(c, subject)  # version 1, the only one yet
    run_consent(dataclasses.replace(fr, site=it_site, nurse=it_nurse), italian)
    es_until = consent_scope.current(es.ctx(), es.subject).valid_until  # the eve of majority
    today = utcnow().date()
    use_folder(study.slug, with_v2(tmp_path, effective=today - dt.timedelta(days=5)))

    for _ in range(2):  # read twice, by each site's staff: opened once
        for c in (fr, es):
            todo.todo(c.ctx())
        todo.todo(fr.ctx(it_nurse))
    tasks = _tasks()
    assert sorted(t.subject_id for t in tasks) == sorted([fr.subject.id, second.id])
    grace = today - dt.timedelta(days=5) + dt.timedelta(days=30)
    assert {(t.document, t.version, t.grace_until, t.site_id) for t in tasks} == {
        ("parent_consent", 2, grace, fr.site.id)
    }
    assert _count("consent.reconsent_opened") == 2
    scope = consent_scope.current(fr.ctx(), fr.subject)
    assert scope.valid_until == grace  # the version 1 consent still counts until then
    assert consent_scope.in_force(fr.ctx(), fr.subject) is scope
    assert consent_scope.current(es.ctx(), es.subject).valid_until == es_until  # new subjects
    assert no_consent.id not in {t.subject_id for t in tasks}

    listed = todo.todo(fr.ctx())
    (site,) = listed.sites
    entries = site.categories["reconsent"]
    assert entries.total == 2
    assert {t.study_code for t in entries.tasks} == {fr.subject.study_code, second.study_code}
    assert listed.templates["reconsent"] == "econsent/reconsent/_todo.html"

    cs = run_consent(fr, fr.subject)  # the subject signs version 2
    assert cs.version == 2
    (closed, still_open) = _tasks()
    assert (closed.closed_by_session_id, closed.subject_id) == (cs.id, fr.subject.id)
    assert closed.closed_at is not None
    assert still_open.closed_at is None
    now_in_force = consent_scope.in_force(fr.ctx(), fr.subject)
    assert now_in_force.version == "2"
    assert now_in_force.valid_until == es_until  # born the same day: the eve of majority
    assert _count("consent.reconsent_closed") == 1
    assert todo.todo(fr.ctx()).sites[0].categories["reconsent"].total == 1


def test_a_version_effective_on_a_later_day_asks_from_that_day_on(clinic, tmp_path):
    fr = clinic("FR", age=2)
    run_consent(fr, fr.subject)
    before = consent_scope.current(fr.ctx(), fr.subject).valid_until
    effective = utcnow().date() + dt.timedelta(days=3)
    use_folder(fr.site.study.slug, with_v2(tmp_path, effective=effective))
    assert reconsent.sync_sites(fr.ctx(), [fr.site]) == 0
    assert consent_scope.current(fr.ctx(), fr.subject).valid_until == before
    that_day = dt.datetime.combine(effective, dt.time(12), dt.UTC)
    assert reconsent.sync_sites(at(fr.ctx(), that_day), [fr.site]) == 1
    grace = effective + dt.timedelta(days=30)
    assert consent_scope.current(fr.ctx(), fr.subject).valid_until == grace


def test_a_nurse_opens_tasks_only_at_her_own_sites(clinic, tmp_path):
    fr = clinic("FR", age=2)
    run_consent(fr, fr.subject)
    elsewhere = make_user(roles=[(Role.NURSE, make_site("FR-72", fr.site.study))])
    use_folder(fr.site.study.slug, with_v2(tmp_path, effective=utcnow().date()))
    assert reconsent.sync_sites(fr.ctx(elsewhere), [fr.site]) == 0
    assert _tasks() == []
    assert reconsent.sync_sites(fr.ctx(), [fr.site]) == 1


def test_the_trail_says_which_approval_asked_and_a_task_for_a_consent_already_new_closes(
    clinic, tmp_path
):
    fr = clinic("FR", age=2)
    run_consent(fr, fr.subject)
    study = fr.site.study
    use_folder(study.slug, with_v2(tmp_path, effective=utcnow().date()))
    assert reconsent.sync_sites(fr.ctx(), [fr.site]) == 1
    loaded = db.session.scalars(
        select(AuditEvent.new_value)
        .where(AuditEvent.action == "consent.rules_loaded", AuditEvent.entity_id == study.slug)
        .order_by(AuditEvent.seq.desc())
    ).first()
    assert loaded["documents"]["parent_consent"][1]["reconsent_all_active"] == ["FR:30d"]

    # A request that listed a subject on version 1 just before the new version was sealed
    # for them: the task it opens is closed at once, the consent left as it is.
    late = make_subject(fr.site, family_name="Faure", date_of_birth=dt.date(2023, 1, 1))
    assert run_consent(fr, late).version == 2
    until = utcnow().date()
    assert not reconsent.open_task(fr.ctx(), late, "new_version", "parent_consent", 2, until)
    (task,) = [t for t in _tasks() if t.subject_id == late.id]
    assert task.closed_at is not None
    assert task.closed_by_session_id is None
    assert consent_scope.current(fr.ctx(), late).valid_until != until


def test_entry_stops_after_the_grace_date_even_if_nobody_opened_the_to_do_list(clinic, tmp_path):
    fr = clinic("FR", age=2)
    run_consent(fr, fr.subject)  # version 1
    today = utcnow().date()
    use_folder(fr.site.study.slug, with_v2(tmp_path, effective=today - dt.timedelta(days=40)))
    assert _tasks() == []  # nobody has looked at a list since version 2 came into use
    study = reconsent_study(fr)
    late = at(fr.ctx(), dt.datetime.combine(today, dt.time(12), dt.UTC))
    refusal = consent_scope.entry_refusal(late, fr.subject, study, "registration")
    grace = today - dt.timedelta(days=40) + dt.timedelta(days=30)
    assert "stopped counting" in refusal  # version 1 counted until its grace date, 10 days ago
    assert [(t.subject_id, t.grace_until) for t in _tasks()] == [(fr.subject.id, grace)]
    assert consent_scope.current(fr.ctx(), fr.subject).valid_until == grace
    # a monitor reading the form changes nothing
    monitor = make_user(roles=[(Role.MONITOR, fr.site)])
    assert consent_scope.entry_refusal(fr.ctx(monitor), fr.subject, study, "registration")
    assert len(_tasks()) == 1


def reconsent_study(clinic):
    """What entry asks of the study: its forms wait for a consent (the clinic's study has no
    forms loaded)."""
    from types import SimpleNamespace

    return SimpleNamespace(consent=SimpleNamespace(required_for_entry=True, before_consent=()))
