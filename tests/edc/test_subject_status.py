"""Subject status: allowed changes only, dated on the site's calendar, with a reason, audited,
shown on the subject page and the list, and kept in a history that nothing deletes."""

from __future__ import annotations

import datetime as dt

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
from edc.models.subjects import Subject, SubjectStatusChange
from edc.services import subject_status, subjects
from edc.services.subject_status import StatusRefused
from edc.web import app_context
from tests.concurrency import remove_committed
from tests.factories import another_browser, csrf, login, make_site, make_user, statements_for
from tests.html_forms import submitted


def _today(subject: Subject) -> dt.date:
    return subjects.site_today(subject.site, utcnow())


def _post_status(client, code: str, **data: str):
    path = f"/subjects/{code}/status"
    return client.post(path, data={"csrf_token": csrf(client, path), **data})


def _registered(site, at: dt.datetime) -> tuple[Subject, Actor]:
    """A subject registered at `at` by a nurse of the site, and that nurse."""
    actor = Actor(user=make_user(roles=[(Role.NURSE, site)]))
    child = subjects.Identity("Durand", "Léa", dt.date(2024, 5, 17), "female")
    return subjects.register(app_context(actor), site.id, child, at), actor


def _events() -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == "subject.status_changed")
    return list(db.session.scalars(query.order_by(AuditEvent.seq)))


def test_a_nurse_enrols_a_subject_and_the_page_and_list_show_it(client, make_site, make_subject):
    site = make_site("FR-40")
    subject = make_subject(site)
    code, today = subject.study_code, _today(subject)
    nurse = make_user(roles=[(Role.NURSE, site)])
    login(client, nurse)
    page = client.get(f"/subjects/{code}").get_data(as_text=True)
    assert "Registered, not yet enrolled" in page
    assert "Change the status" in page
    form = client.get(f"/subjects/{code}/status").get_data(as_text=True)
    assert "Enrolled" in form
    assert "Screening failed" in form
    assert "Withdrawn" not in form  # only what may follow "registered" is offered
    done = _post_status(
        client, code, status="enrolled", status_date=today.isoformat(), reason="Consent signed"
    )
    assert done.status_code == 302
    page = client.get(f"/subjects/{code}").get_data(as_text=True)
    assert "Enrolled" in page
    assert f'since <time datetime="{today.isoformat()}">{today:%d/%m/%Y}</time>' in page
    assert "Consent signed" in page
    assert "Status history" in page
    assert nurse.email in page
    listing = client.get("/subjects/").get_data(as_text=True)
    assert "Enrolled" in listing
    [event] = _events()
    assert event.old_value == {"status": "registered"}
    assert event.new_value == {"status": "enrolled", "date": today.isoformat()}
    assert event.reason == "Consent signed"
    assert (event.actor_id, event.role, event.site_code, event.entity_id) == (
        nurse.id, "nurse", "FR-40", code,
    )  # fmt: skip


def test_only_the_allowed_changes_happen_and_final_statuses_stay(make_site, make_subject):
    site = make_site("FR-41")
    actor = Actor(user=make_user(roles=[(Role.INVESTIGATOR, site)]))
    subject = make_subject(site)
    today = _today(subject)

    def change(status: str) -> None:
        subject_status.change_status(
            Context(db.session(), actor), subject, status, today, "why", utcnow()
        )

    for impossible in ("withdrawn", "completed", "deceased", "registered", "nonsense"):
        with pytest.raises(StatusRefused) as refused:
            change(impossible)
        assert refused.value.field == "status"
    change("enrolled")
    with pytest.raises(StatusRefused):
        change("screening_failed")  # enrolled children did not fail screening
    change("lost_to_follow_up")
    for later in ("enrolled", "completed", "withdrawn"):
        with pytest.raises(StatusRefused):
            change(later)  # final
    assert subject_status.next_statuses(subject) == ()
    failed = make_subject(site, family_name="Petit")
    subject_status.change_status(
        Context(db.session(), actor), failed, "screening_failed", today, "not eligible", utcnow()
    )
    assert subject_status.next_statuses(failed) == ()
    history = subject_status.status_history(Context(db.session(), actor), subject)
    assert [(c.old_status, c.new_status) for c in history] == [
        ("registered", "enrolled"),
        ("enrolled", "lost_to_follow_up"),
    ]


