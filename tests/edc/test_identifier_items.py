"""Form items marked `identifier: true` follow the identity vault's rules: site staff see them
and each display is an `identity.read`; monitors, data managers and central roles see a mask
on every page (form, live redraw, item history) and cannot change or empty them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from edc import access, audit
from edc.access import Permission, Role
from edc.actor import Actor
from edc.context import Context
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.models.crf import ItemValue
from edc.services import data_entry, entries
from edc.settings import ROOT
from edc.web import app_context
from tests.edc.conftest import stored_study
from tests.factories import another_browser, csrf, login, make_site, make_subject, make_user

STUDY = """\
study: {slug}
title: Test study
languages: [en]
events:
  - id: baseline
    label: Baseline
    forms: [visit]
"""
FORM = """\
form: visit
version: 1
title: Visit
sections:
  - id: main
    title: Main
    fields:
      - id: weight
        type: integer
        label: Weight
      - id: referring_physician
        type: text
        label: Referring physician
        identifier: true
      - id: physician_again
        type: calc
        label: Physician (as entered)
        calc: "referring_physician"
      - id: birth_hospital
        type: choice
        label: Hospital of birth
        identifier: true
        choices: [{code: quiterie, label: Hôpital Sainte-Quiterie}, {code: other, label: Other}]
  - id: contacts
    title: Contacts
    repeat: {min: 0, max: 3}
    fields:
      - id: contact_name
        type: text
        label: Contact
        identifier: true
decision_tables:
  referral:
    title: Referral route
    inputs: [birth_hospital]
    outputs:
      route: Route
    rows:
      - id: local
        when: {birth_hospital: [quiterie]}
        then: {route: local_follow_up}
      - id: regional
        when: {birth_hospital: [other]}
        then: {route: regional_follow_up}
