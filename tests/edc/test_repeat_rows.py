"""Rows of repeating sections keep their identity; reasons for change are kept and quick to give.

Each test drives the CRF pages as a browser would: it posts what the rendered page would submit
(`submitted`), so the row markers, ids and reason inputs are the page's own.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from edc.access import Role
from edc.actor import Actor
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.crf import FormRecord
from edc.services import entries
from tests.edc.conftest import stored_study
from tests.factories import csrf, login, make_site, make_subject, make_user, site_reader
from tests.html_forms import submitted

STUDY = """\
study: {slug}
title: {{en: Rows, fr: Lignes}}
languages: [en, fr]
context:
  date_of_birth: date
choice_lists:
  reasons_for_change:
    - {{code: transcription, label: {{en: Transcription error, fr: Erreur de transcription}}}}
    - code: source_updated
      label: {{en: Source document updated, fr: Document source mis à jour}}
events:
  - id: baseline
    label: {{en: Baseline, fr: Inclusion}}
    forms: [meds]
"""
FORM = """\
form: meds
version: 1
title: {en: Medication, fr: Médicaments}
sections:
  - id: main
    title: {en: Main, fr: Principal}
    fields:
      - id: seen_at
        type: datetime
        label: {en: Seen at, fr: Vu à}
      - id: weight
        type: integer
        label: {en: Weight, fr: Poids}
      - id: total
        type: calc
        label: {en: Total dose, fr: Dose totale}
        calc: "sum(dose_mg)"
  - id: doses
    title: {en: Doses, fr: Doses}
    repeat: {min: 0, max: 4}
    fields:
      - id: drug
        type: text
        label: {en: Drug, fr: Médicament}
      - id: dose_mg
        type: integer
        label: {en: Dose (mg), fr: Dose (mg)}