def test_a_final_status_page_offers_no_change(client, make_site, make_subject):
    site = make_site("FR-42")
    subject = make_subject(site)
    nurse = make_user(roles=[(Role.NURSE, site)])
    actor, today = Actor(user=nurse), _today(subject)
    for status in ("enrolled", "deceased"):
        subject_status.change_status(
            Context(db.session(), actor), subject, status, today, "x", utcnow()
        )
    db.session.commit()
    login(client, nurse)
    page = client.get(f"/subjects/{subject.study_code}/status").get_data(as_text=True)
    assert "This status is final" in page
    assert "Change the status" not in client.get(f"/subjects/{subject.study_code}").get_data(
        as_text=True
    )
    refused = _post_status(
        client, subject.study_code, status="completed", status_date=today.isoformat(), reason="x"
    )
    assert refused.status_code == 422


def test_dates_and_reasons_are_checked_and_the_input_is_kept(client, make_site, make_subject):
    site = make_site("FR-43")
    subject = make_subject(site)
    code, today = subject.study_code, _today(subject)
    login(client, make_user(roles=[(Role.NURSE, site)]))
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    cases = [
        ({"status_date": tomorrow}, "cannot be in the future"),
        ({"status_date": (today - dt.timedelta(days=1)).isoformat()}, "before the registration"),
        ({"status_date": ""}, "This field is required."),
        ({"status_date": "31/02/2026"}, "There is no 31/02/2026 in the calendar"),
        ({"status_date": "02/31/2026"}, "There is no 02/31/2026 in the calendar"),
        ({"reason": "   "}, "This field is required."),
        ({"reason": "x" * 501}, "longer than 500"),
        ({"status": "withdrawn"}, "Not a valid choice"),
    ]
    for change, message in cases:
        data = {"status": "enrolled", "status_date": today.isoformat(), "reason": "typed reason"}
        data.update(change)
        refused = _post_status(client, code, **data)
        assert refused.status_code == 422, change
        body = refused.get_data(as_text=True)
        assert message in body, change
        kept = submitted(body)
        if "reason" not in change:
            assert kept["reason"] == ["typed reason"], change
    assert db.session.get(Subject, subject.id).status == "registered"
    assert _events() == []


def test_a_later_status_cannot_predate_the_current_one(make_site):
    subject, actor = _registered(make_site("FR-44"), dt.datetime(2026, 1, 10, 9, tzinfo=dt.UTC))
    now = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
    subject_status.change_status(
        Context(db.session(), actor), subject, "enrolled", dt.date(2026, 3, 1), "consent", now
    )
    with pytest.raises(StatusRefused, match="before the current status began"):
        subject_status.change_status(
            Context(db.session(), actor), subject, "withdrawn", dt.date(2026, 2, 1), "parents", now
        )
    change = subject_status.change_status(
        Context(db.session(), actor), subject, "withdrawn", dt.date(2026, 3, 1), "parents", now
    )
    assert change.status_date == dt.date(2026, 3, 1)


def test_the_status_date_is_the_sites_own_date(make_site):
    site = make_site("FR-45")
    audit.record(db.session, Actor.cli(), "site.timezone", target=site)
    site.timezone = "Europe/Paris"
    db.session.commit()
    subject, actor = _registered(site, dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC))
    paris_00_30 = dt.datetime(2026, 3, 10, 23, 30, tzinfo=dt.UTC)  # 11 March in Paris
    with pytest.raises(StatusRefused, match="future"):
        subject_status.change_status(
            Context(db.session(), actor),
            subject,
            "enrolled",
            dt.date(2026, 3, 12),
            "x",
            paris_00_30,
        )
    subject_status.change_status(
        Context(db.session(), actor), subject, "enrolled", dt.date(2026, 3, 11), "x", paris_00_30
    )
    assert subject.status_date == dt.date(2026, 3, 11)


def test_only_site_staff_who_enter_data_change_a_status(client, make_study, make_subject):
    study = make_study("status-access")
    fr, it = make_site("FR-46", study), make_site("IT-46", study)
    subject = make_subject(fr)
    code = subject.study_code
    today = _today(subject).isoformat()
    readers = [
        make_user(roles=[(Role.MONITOR, fr)]),
        make_user(roles=[(Role.DATA_MANAGER, study)]),
        make_user(roles=[(Role.NURSE, it), (Role.MONITOR, fr)]),  # a nurse, but not here
    ]
    for reader in readers:
        browser = another_browser(client)
        login(browser, reader)
        assert browser.get(f"/subjects/{code}").status_code == 200
        assert "Change the status" not in browser.get(f"/subjects/{code}").get_data(as_text=True)
        assert browser.get(f"/subjects/{code}/status").status_code == 404
        token = csrf(browser, "/account")
        posted = browser.post(
            f"/subjects/{code}/status",
            data={"csrf_token": token, "status": "enrolled", "status_date": today, "reason": "x"},
        )
        assert posted.status_code == 404
    assert db.session.get(Subject, subject.id).status == "registered"
    with pytest.raises(Denied):
        subject_status.change_status(
            Context(db.session(), Actor(user=readers[0])),
            subject,
            "enrolled",
            _today(subject),
            "x",
            utcnow(),
        )


