"""The re-consent pages and the to-do list through HTTP: site staff see their subjects to
consent again and the children reaching majority; a wrong number of days answers 422; staff of
other sites and central roles find nothing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from econsent.library import use_folder
from edc.access import Role
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.services import consent_scope
from tests.econsent.kiosk.reconsent_helpers import run_consent, with_v2
from tests.factories import (
    another_browser,
    login,
    make_site,
    make_subject,
    make_user,
    statements_for,
)


def _page(client, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, path
    return response.get_data(as_text=True)


def test_site_staff_see_who_consents_again_on_the_home_page_and_the_lists(
    app, client, clinic, tmp_path
):
    since = db.session.scalar(select(func.max(AuditEvent.seq))) or 0  # others' committed ones
    fr = clinic("FR", age=2)
    today = utcnow().date()
    birthday = today + dt.timedelta(days=20)
    teen = make_subject(
        fr.site,
        family_name="Garnier",
        date_of_birth=dt.date(birthday.year - 18, birthday.month, min(birthday.day, 28)),
    )
    with app.test_request_context():
        run_consent(fr, fr.subject)
        run_consent(fr, teen)
        db.session.commit()
    use_folder(fr.site.study.slug, with_v2(tmp_path, effective=today))

    login(client, fr.nurse)
    home = _page(client, "/")
    assert "3 consents to ask again" in home  # both on version 1; the teen soon 18 too
    assert fr.subject.study_code in home
    assert 'href="/consent/majority"' in home  # the way to the lists
    tasks = _page(client, "/consent/reconsent")
    assert "New version of the consent" in tasks
    assert "Age of majority: consent as an adult" in tasks
    assert tasks.count(f">{teen.study_code}</a>") == 2  # a new version, and majority
    coming = _page(client, "/consent/majority?days=30")
    assert teen.study_code in coming
    assert fr.subject.study_code not in coming
    assert "No child of your sites" in _page(client, "/consent/majority?days=5")
    for wrong in ("0", "400", "x" * 40):
        assert "from 1 to 366" in _page(client, f"/consent/majority?days={wrong}", 422)

    other = make_user(roles=[(Role.NURSE, make_site("FR-72", fr.site.study))])
    monitor = make_user(roles=[(Role.MONITOR, fr.site)])
    for user in (other, monitor):
        browser = another_browser(client)
        login(browser, user)
        for path in ("/consent/majority", "/consent/reconsent", "/"):
            assert teen.study_code not in browser.get(path).get_data(as_text=True)
    reads = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "identity.read", AuditEvent.seq > since)
    ).all()
    assert reads
    assert all(e.site_code == fr.site.code for e in reads)


def test_the_to_do_list_costs_the_same_queries_however_many_consent_again(
    app, client, clinic, tmp_path
):
    fr = clinic("FR", age=2)

    def consented(n: int) -> None:
        for i in range(n):
            subject = make_subject(
                fr.site, family_name=f"Blanc{i}", date_of_birth=dt.date(2023, 1, 1)
            )
            consent_scope.put_in_force(fr.ctx(), subject, consent_scope.Granted(
                reference=f"paper:{subject.study_code}", document="parent_consent",
                title="Consent", version="1", language="fr", options={}, since=utcnow(),
            ))  # fmt: skip
        db.session.commit()

    consented(1)
    use_folder(fr.site.study.slug, with_v2(tmp_path, effective=utcnow().date()))
    login(client, fr.nurse)
    statements_for(client, "/")  # opens the task
    one = statements_for(client, "/")
    consented(4)
    statements_for(client, "/")  # opens theirs
    assert "5 consents to ask again" in _page(client, "/")
    assert statements_for(client, "/") == one


def test_route_matrix_central_roles_find_no_reconsent_page(app, client, clinic):
    """Lists of the reader's own sites: staff elsewhere get an empty list; a monitor, a data
    manager and an administrator, who run no consents, get 404 on every route and method."""
    fr = clinic("FR", age=2)
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("reconsent.")]
    assert {r.endpoint for r in rules} == {"reconsent.tasks", "reconsent.majority"}
    outsiders = [
        make_user(roles=[(Role.MONITOR, fr.site)]),
        make_user(roles=[(Role.DATA_MANAGER, fr.site.study)]),
        make_user(roles=[(Role.ADMIN, None)]),
    ]
    for user in outsiders:
        browser = another_browser(client)
        login(browser, user)
        for rule in rules:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                response = browser.open(rule.rule + "?days=30", method=method)
                assert response.status_code == 404, (user.email, rule.endpoint, method)


def test_the_subject_page_says_which_consent_is_asked_again_until_when(
    app, client, clinic, tmp_path
):
    fr = clinic("FR", age=2)
    today = utcnow().date()
    with app.test_request_context():
        run_consent(fr, fr.subject)
        db.session.commit()
    login(client, fr.nurse)
    page = _page(client, f"/subjects/{fr.subject.study_code}")
    asked = page[page.index('id="reconsent-tasks"') :]
    assert "Age of majority: consent as an adult" in asked  # the parents' consent ends at 18
    assert "New version of the consent" not in asked
    use_folder(fr.site.study.slug, with_v2(tmp_path, effective=today - dt.timedelta(days=40)))
    _page(client, "/")  # the to-do list opens the task
    page = _page(client, f"/subjects/{fr.subject.study_code}")
    tasks = page[page.index('id="reconsent-tasks"') :]
    assert "New version of the consent" in tasks
    assert "version 2" in tasks
    assert "(passed: entry waits for the new consent)" in tasks  # 30 days of grace, 40 ago
    monitor = another_browser(client)
    login(monitor, make_user(roles=[(Role.MONITOR, fr.site)]))
    assert 'id="reconsent-tasks"' in _page(monitor, f"/subjects/{fr.subject.study_code}")