"""


@pytest.fixture
def meds(tmp_path):
    """A subject at a Paris site, a form with a repeating section, and their nurse."""
    study = stored_study(tmp_path, "rows-test", STUDY, {"meds": FORM})
    site = make_site("FR-21", study)
    site.timezone = "Europe/Paris"
    from edc import audit

    audit.record(db.session, Actor.cli(), "site.timezone", target=site)
    db.session.commit()
    subject = make_subject(site, date_of_birth=dt.date(2024, 1, 10))
    nurse = make_user(roles=[(Role.NURSE, site)])
    url = f"/subjects/{subject.study_code}/crf/baseline/1/meds"
    return type("Meds", (), {"subject": subject, "nurse": nurse, "url": url})


def _form(client, url):
    """The page and what its form would submit."""
    page = client.get(url)
    assert page.status_code == 200
    return page.get_data(as_text=True)


def _send(client, url, values, action="draft"):
    data = {k: v for k, v in values.items() if k != "action"}
    return client.post(url, data={**data, "action": action})


def _three_rows_complete(client, meds):
    """A complete record with three doses, entered through the page."""
    login(client, meds.nurse)
    body = _form(client, meds.url)
    for _ in range(2):  # the page opens with one empty row; add two more
        values = submitted(body)
        body = _send(client, meds.url, values, "add_row:doses").get_data(as_text=True)
    values = submitted(body)
    ids = values["row:doses"]
    assert len(set(ids)) == 3
    for row_id, (drug, dose) in zip(ids, [("A", "10"), ("B", "20"), ("C", "30")], strict=True):
        values[f"doses-{row_id}-drug"] = [drug]
        values[f"doses-{row_id}-dose_mg"] = [dose]
    values["weight"] = ["12"]
    assert _send(client, meds.url, values, "complete").status_code == 302
    return ids


def _history(client, meds, path):
    response = client.get(f"{meds.url}/history/{path}", headers={"HX-Request": "true"})
    return response.status_code, response.get_data(as_text=True)


def _events(action):
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        )
    )


def test_removing_row_2_of_3_leaves_rows_1_and_3_with_their_own_history(client, meds):
    first, second, third = _three_rows_complete(client, meds)
    body = _form(client, meds.url)
    removed = _send(client, meds.url, submitted(body), f"remove_row:doses:{second}")
    values = submitted(removed.get_data(as_text=True))
    assert values["row:doses"] == [first, third]  # the third row keeps its id
    assert values[f"doses-{third}-drug"] == ["C"]
    asked = _send(client, meds.url, values)
    assert asked.status_code == 422  # a complete form: removing answers needs a reason
    page = asked.get_data(as_text=True)
    assert "Give a reason for removing this answer." in page
    values = submitted(page)
    values["reason:*"] = ["entered twice by mistake"]  # one reason for both removed items
    assert _send(client, meds.url, values).status_code == 302

    deleted = _events("item.deleted")
    assert sorted(e.item_path.rsplit("/", 1)[1] for e in deleted) == [
        f"doses-{second}-dose_mg",
        f"doses-{second}-drug",
    ]
    assert {e.reason for e in deleted} == {"entered twice by mistake"}
    assert {e.old_value for e in deleted} == {"B", 20}
    # No other row was touched: the third row's items were written once, when entered.
    status, third_history = _history(client, meds, f"doses-{third}-drug")
    assert status == 200
    assert third_history.count("<tr>") == 2  # header and its one entry
    assert "C" in third_history
    assert ">B<" not in third_history
    stored = _stored(meds)
    assert stored[f"doses-{first}-drug"] == "A"
    assert stored[f"doses-{third}-drug"] == "C"
    assert f"doses-{second}-drug" not in stored
    assert stored["total"] == 40  # recalculated, no reason asked
    total = [e for e in _events("item.changed") if e.item_path.endswith("/total")]
    assert [e.reason for e in total] == [""]


def _stored(meds):
    record = db.session.scalar(select(FormRecord).where(FormRecord.subject_id == meds.subject.id))
    return entries.stored_items(site_reader(record.subject.site), record)


def test_a_removed_rows_id_is_never_given_again(client, meds):
    *_, third = _three_rows_complete(client, meds)
    body = _form(client, meds.url)
    values = submitted(
        _send(client, meds.url, submitted(body), f"remove_row:doses:{third}").data.decode()
    )
    values["reason:*"] = ["wrong patient"]
    assert _send(client, meds.url, values).status_code == 302
    body = _form(client, meds.url)
    added = submitted(_send(client, meds.url, submitted(body), "add_row:doses").data.decode())
    new_id = added["row:doses"][-1]
    assert int(new_id) > int(third)  # a new row never takes the removed row's history
    record = db.session.scalar(select(FormRecord).where(FormRecord.subject_id == meds.subject.id))
    assert record.next_row == int(third) + 1


def test_rows_beyond_the_maximum_are_refused_before_any_work(client, meds):
    login(client, meds.nurse)
    token = csrf(client, meds.url)
    reads_before = db.session.scalar(
        select(func.count()).where(AuditEvent.action == "identity.read")
    )
    many = {f"doses-{i}-dose_mg": "1" for i in range(5)}  # max is 4
    for path in (meds.url, f"{meds.url}/evaluate"):
        response = client.post(path, data={**many, "csrf_token": token, "row_version": 0})
        assert response.status_code == 422
    markers = {"row:doses": [str(i) for i in range(100)]}
    response = client.post(meds.url, data={**markers, "csrf_token": token, "row_version": 0})
    assert response.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(FormRecord)) == 0
    reads_after = db.session.scalar(
        select(func.count()).where(AuditEvent.action == "identity.read")
    )
    assert reads_after == reads_before  # refused before the vault was opened


def test_a_refused_save_keeps_every_reason_typed(client, meds):
    _three_rows_complete(client, meds)
    values = submitted(_form(client, meds.url))
    values["weight"] = ["13"]
    values["seen_at"] = ["2026-03-10T09:15"]
    values["reason:weight"] = ["scale recalibrated"]  # the other change has no reason yet
    values["reason-pick:weight"] = ["source_updated"]
    refused = _send(client, meds.url, values)
    assert refused.status_code == 422
    again = submitted(refused.get_data(as_text=True))
    assert again["reason:weight"] == ["scale recalibrated"]
    assert again["reason-pick:weight"] == ["source_updated"]
    again["reason:seen_at"] = ["late entry"]
    assert _send(client, meds.url, again).status_code == 302
    events = sorted(_events("item.changed") + _events("item.created"), key=lambda e: e.seq)
    reasons = {e.item_path.rsplit("/", 1)[1]: e.reason for e in events}
    assert reasons["weight"] == "Source document updated: scale recalibrated"
    assert reasons["seen_at"] == "late entry"  # a first answer on a complete form: why, too


def test_a_live_redraw_keeps_the_reasons_typed(client, meds):
    _three_rows_complete(client, meds)
    values = submitted(_form(client, meds.url))
    values["weight"] = ["14"]
    values["reason:weight"] = ["typo"]
    token = values.pop("csrf_token")
    redraw = client.post(f"{meds.url}/evaluate", data={**values, "csrf_token": token})
    assert redraw.status_code == 200
    assert submitted(redraw.get_data(as_text=True))["reason:weight"] == ["typo"]


def test_one_standard_reason_covers_several_changes(client, meds):
    ids = _three_rows_complete(client, meds)
    values = submitted(_form(client, meds.url))
    values["weight"] = ["15"]
    values[f"doses-{ids[0]}-dose_mg"] = ["11"]
    values["reason-pick:*"] = ["transcription"]  # the study's pick-list, applied to all
    assert _send(client, meds.url, values).status_code == 302
    changed = {e.item_path.rsplit("/", 1)[1]: e for e in _events("item.changed")}
    assert changed["weight"].reason == "Transcription error"
    assert changed[f"doses-{ids[0]}-dose_mg"].reason == "Transcription error"
    assert changed["total"].reason == ""  # a calculation is never given a reason


def test_an_unknown_standard_reason_is_no_reason(client, meds):
    _three_rows_complete(client, meds)
    values = submitted(_form(client, meds.url))
    values["weight"] = ["16"]
    values["reason-pick:*"] = ["made_up"]
    assert _send(client, meds.url, values).status_code == 422


def test_date_times_are_stored_with_the_sites_utc_offset(client, meds):
    login(client, meds.nurse)
    values = submitted(_form(client, meds.url))
    values["seen_at"] = ["2026-07-01T09:30"]  # summer in Paris
    assert _send(client, meds.url, values).status_code == 302
    assert _stored(meds)["seen_at"] == "2026-07-01T09:30+02:00"
    again = submitted(_form(client, meds.url))
    assert again["seen_at"] == ["01/07/2026 09:30"]  # the wall clock, in the reader's format
    assert _send(client, meds.url, again).status_code == 302
    assert len([e for e in _events("item.created") if e.item_path.endswith("/seen_at")]) == 1
    assert not [e for e in _events("item.changed") if e.item_path.endswith("/seen_at")]


def test_the_conflict_view_names_items_by_label_and_row(client, meds):
    from tests.factories import another_browser

    colleague = make_user(roles=[(Role.NURSE, meds.subject.site)])
    login(client, meds.nurse)
    other = another_browser(client)
    login(other, colleague)
    mine = submitted(_form(client, meds.url))
    theirs = submitted(_form(other, meds.url))
    (row_id,) = theirs["row:doses"]
    theirs.update({"seen_at": ["2026-07-01T09:30"], f"doses-{row_id}-dose_mg": ["5"]})
    assert _send(other, meds.url, theirs).status_code == 302
    mine.update({"seen_at": ["2026-07-01T09:30"], f"doses-{row_id}-dose_mg": ["6"]})
    conflict = _send(client, meds.url, mine)
    assert conflict.status_code == 409
    table = conflict.get_data(as_text=True).split('id="conflict"')[1].split("</table>")[0]
    assert "<td>Dose (mg) (Row 1)</td><td>6</td><td>5</td>" in table
    assert "Seen at" not in table  # the same time, stored with its offset: no difference


def test_a_row_number_no_row_can_have_is_refused_at_once(client, meds):
    """A row number of 10^20 (or letters where a row id goes) is refused before anything is
    converted, evaluated or read: it once made a worker grow until it was killed."""
    login(client, meds.nurse)
    token = csrf(client, meds.url)
    for data in (
        {"doses-99999999999999999999-dose_mg": "1"},
        {"doses-1000000-dose_mg": "1"},
        {"row:doses": "99999999999999999999"},
        {"row:doses": "٣"},  # a digit, but not one of ours
    ):
        for path in (meds.url, f"{meds.url}/evaluate"):
            response = client.post(
                path, data={**data, "csrf_token": token, "row_version": 0},
                headers={"HX-Request": "true"},
            )  # fmt: skip
            assert response.status_code == 422, (data, path)
