"""Every audit event says who acted, in which role, for which site; refusals leave a throttled
trace; downloads are audited; account end dates end in one zone; logs are in UTC."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from flask import Flask
from sqlalchemy import func, select

from edc import access, logs
from edc.access import Role
from edc.actor import Actor
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.subjects import Subject
from edc.models.users import User
from edc.services import users
from tests.concurrency import at_once
from tests.factories import another_browser, csrf, login, make_site, make_subject, make_user

CRF = "/subjects/{code}/crf/baseline/1/visit"


def _last_seq() -> int:
    return db.session.scalar(select(func.max(AuditEvent.seq))) or 0


def _events_since(seq: int) -> list[AuditEvent]:
    return list(
        db.session.scalars(select(AuditEvent).where(AuditEvent.seq > seq).order_by(AuditEvent.seq))
    )


def _logout(client) -> None:
    token = csrf(client, "/account")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302


def _register(client, site) -> str:
    response = client.post(
        "/subjects/new",
        data={
            "site": str(site.id),
            "family_name": "Moreau",
            "given_names": "Zoé",
            "date_of_birth": "2025-02-03",
            "sex": "female",
            "hospital_number": "FR9988776",
            "guardians-0-name": "Claire Moreau",
            "guardians-0-relationship": "mother",
            "csrf_token": csrf(client, "/subjects/new"),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"].rsplit("/", 1)[-1]


def test_every_audit_event_of_a_full_demo_session_names_role_and_site(client, entry_for):
    subject = db.session.get(Subject, entry_for.subject.id)
    site, nurse = subject.site, entry_for.nurse
    admin = make_user(roles=[(Role.ADMIN, None)])
    monitor = make_user(roles=[(Role.MONITOR, site)])
    newcomer = make_user()
    start = _last_seq()

    # A failed sign-in on a known account and one on an unknown address.
    stranger = another_browser(client)
    for email in (nurse.email, "nobody@test.example"):
        refused = stranger.post(
            "/login",
            data={"email": email, "password": "wrong", "csrf_token": csrf(stranger, "/login")},
        )
        assert refused.status_code == 422

    # The nurse: code step, subject list, registration, identity, a CRF saved, history.
    login(client, nurse)
    assert client.get("/subjects/").status_code == 200
    code = _register(client, site)
    assert client.get(f"/subjects/{code}/identity").status_code == 200
    url = CRF.format(code=subject.study_code)
    assert client.get(url).status_code == 200
    saved = client.post(
        url,
        data={
            "visit_date": "2026-03-10",
            "mycn": "not_amplified",
            "weight": "10",
            "action": "draft",
            "row_version": 0,
            "csrf_token": csrf(client, url),
        },
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)
    assert client.get(f"{url}/history/weight", headers={"HX-Request": "true"}).status_code == 200
    _logout(client)

    # The administrator: users, a role granted, the security CSV downloaded.
    office = another_browser(client)
    login(office, admin)
    assert office.get("/admin/users").status_code == 200
    granted = office.post(
        f"/admin/users/{newcomer.id}/roles",
        data={
            "role": "investigator",
            "scope": f"site:{site.id}",
            "csrf_token": csrf(office, f"/admin/users/{newcomer.id}"),
        },
    )
    assert granted.status_code == 302, granted.get_data(as_text=True)
    assert office.get("/admin/security.csv").status_code == 200
    _logout(office)

    # A monitor reads the subject and its form.
    reader = another_browser(client)
    login(reader, monitor)
    assert reader.get(f"/subjects/{subject.study_code}").status_code == 200
    assert reader.get(url).status_code == 200

    events = _events_since(start)
    actions = {e.action for e in events}
    assert {
        "auth.login_failed",
        "auth.login",
        "subject.registered",
        "identity.read",
        "item.created",
        "auth.session_ended",
        "role.granted",
        "export.downloaded",
    } <= actions
    unnamed = [
        (e.seq, e.action, e.role, e.site_code) for e in events if not (e.role and e.site_code)
    ]
    assert unnamed == []

    def one(action: str, **where: object) -> AuditEvent:
        found = [e for e in events if e.action == action]
        found = [e for e in found if all(getattr(e, k) == v for k, v in where.items())]
        assert len(found) == 1, (action, where, found)
        return found[0]

    failed = [e for e in events if e.action == "auth.login_failed"]
    assert {(e.role, e.site_code) for e in failed} == {("anonymous", site.code), ("anonymous", "-")}
    assert (
        one("auth.login", actor_id=nurse.id).role,
        one("auth.login", actor_id=nurse.id).site_code,
    ) == (
        "nurse",
        site.code,
    )
    assert one("subject.registered").role == "nurse"
    grant = one("role.granted")
    assert (grant.role, grant.site_code) == ("admin", site.code)  # who granted, for which site
    assert (grant.new_value["role"], grant.new_value["site"]) == ("investigator", site.code)
    download = one("export.downloaded")
    assert (download.role, download.site_code) == ("admin", "system")
    assert download.entity_id == "security-events"
    assert download.new_value["rows"] >= 1
    assert one("auth.login", actor_id=monitor.id).role == "monitor"


def test_several_grants_are_named_compactly_and_the_site_picks_the_role_held_there(
    make_study,
):
    study = make_study("ctx-study")
    fr, it = make_site("FR-31", study), make_site("IT-31", study)
    both = make_user(roles=[(Role.NURSE, fr), (Role.INVESTIGATOR, it)])
    manager = make_user(roles=[(Role.DATA_MANAGER, study)])
    admin = make_user(roles=[(Role.ADMIN, None)])
    session = db.session
    assert access.audit_context(session, Actor(user=both)) == ("investigator,nurse", "FR-31,IT-31")
    assert access.audit_context(session, Actor(user=both), "IT-31") == ("investigator", "IT-31")
    assert access.audit_context(session, Actor(user=manager)) == ("data_manager", "ctx-study")
    assert access.audit_context(session, Actor(user=manager), "FR-31") == ("data_manager", "FR-31")
    assert access.audit_context(session, Actor(user=admin)) == ("admin", "system")
    assert access.audit_context(session, Actor.cli()) == ("operator", "system")
    assert access.audit_context(session, Actor.anonymous("10.0.0.1", "x")) == ("anonymous", "-")
    assert access.audit_context(session, Actor(user=make_user())) == ("none", "-")
    many = make_user(
        roles=[(Role.MONITOR, make_site(f"M{n:02d}-LONG-CODE", study)) for n in range(12)]
    )
    role, where = access.audit_context(session, Actor(user=many))
    assert role == "monitor"
    assert len(where) <= access.SCOPE_WIDTH
    assert where.startswith("M00-LONG-CODE,")
    assert where.endswith(tuple(f",+{n}" for n in range(1, 12)))


def test_a_crawler_of_foreign_subjects_gets_404s_and_at_most_n_traces(app, client, make_study):
    study = make_study("crawl")
    home, elsewhere = make_site("FR-41", study), make_site("IT-41", study)
    foreign = make_subject(elsewhere)
    nurse = make_user(roles=[(Role.NURSE, home)])
    login(client, nurse)
    start = _last_seq()
    codes = [foreign.study_code] + [f"NB-IT41-{n:04d}" for n in range(2, 51)]
    for n, code in enumerate(codes):
        path = f"/subjects/{code}" if n % 2 else CRF.format(code=code)
        assert client.get(path).status_code == 404
    limit = app.config["EDC_SETTINGS"].denial_trace_limit
    traces = [e for e in _events_since(start) if e.action == "access.denied"]
    assert len(traces) == limit  # durable although each request answered 404, then no more
    first = traces[0]
    assert (first.entity_type, first.entity_id) == (
        "form_record",
        f"{foreign.study_code}/baseline/1/visit",
    )
    assert (first.actor_id, first.role, first.site_code) == (nurse.id, "nurse", "FR-41")
    assert first.new_value["path"] == CRF.format(code=foreign.study_code)
    assert traces[1].entity_type == "subject"


def test_downloads_of_the_access_review_are_audited(client):
    admin = make_user(roles=[(Role.ADMIN, None)])
    login(client, admin)
    start = _last_seq()
    body = client.get("/admin/access-review.csv").get_data(as_text=True)
    rows = len(body.strip().splitlines()) - 1
    (event,) = [e for e in _events_since(start) if e.action == "export.downloaded"]
    assert (event.entity_id, event.new_value["rows"], event.actor_id) == (
        "access-review",
        rows,
        admin.id,
    )


def test_the_security_csv_holds_the_rows_its_download_event_states(client):
    admin = make_user(roles=[(Role.ADMIN, None)])
    login(client, admin)
    body = client.get("/admin/security.csv?action=auth.login").get_data(as_text=True)
    event = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "export.downloaded")
        .order_by(AuditEvent.seq.desc())
    ).first()
    assert event.new_value == {
        "what": "security-events",
        "filters": {"action": "auth.login"},
        "rows": len(body.strip().splitlines()) - 1,
    }


# --- Account end dates: the end of that day in one documented zone ---------------------------

WINTER_DAY = dt.date(2027, 1, 29)
WINTER_END = dt.datetime(2027, 1, 29, 23, 0, tzinfo=dt.UTC)  # midnight in Brussels (UTC+1)
SUMMER_END = dt.datetime(2027, 7, 30, 22, 0, tzinfo=dt.UTC)  # midnight in Brussels (UTC+2)


def test_end_of_day_is_midnight_after_that_day_in_the_account_zone(app):
    settings = app.config["EDC_SETTINGS"]
    assert settings.account_timezone == "Europe/Brussels"
    assert users.end_of_day(WINTER_DAY, settings) == WINTER_END
    assert users.end_of_day(dt.date(2027, 7, 30), settings) == SUMMER_END
    assert users.end_day(WINTER_END, settings) == WINTER_DAY
    user = User(is_active=True, ends_at=WINTER_END)
    assert user.may_log_in(WINTER_END - dt.timedelta(seconds=1))  # 23:59:59 in Brussels
    assert not user.may_log_in(WINTER_END)


def test_the_admin_page_and_the_command_line_end_an_account_at_the_same_instant(app, client):
    login(client, make_user(roles=[(Role.ADMIN, None)]))
    form = client.get("/admin/users/new").get_data(as_text=True)
    assert "Europe/Brussels" in form
    created = client.post(
        "/admin/users/new",
        data={
            "email": "web.monitor@test.example",
            "full_name": "Web Monitor",
            "identity_check": "badge",
            "ends_at": WINTER_DAY.isoformat(),
            "csrf_token": csrf(client, "/admin/users/new"),
        },
    )
    assert created.status_code == 200
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "users", "create", "--email", "cli.monitor@test.example", "--name", "Cli Monitor",
            "--identity-check", "badge", "--ends", WINTER_DAY.isoformat(),
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    web = db.session.scalar(select(User).where(User.email == "web.monitor@test.example"))
    cli = db.session.scalar(select(User).where(User.email == "cli.monitor@test.example"))
    assert web.ends_at == cli.ends_at == WINTER_END
    detail = client.get(f"/admin/users/{web.id}").get_data(as_text=True)
    shown = detail.split('id="account-end">')[1].split("</dd>")[0]
    assert "29/01/2027" in shown  # in the reader's format
    assert "Europe/Brussels" in shown
    assert 'value="29/01/2027"' in detail  # the end-date form offers the same day back
    token = csrf(client, f"/admin/users/{web.id}")
    moved = client.post(
        f"/admin/users/{web.id}/end-date",
        data={"ends_at": "2027-07-30", "reason": "contract extended", "csrf_token": token},
    )
    assert moved.status_code == 302
    assert db.session.get(User, web.id).ends_at == SUMMER_END


# --- Logs in UTC ---------------------------------------------------------------------------


def test_log_lines_are_stamped_in_utc_whatever_the_server_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Auckland")
    record = logging.LogRecord("edc", logging.INFO, __file__, 1, "hello", None, None)
    record.created = dt.datetime(2026, 12, 3, 15, 4, 5, tzinfo=dt.UTC).timestamp()
    line = logs.UTCFormatter(logs.FORMAT).format(record)
    assert line == "2026-12-03T15:04:05Z INFO edc: hello"


def test_create_app_logs_through_one_utc_handler(monkeypatch):
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    portal = logging.getLogger("edc")
    level = portal.level
    portal.setLevel(logging.NOTSET)
    try:
        logs.configure(Flask("probe"))
        (handler,) = root.handlers
        assert isinstance(handler.formatter, logs.UTCFormatter)
        assert portal.getEffectiveLevel() == logging.INFO  # the portal's notices are shown
    finally:
        portal.setLevel(level)


@pytest.mark.commits
def test_parallel_refusals_never_leave_more_traces_than_the_limit(app):
    """Twenty refusals of one person at the same moment (PostgreSQL runs them in parallel):
    each passes the first count, but the count is asked again under the chain's lock, so the
    trail holds exactly the limit and the chain still verifies (no number left unused)."""
    import random

    from sqlalchemy.orm import Session

    from edc import audit

    someone = User(id=random.randint(10**8, 2 * 10**8), email="crawler@test.example")
    actor = Actor(user=someone, ip="127.0.0.9")
    limit = app.config["EDC_SETTINGS"].denial_trace_limit

    def refused() -> None:
        with app.test_request_context(), Session(db.engine) as session:
            access.trace_denial(session, actor, "subject", "NB-XX99-0001", {"path": "/x"})
            session.rollback()  # as the commit point does for a 404
            if audit.replay_durable(session):
                session.commit()

    assert at_once(20, refused) == [None] * 20
    with Session(db.engine) as check:
        traces = check.scalar(
            select(func.count()).where(
                AuditEvent.action == "access.denied", AuditEvent.actor_id == someone.id
            )
        )
        assert traces == limit
        assert audit.verify(check.connection()).ok
