"""The data manager's Registry page: what waits, what was sent, what is parked and why, and
sending parked items again."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.registry import RegistryOutbox
from tests.edc.registry.trial import (
    POSTED,
    Registry,
    consent,
    entered,
    lock_subject,
    push,
    queued,
    save,
)
from tests.factories import csrf, login, make_subject


def _fresh(row_id: int) -> RegistryOutbox:
    """The row as the last request left it (pages work in a session of their own)."""
    db.session.expire_all()
    found = db.session.get(RegistryOutbox, row_id)
    assert found is not None
    return found


def _parked(trial):
    settings = replace(trial[5], registry_max_attempts=1)
    entered(trial)
    push(settings, Registry(down=True))
    (row,) = queued(trial[2])
    assert row.state == "parked"
    return row


def test_the_page_counts_the_outbox_and_names_what_is_parked(client, trial):
    row = _parked(trial)
    login(client, trial[4])
    page = client.get("/registry").get_data(as_text=True)
    assert '<dd id="count-parked">1</dd>' in page
    assert f"{trial[2].study_code} · baseline/1 · diagnosis" in page
    assert "unreachable: connection refused" in page
    assert f'id="retry-{row.id}"' in page


def test_ticked_parked_items_are_sent_again(client, trial):
    row = _parked(trial)
    login(client, trial[4])
    token = csrf(client, "/registry")
    answer = client.post(
        f"/registry/{trial[0].slug}/retry", data={"item": [str(row.id)], "csrf_token": token}
    )
    assert answer.status_code == 302
    assert "1 item will be sent again now." in client.get("/registry").get_data(as_text=True)
    row = _fresh(row.id)
    assert row.state == "pending"
    assert row.attempts == 0


def test_site_staff_cannot_see_or_retry(client, trial):
    row = _parked(trial)
    login(client, trial[3])  # the site's nurse
    assert client.get("/registry").status_code in (403, 404)
    token = csrf(client, "/")
    refused = client.post(
        f"/registry/{trial[0].slug}/retry", data={"item": [str(row.id)], "csrf_token": token}
    )
    assert refused.status_code in (403, 404)
    row = _fresh(row.id)
    assert row.state == "parked"


def test_a_forged_list_of_items_is_bounded_and_ignored_where_not_parked(client, trial):
    row = _parked(trial)
    login(client, trial[4])
    token = csrf(client, "/registry")
    items = ["x", "-1", "9" * 40, *[str(i) for i in range(600)]]
    answer = client.post(
        f"/registry/{trial[0].slug}/retry", data={"item": items, "csrf_token": token}
    )
    assert answer.status_code == 302
    assert "at most 500" in client.get("/registry").get_data(as_text=True)
    row = _fresh(row.id)
    assert row.state == "parked"


def test_every_parked_item_is_sent_again_at_once(client, trial):
    """After a long outage more items are parked than the page lists: one button sends them
    all again, and the trail says how many."""
    first = _parked(trial)
    others = [make_subject(trial[1], family_name=f"Enfant{n}") for n in range(2)]
    settings = replace(trial[5], registry_max_attempts=1)
    for child in others:
        consent(child, trial[3])
        save(trial[3], child, "diagnosis", POSTED)
        lock_subject(trial[4], trial[0], child)
    push(settings, Registry(down=True))
    rows = [first, *(row for child in others for row in queued(child))]
    assert {r.state for r in rows} == {"parked"}
    login(client, trial[4])
    page = client.get("/registry").get_data(as_text=True)
    assert "Send all 3 parked items again" in page
    token = csrf(client, "/registry")
    answer = client.post(
        f"/registry/{trial[0].slug}/retry", data={"every": "parked", "csrf_token": token}
    )
    assert answer.status_code == 302
    assert "3 items will be sent again now." in client.get("/registry").get_data(as_text=True)
    assert {_fresh(r.id).state for r in rows} == {"pending"}
    assert {_fresh(r.id).attempts for r in rows} == {0}
    event = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "registry.retried", AuditEvent.entity_id == trial[0].slug)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).one()
    assert event.new_value == {"items": "every parked item", "count": 3}


def test_site_staff_cannot_send_every_parked_item_again(client, trial):
    row = _parked(trial)
    login(client, trial[3])
    token = csrf(client, "/")
    refused = client.post(
        f"/registry/{trial[0].slug}/retry", data={"every": "parked", "csrf_token": token}
    )
    assert refused.status_code in (403, 404)
    assert _fresh(row.id).state == "parked"