"""
PHYSICIAN = "Dr Gregory Housemartin"
CONTACT = "Jeanne Contactière"
MASK = "Hidden: identifying information"


@pytest.fixture
def study(tmp_path):
    """A subject whose complete visit holds a referring physician and a contact (identifier
    items), the site's nurse, its monitor and the study's data manager."""
    study = stored_study(tmp_path, "ident-test", STUDY, {"visit": FORM})
    site = make_site("FR-31", study)
    subject = make_subject(site)
    nurse = make_user(roles=[(Role.NURSE, site)])
    entry = entries.open_entry(
        Context(db.session(), Actor(user=nurse)), subject, "baseline", 1, "visit"
    )
    assert entry is not None
    saved = data_entry.save(
        Context(db.session(), Actor(user=nurse)), entry,
        data_entry.SaveRequest(
            {"weight": "10", "referring_physician": PHYSICIAN,
             "contacts-0-contact_name": CONTACT, "birth_hospital": "quiterie"},
            expected_version=0, complete=True,
        ),
    )  # fmt: skip
    assert saved.outcome is data_entry.Outcome.SAVED
    db.session.commit()
    return SimpleNamespace(
        site=site,
        subject=subject,
        nurse=nurse,
        monitor=make_user(roles=[(Role.MONITOR, site)]),
        data_manager=make_user(roles=[(Role.DATA_MANAGER, study)]),
    )


def _url(study, suffix: str = "") -> str:
    return f"/subjects/{study.subject.study_code}/crf/baseline/1/visit{suffix}"


def _reads(code: str) -> list[dict]:
    return list(
        db.session.scalars(
            select(AuditEvent.new_value)
            .where(AuditEvent.action == "identity.read", AuditEvent.entity_id == code)
            .order_by(AuditEvent.seq)
        )
    )


def _stored(path: str):
    return db.session.scalar(select(ItemValue.value).where(ItemValue.path == path))


def test_site_staff_see_identifier_items_and_each_display_is_an_identity_read(client, study):
    login(client, study.nurse)
    code = study.subject.study_code
    before = len(_reads(code))
    page = client.get(_url(study))
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert PHYSICIAN in body
    assert CONTACT in body
    assert MASK not in body
    reads = _reads(code)[before:]
    assert reads == [
        {"purpose": "form", "form": "visit",
         "items": ["birth_hospital", "contacts-0-contact_name", "physician_again",
                   "referring_physician"]}
    ]  # fmt: skip
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "identity.read").order_by(
            AuditEvent.seq.desc()).limit(1)
    )  # fmt: skip
    assert event.entity_type == "subject_identity"  # shaped like the vault's own reads
    assert event.site_code == "FR-31"
    assert PHYSICIAN not in str(event.new_value)  # which items, never their values
    client.get(_url(study))
    assert len(_reads(code)) == before + 2  # every display


@pytest.mark.parametrize("who", ["monitor", "data_manager"])
def test_central_roles_see_a_mask_and_no_identifier_value(client, study, who):
    login(client, getattr(study, who))
    before = len(_reads(study.subject.study_code))
    page = client.get(_url(study))
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert PHYSICIAN not in body
    assert CONTACT not in body
    assert "Housemartin" not in body
    assert "Sainte-Quiterie" not in body
    # physician, the calculation copying it, hospital, row 1's contact, the decision on the hospital
    form, review = body.split('id="review"', 1)
    assert form.count(MASK) == 5
    assert review.count(MASK) == 4  # the review table masks the same stored items
    assert "Referring physician" in body  # the item is there, its value is not
    assert 'name="referring_physician"' not in body
    assert "10" in body  # other answers are shown as before
    assert len(_reads(study.subject.study_code)) == before  # nothing read, nothing recorded


def test_item_history_of_an_identifier_item_is_masked_for_a_monitor(client, study):
    login(client, study.nurse)
    token = csrf(client, _url(study))
    changed = client.post(
        _url(study),
        data={"weight": "10", "referring_physician": "Dr Otto Replacement",
              "contacts-0-contact_name": CONTACT, "row:contacts": "0", "birth_hospital": "quiterie",
              "reason:*": "wrong doctor", "csrf_token": token, "action": "draft",
              "row_version": 1},
    )  # fmt: skip
    assert changed.status_code == 302, changed.get_data(as_text=True)
    code = study.subject.study_code
    before = len(_reads(code))
    own = client.get(_url(study, "/history/referring_physician"), headers={"HX-Request": "true"})
    assert PHYSICIAN in own.get_data(as_text=True)
    assert "Dr Otto Replacement" in own.get_data(as_text=True)
    assert _reads(code)[before:] == [
        {"purpose": "item history", "form": "visit", "items": ["referring_physician"]}
    ]
    monitor = another_browser(client)
    login(monitor, study.monitor)
    before = len(_reads(code))
    for path in ("referring_physician", "contacts-0-contact_name"):
        history = monitor.get(_url(study, f"/history/{path}"), headers={"HX-Request": "true"})
        text = history.get_data(as_text=True)
        assert history.status_code == 200
        assert PHYSICIAN not in text
        assert "Otto Replacement" not in text
        assert CONTACT not in text
        assert MASK in text
    assert "wrong doctor" in monitor.get(_url(study, "/history/referring_physician")).get_data(
        as_text=True
    )  # who changed it, when and why stay visible
    assert len(_reads(code)) == before


def test_a_monitor_where_the_site_lets_monitors_open_identities_sees_them_audited(client, study):
    study.site.monitors_see_identity = True  # the vault's own rule, so the same for items
    audit.record(db.session, Actor.cli(), "site.monitor_identity", target=study.site)
    db.session.commit()
    login(client, study.monitor)
    before = len(_reads(study.subject.study_code))
    body = client.get(_url(study)).get_data(as_text=True)
    assert PHYSICIAN in body
    assert len(_reads(study.subject.study_code)) == before + 1


def test_someone_entering_data_without_the_identity_permission_cannot_see_or_empty_them(
    client, study, monkeypatch
):
    """Today every role that enters data may open identities at its site; should one ever not,
    the masked items are neither shown, nor echoed, nor overwritten by what is posted."""
    no_identity = access.ROLE_PERMISSIONS[Role.NURSE] - {
        Permission.IDENTITY_VIEW,
        Permission.IDENTITY_EDIT,
    }
    monkeypatch.setitem(access.ROLE_PERMISSIONS, Role.NURSE, no_identity)
    login(client, study.nurse)
    page = client.get(_url(study)).get_data(as_text=True)
    assert PHYSICIAN not in page
    assert MASK in page
    token = csrf(client, _url(study))
    changed = {"weight": "12", "row:contacts": "0", "csrf_token": token, "row_version": 1}
    live = client.post(
        _url(study, "/evaluate"), data=changed, headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert PHYSICIAN not in live
    assert CONTACT not in live  # no "changed from ... to –" either
    asked = client.post(_url(study), data={**changed, "action": "draft"})
    assert asked.status_code == 422  # a complete record: the weight's change needs a reason
    assert PHYSICIAN not in asked.get_data(as_text=True)
    saved = client.post(
        _url(study),
        data={**changed, "action": "draft", "reason:*": "scale", "referring_physician": "x"},
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)
    assert _stored("weight") == 12
    assert _stored("referring_physician") == PHYSICIAN  # neither emptied nor replaced
    assert _stored("contacts-0-contact_name") == CONTACT
    paths = db.session.scalars(
        select(AuditEvent.item_path).where(AuditEvent.action.in_(data_entry.ITEM_ACTIONS))
    ).all()
    assert sum(p.endswith("/referring_physician") for p in paths) == 1  # the first save's only


def test_the_demo_study_referring_physician_is_masked_for_its_monitor(client, tmp_path):
    """The demo's registration form marks the referring physician as an identifier."""
    from edc.services.definitions import load_definition
    from tests.factories import make_study

    study = make_study("siopen-nb")
    load_definition(app_context(Actor.cli()), study, ROOT / "studies" / "siopen-nb", utcnow())
    db.session.commit()
    site = make_site("FR-01", study)
    subject = make_subject(site)
    nurse = make_user(roles=[(Role.NURSE, site)])
    entry = entries.open_entry(
        Context(db.session(), Actor(user=nurse)), subject, "registration", 1, "registration"
    )
    assert entry is not None
    saved = data_entry.save(
        Context(db.session(), Actor(user=nurse)), entry,
        data_entry.SaveRequest({"referring_physician": PHYSICIAN}, expected_version=0),
    )  # fmt: skip
    assert saved.outcome is data_entry.Outcome.SAVED
    db.session.commit()
    login(client, make_user(roles=[(Role.MONITOR, site)]))
    url = f"/subjects/{subject.study_code}/crf/registration/1/registration"
    body = client.get(url).get_data(as_text=True)
    assert PHYSICIAN not in body
    assert MASK in body
    reads = db.session.scalar(
        select(func.count()).where(
            AuditEvent.action == "identity.read", AuditEvent.actor_id.is_not(None),
            AuditEvent.entity_id == subject.study_code, AuditEvent.role == "monitor",
        )
    )  # fmt: skip
    assert reads == 0


def test_a_decision_resting_on_an_identifier_item_is_shown_as_the_item_is(client, study):
    """Its result and explanation tell the answer (here: the hospital of birth)."""
    subject_page = f"/subjects/{study.subject.study_code}"
    login(client, study.nurse)
    before = len(_reads(study.subject.study_code))
    own = client.get(subject_page).get_data(as_text=True)
    assert "Sainte-Quiterie" in own  # the explanation names the answer
    assert "local_follow_up" in own
    assert _reads(study.subject.study_code)[before:] == [
        {"purpose": "decision support", "form": "visit", "items": ["birth_hospital"]}
    ]
    for who in (study.monitor, study.data_manager):
        reader = another_browser(client)
        login(reader, who)
        before = len(_reads(study.subject.study_code))
        page = reader.get(subject_page).get_data(as_text=True)
        assert "Referral route" in page  # the decision is there, not what it tells
        assert "Sainte-Quiterie" not in page
        assert "follow_up" not in page
        assert MASK in page
        assert len(_reads(study.subject.study_code)) == before
