"""Review of entered data through the pages: a monitor queries and verifies, the nurse answers
with a change, the data manager locks and lifts; the SDV sample is reproducible."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from edc.access import Role
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.monitoring import DataQuery, ItemVerification
from edc.services import sdv
from tests.factories import another_browser, csrf, login, make_site, make_user

COMPLETE = {
    "visit_date": "2026-03-10",
    "mycn": "not_amplified",
    "weight": "12",
    "action": "complete",
}


@pytest.fixture
def review(client, entry_for):
    """The form saved complete by the nurse; a monitor and a data manager of its study."""
    subject = entry_for.subject
    site, study = subject.site, subject.study
    code, study_id, site_code = subject.study_code, subject.study_id, site.code
    monitor_user = make_user(roles=[(Role.MONITOR, site)])
    manager_user = make_user(roles=[(Role.DATA_MANAGER, study)])
    other_site = make_site("IT-77", study)
    url = f"/subjects/{code}/crf/baseline/1/visit"
    nurse = another_browser(client)
    login(nurse, entry_for.nurse)
    token = csrf(nurse, url)
    assert (
        nurse.post(url, data={**COMPLETE, "csrf_token": token, "row_version": 0}).status_code == 302
    )
    monitor = another_browser(client)
    login(monitor, monitor_user)
    manager = another_browser(client)
    login(manager, manager_user)

    class Review:
        pass

    r = Review()
    r.url, r.nurse, r.monitor, r.manager = url, nurse, monitor, manager
    r.code, r.study_id, r.site_code, r.other_site = code, study_id, site_code, other_site
    return r


def _post(browser, url, page, **data):
    return browser.post(url, data={**data, "csrf_token": csrf(browser, page)})


def _since(seq: int, action: str) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.seq > seq, AuditEvent.action == action)
    return list(db.session.scalars(query.order_by(AuditEvent.seq)))


def _head() -> int:
    from sqlalchemy import func

    return db.session.scalar(select(func.max(AuditEvent.seq))) or 0


def test_a_query_answered_by_a_change_links_the_change_and_is_closed(review):
    start = _head()
    raised = _post(
        review.monitor,
        review.url + "/queries",
        review.url,
        item="weight",
        text="Weight seems low: check the chart",
    )
    assert raised.status_code == 302
    page = review.nurse.get(review.url).get_data(as_text=True)
    assert "Weight seems low" in page
    assert "1 open query" in page.split('id="field-weight"', 1)[1][:400]  # next to the item
    # The nurse corrects the weight with a reason: the change answers the query.
    token = csrf(review.nurse, review.url)
    saved = review.nurse.post(
        review.url,
        data={**COMPLETE, "weight": "14", "reason:weight": "Transcription error, chart says 14",
              "csrf_token": token, "row_version": 1},
    )  # fmt: skip
    assert saved.status_code == 302
    query = db.session.scalars(select(DataQuery)).one()
    assert query.status == "answered"
    answer = query.messages[-1]
    assert (answer.kind, answer.text, answer.old, answer.new) == (
        "answered", "Transcription error, chart says 14", 12, 14,
    )  # fmt: skip
    change = db.session.get(AuditEvent, answer.change_seq)
    assert change.action == "item.changed"
    assert change.item_path.endswith("/weight")
    shown = review.monitor.get(review.url).get_data(as_text=True)
    assert "changed from 12 to 14" in shown
    closed = _post(review.monitor, f"/queries/{query.id}/closed", review.url, text="Thanks")
    assert closed.status_code == 302
    assert db.session.get(DataQuery, query.id).status == "closed"
    assert [e.action for e in _since(start, "query.raised")] == ["query.raised"]
    assert len(_since(start, "query.closed")) == 1


def test_monitors_cannot_answer_and_nurses_cannot_raise_or_close(review):
    _post(review.monitor, review.url + "/queries", review.url, item="", text="Whole form?")
    query = db.session.scalars(select(DataQuery)).one()
    assert (
        _post(review.monitor, f"/queries/{query.id}/answered", review.url, text="x").status_code
        == 404
    )
    assert _post(review.nurse, review.url + "/queries", review.url, text="x").status_code == 404
    assert (
        _post(review.nurse, f"/queries/{query.id}/closed", review.url, text="").status_code == 404
    )
    assert (
        _post(review.nurse, f"/queries/{query.id}/answered", review.url, text="Done").status_code
        == 302
    )
    other_site = another_browser(review.nurse)
    login(other_site, make_user(roles=[(Role.MONITOR, review.other_site)]))
    assert other_site.get(f"/queries/{query.id}").status_code == 404
    link = f'href="/queries/{query.id}"'
    assert link not in other_site.get("/queries?status=all").get_data(as_text=True)
    assert link in review.monitor.get("/queries?status=all").get_data(as_text=True)


def test_a_refused_query_keeps_the_text(review):
    long_item = _post(
        review.monitor, review.url + "/queries", review.url, item="nosuchfield", text="Keep me"
    )
    assert long_item.status_code == 422
    assert "Keep me" in long_item.get_data(as_text=True)


def test_sdv_of_the_whole_form_and_a_change_after_sdv(review):
    version = 1
    verified = _post(
        review.monitor, review.url + "/sdv", review.url, whole="1", row_version=version
    )
    assert verified.status_code == 302
    rows = db.session.scalars(select(ItemVerification)).all()
    assert {r.item_key for r in rows} >= {"weight", "mycn", "visit_date"}
    page = review.monitor.get(review.url).get_data(as_text=True)
    assert "Verified by" in page
    assert "Verified" in page  # the record's status
    token = csrf(review.nurse, review.url)
    review.nurse.post(
        review.url,
        data={**COMPLETE, "weight": "15", "reason:weight": "Re-weighed", "csrf_token": token,
              "row_version": 1},
    )  # fmt: skip
    page = review.monitor.get(review.url).get_data(as_text=True)
    assert "Changed after SDV" in page
    weight = db.session.scalars(
        select(ItemVerification).where(ItemVerification.item_key == "weight")
    ).one()
    assert weight.reset_at is not None
    others = db.session.scalars(
        select(ItemVerification).where(ItemVerification.item_key == "mycn")
    ).one()
    assert others.reset_at is None  # only the changed item is undone


def test_sdv_refuses_a_form_changed_since_the_monitor_opened_it(review):
    stale = _post(review.monitor, review.url + "/sdv", review.url, whole="1", row_version=0)
    assert stale.status_code == 302
    assert db.session.scalars(select(ItemVerification)).all() == []
    assert "changed since you opened it" in review.monitor.get(review.url).get_data(as_text=True)


def test_a_lock_makes_the_form_read_only_for_everyone_until_lifted_with_a_reason(review):
    placed = _post(review.manager, "/locks", "/locks", level="form", subject=review.code,
                   event="baseline", number="1", form="visit")  # fmt: skip
    assert placed.status_code == 302
    page = review.nurse.get(review.url).get_data(as_text=True)
    assert "Locked by" in page
    assert 'name="action" value="complete"' not in page
    token = csrf(review.nurse, review.url)
    forged = review.nurse.post(
        review.url,
        data={
            **COMPLETE,
            "weight": "16",
            "reason:weight": "x",
            "csrf_token": token,
            "row_version": 1,
        },
    )
    assert forged.status_code == 403
    assert "16" not in str(
        db.session.scalars(
            select(AuditEvent.new_value).where(AuditEvent.action == "item.changed")
        ).all()
    )
    assert (
        _post(
            review.monitor, "/locks", "/account", level="study", study=str(review.study_id)
        ).status_code
        == 404
    )
    placed = select(AuditEvent.entity_id).where(AuditEvent.action == "lock.placed")
    lock_id = db.session.scalar(placed.order_by(AuditEvent.seq.desc()).limit(1))
    refused = _post(review.manager, f"/locks/{lock_id}/lift", "/locks", reason="")
    assert refused.status_code == 422
    lifted = _post(
        review.manager,
        f"/locks/{lock_id}/lift",
        "/locks",
        reason="Correction requested by the site",
    )
    assert lifted.status_code == 302
    assert 'value="complete"' in review.nurse.get(review.url).get_data(as_text=True)


def test_a_locked_form_says_so_where_its_status_is_not_at_the_foot_of_the_page(review):
    def status() -> str:
        page = review.nurse.get(review.url).get_data(as_text=True)
        found = re.search(r'id="record-status" data-status="(\w+)">([^<]+)<', page)
        assert found is not None
        return f"{found[1]}: {found[2]}"

    assert status() == "complete: Complete"
    _post(review.manager, "/locks", "/locks", level="form", subject=review.code,
          event="baseline", number="1", form="visit")  # fmt: skip
    assert status() == "locked: Locked"
    placed = select(AuditEvent.entity_id).where(AuditEvent.action == "lock.placed")
    lock_id = db.session.scalar(placed.order_by(AuditEvent.seq.desc()).limit(1))
    _post(review.manager, f"/locks/{lock_id}/lift", "/locks", reason="Late result to enter")
    assert status() == "complete: Complete"


def test_a_site_lock_covers_every_subject_of_the_site(review):
    site_code = review.site_code
    assert (
        _post(review.manager, "/locks", "/locks", level="site", site=site_code).status_code == 302
    )
    assert "Locked by" in review.nurse.get(review.url).get_data(as_text=True)
    assert (
        _post(review.manager, "/locks", "/locks", level="site", site=site_code).status_code == 302
    )
    assert "locked already" in review.manager.get("/locks").get_data(as_text=True)


def test_the_sdv_sample_follows_from_its_seed_and_changes_only_by_an_audited_redraw(review):
    codes = [f"NB-FR09-{n:04d}" for n in range(1, 201)]
    first = [c for c in codes if sdv.in_sample("seed-a", c, 20)]
    assert first == [c for c in codes if sdv.in_sample("seed-a", c, 20)]  # reproducible
    assert 20 <= len(first) <= 60  # about a fifth
    assert first != [c for c in codes if sdv.in_sample("seed-b", c, 20)]
    url = f"/sites/{review.site_code}/sdv-plan"
    assert (
        _post(review.manager, url, url, mode="sample", percent="20", reason="").status_code == 422
    )
    assert (
        _post(
            review.manager, url, url, mode="sample", percent="20", reason="Monitoring plan v2"
        ).status_code
        == 302
    )
    assert (
        _post(
            review.manager, url, url, mode="sample", percent="20", reason="Re-draw: site asked"
        ).status_code
        == 302
    )
    plans = [
        e for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action == "sdv.plan_set"))
    ]
    assert [p.reason for p in plans][-2:] == ["Monitoring plan v2", "Re-draw: site asked"]
    assert plans[-1].new_value["seed"] != plans[-2].new_value["seed"]
    assert review.monitor.get(url).status_code == 404  # a plan is the data manager's


def test_the_to_do_lists_queries_waiting_for_each_side_and_forms_to_verify(review):
    home = review.monitor.get("/").get_data(as_text=True)
    assert "1 subject with forms to verify" in home
    assert f'/subjects/{review.code}"' in home
    _post(review.monitor, review.url + "/queries", review.url, item="weight", text="Check weight")
    query = db.session.scalars(select(DataQuery)).one()
    nurse_home = review.nurse.get("/").get_data(as_text=True)
    assert "1 query waiting for you" in nurse_home
    assert f"#query-{query.id}" in nurse_home
    assert "open, to answer" in nurse_home
    assert "query waiting" not in review.monitor.get("/").get_data(as_text=True)  # not theirs yet
    _post(review.nurse, f"/queries/{query.id}/answered", review.url, text="Checked: correct")
    monitor_home = review.monitor.get("/").get_data(as_text=True)
    assert "answered, to review and close" in monitor_home
    assert "query waiting" not in review.nurse.get("/").get_data(as_text=True)
    _post(review.monitor, review.url + "/sdv", review.url, whole="1", row_version=1)
    assert "forms to verify" not in review.monitor.get("/").get_data(as_text=True)


def test_the_to_do_counts_items_changed_since_the_monitors_last_visit(review):
    site_page = f"/monitoring/sites/{review.site_code}"
    assert _post(review.monitor, site_page + "/visits/start", site_page).status_code == 302
    assert _post(review.monitor, site_page + "/visits/end", site_page).status_code == 302
    assert "changed since your last visit" not in review.monitor.get("/").get_data(as_text=True)
    token = csrf(review.nurse, review.url)
    review.nurse.post(
        review.url,
        data={**COMPLETE, "weight": "13", "mycn": "amplified", "copies": "9",
              "reason:*": "Lab report", "csrf_token": token, "row_version": 1},
    )  # fmt: skip
    home = review.monitor.get("/").get_data(as_text=True)
    assert "3 items changed since your last visit" in home  # weight, mycn, copies
    assert site_page in home


def test_the_subject_page_shows_locks_and_open_queries_and_locks_a_visit_or_the_subject(review):
    subject_url = f"/subjects/{review.code}"
    _post(review.monitor, review.url + "/queries", review.url, text="Whole form?")
    page = review.nurse.get(subject_url).get_data(as_text=True)
    assert "1 open query" in page
    assert "Lock this visit" not in page  # a nurse locks nothing
    manager_page = review.manager.get(subject_url).get_data(as_text=True)
    assert "Lock this visit" in manager_page
    assert "Lock this subject" in manager_page
    placed = _post(review.manager, "/locks", subject_url, level="event", subject=review.code,
                   event="baseline", number="1", next=subject_url)  # fmt: skip
    assert placed.headers["Location"].endswith(subject_url)
    assert "status-locked" in review.nurse.get(subject_url).get_data(as_text=True)
    _post(review.manager, "/locks", subject_url, level="subject", subject=review.code)
    assert "nothing of this subject can change" in review.nurse.get(subject_url).get_data(
        as_text=True
    )
    evil = _post(review.manager, "/locks", subject_url, level="subject", subject=review.code,
                 next="//evil.example/")  # fmt: skip
    assert evil.headers["Location"] == "/locks"  # never sent off-site


#: Endpoints whose POST a monitor uses (review, not data), and those of their own account.
MONITOR_POSTS = {
    "monitoring.raise_query", "monitoring.verify", "monitoring.query_step",
    "monitor_visits.visit_start", "monitor_visits.visit_end", "crf.form_evaluate",
}  # fmt: skip
OWN_ACCOUNT = ("auth.", "account.", "home.", "roles.")


def test_a_monitor_gets_403_or_404_on_every_write_of_data(app, review):
    """With the real addresses of a form of their own site, every POST that writes data (and
    every review step that is not theirs: locks, plans, answers) is refused."""
    values = {
        "code": review.code, "event_id": "baseline", "number": 1, "form_id": "visit",
        "site_code": review.site_code, "kind": "answered", "query_id": 1, "lock_id": 1,
        "path": "weight",
    }  # fmt: skip
    token = csrf(review.monitor, review.url)
    checked = []
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.endpoint.startswith(OWN_ACCOUNT):
            continue
        if rule.endpoint in MONITOR_POSTS and rule.endpoint != "monitoring.query_step":
            continue
        if not set(rule.arguments) <= set(values):
            values_for = {a: values.get(a, 1) for a in rule.arguments}
        else:
            values_for = {a: values[a] for a in rule.arguments}
        url = rule.build(values_for)[1]
        data = {**COMPLETE, "weight": "99", "reason:*": "x", "row_version": 1,
                "csrf_token": token, "level": "form", "subject": review.code,
                "event": "baseline", "number": "1", "form": "visit", "text": "x",
                "reason": "x", "mode": "all"}  # fmt: skip
        response = review.monitor.post(url, data=data)
        assert response.status_code in (403, 404), (rule.endpoint, response.status_code)
        checked.append(rule.endpoint)
    assert {"crf.form_save", "monitoring.place_lock", "signing.sign_form"} <= set(checked)
    weights = db.session.scalars(
        select(AuditEvent.new_value).where(AuditEvent.action == "item.changed")
    )
    assert 99 not in list(weights)