def test_changes_are_kept_and_the_list_stays_a_fixed_number_of_statements(client, make_site):
    site = make_site("FR-47")
    nurse = make_user(roles=[(Role.NURSE, site)])
    actor = Actor(user=nurse)

    def add(n: int) -> None:
        for i in range(n):
            subject = subjects.register(
                app_context(actor), site.id,
                subjects.Identity("Child", f"N{i}", dt.date(2024, 1, 1), "male"), utcnow(),
                confirm_duplicate=True,
            )  # fmt: skip
            status = ("enrolled", "screening_failed")[i % 2]
            today = _today(subject)
            subject_status.change_status(
                Context(db.session(), actor), subject, status, today, "r", utcnow()
            )
        db.session.commit()

    login(client, nurse)
    add(4)
    few = statements_for(client, "/subjects/")
    add(20)
    assert statements_for(client, "/subjects/") == few
    page = client.get("/subjects/").get_data(as_text=True)
    assert "Screening failed" in page
    assert "Enrolled" in page
    kept = db.session.scalar(select(func.count()).select_from(SubjectStatusChange))
    assert kept == 24


def test_the_demo_subjects_have_realistic_statuses(app):
    assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    counts = dict(
        db.session.execute(select(Subject.status, func.count()).group_by(Subject.status)).all()
    )
    assert counts["enrolled"] >= 15
    assert {"screening_failed", "withdrawn", "lost_to_follow_up", "completed"} <= set(counts)
    changes = db.session.scalar(select(func.count()).select_from(SubjectStatusChange))
    assert changes == len(_events())  # every change audited


@pytest.mark.commits
def test_two_changes_at_once_take_turns_and_only_one_happens(app):
    """Enrolled by one nurse while another records a screening failure: one wins, one refused."""
    import threading

    from sqlalchemy.orm import Session

    from edc.models.studies import Site, Study
    from edc.models.users import RoleAssignment, User

    with Session(db.engine) as setup:
        cli = Actor.cli()
        study = Study(slug="status-race", title="Race")
        setup.add(study)
        audit.record(setup, cli, "study.created", target=study)
        site = Site(study=study, code="RACE-01", name="Race", country="FR")
        setup.add(site)
        audit.record(setup, cli, "site.created", target=site)
        user = User(email="race@test.example", full_name="Race", password_hash="x",
                    identity_check="test", created_at=utcnow())  # fmt: skip
        setup.add(user)
        audit.record(setup, cli, "user.created", target=user)
        setup.flush()
        grant = RoleAssignment(
            user_id=user.id,
            role="nurse",
            site_id=site.id,
            granted_at=utcnow(),
            approved_at=utcnow(),
        )
        setup.add(grant)
        audit.record(setup, cli, "role.granted", target=grant)
        child = subjects.Identity("Race", "Child", dt.date(2024, 1, 1), "male")
        subject = subjects.register(Context(setup, Actor(user=user)), site.id, child, utcnow())
        setup.commit()
        ids = {"study": study.id, "site": site.id, "user": user.id, "subject": subject.id}
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def nurse(target: str) -> None:
        with app.test_request_context():  # a refusal speaks the reader's language
            barrier.wait()
            with Session(db.engine) as session:
                who = Actor(user=session.get(User, ids["user"]))
                child = session.get(Subject, ids["subject"])
                today = subjects.site_today(child.site, utcnow())
                try:
                    subject_status.change_status(
                        Context(session, who), child, target, today, "race", utcnow()
                    )
                    session.commit()
                    outcomes.append(target)
                except StatusRefused:
                    session.rollback()
                    outcomes.append("refused")

    try:
        threads = [
            threading.Thread(target=nurse, args=(t,)) for t in ("enrolled", "screening_failed")
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(outcomes) == 2
        assert outcomes.count("refused") == 1
        [winner] = [o for o in outcomes if o != "refused"]
        with Session(db.engine) as check:
            rows = check.scalars(
                select(SubjectStatusChange).where(SubjectStatusChange.subject_id == ids["subject"])
            ).all()
            assert [r.new_status for r in rows] == [winner]
    finally:
        remove_committed(ids, "DELETE FROM subject_status_change WHERE subject_id = :subject")
