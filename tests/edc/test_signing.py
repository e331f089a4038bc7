"""Investigators' e-signatures (21 CFR 11.50, 11.70, 11.100, 11.200; checklist 14-19): both
components every time, the certification once, only complete data, only at one's own sites,
the hash of exactly the data signed, invalidation by a change, the manifestation on the pages
and the to-sign list."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from types import SimpleNamespace

import pyotp
import pytest
from sqlalchemy import func, select, update

from edc import audit
from edc.access import Role
from edc.actor import Actor
from edc.errors import Conflict, Denied, Invalid
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.models.crf import FormRecord, ItemValue
from edc.models.monitoring import ESignature, SignatureCertification
from edc.models.subjects import Subject
from edc.services import casebook, data_entry, entries, signing, todo
from tests.edc.conftest import FORM, stored_study
from tests.factories import (
    another_browser,
    csrf,
    login,
    make_site,
    make_subject,
    make_user,
    next_code,
    portal_context,
    statements_for,
)

STUDY = """\
study: {slug}
title: Signing test
languages: [en]
context:
  date_of_birth: date
events:
  - id: baseline
    label: Baseline
    forms: [visit, notes]
  - id: review
    label: Review
    repeating: true
    visit_date: true
    forms: [notes]
"""
NOTES = """\
form: notes
version: 1
title: Notes
sections:
  - id: main
    title: Main
    fields:
      - id: remark
        type: text
        label: Remark
"""
VISIT = {"visit_date": "2025-06-02", "mycn": "not_amplified", "weight": "12"}


@pytest.fixture
def trial(app, tmp_path):
    """A subject at FR-77 whose baseline visit form and notes are complete, its investigator
    (Dr Claire Moreau) and nurse, and people who must not sign there."""
    study = stored_study(tmp_path, "esign", STUDY, {"visit": FORM, "notes": NOTES})
    site, other = make_site("FR-77", study), make_site("IT-77", study)
    subject = make_subject(site, date_of_birth=dt.date(2025, 1, 10))
    nurse = make_user(roles=[(Role.NURSE, site)])
    investigator = make_user(roles=[(Role.INVESTIGATOR, site)])
    investigator.full_name = "Dr Claire Moreau"
    audit.record(db.session, Actor.cli(), "user.changed", target=investigator)
    db.session.commit()
    t = SimpleNamespace(
        app=app, study=study, site=site, other=other, subject=subject, nurse=nurse,
        investigator=investigator,
    )  # fmt: skip
    save(t, "baseline", 1, "visit", VISIT, complete=True)
    save(t, "baseline", 1, "notes", {"remark": "all well"}, complete=True)
    return t


def ctx_of(t, user, at=None):
    """A service context for `user` in the portal, its clock at `at` (a later time gives a
    fresh TOTP step)."""
    base = portal_context(t.app, Actor(user=user, ip="127.0.0.1"))
    moment = at or utcnow()
    return dataclasses.replace(base, clock=lambda: moment)


def subject_of(t) -> Subject:
    subject = db.session.get(Subject, t.subject.id)
    assert subject is not None
    return subject


def save(t, event_id, number, form_id, posted, *, complete=False, reasons=None):
    ctx = ctx_of(t, t.nurse)
    entry = entries.open_entry(ctx, subject_of(t), event_id, number, form_id)
    assert entry is not None
    result = data_entry.save(
        ctx,
        entry,
        data_entry.SaveRequest(
            posted, expected_version=entry.row_version, complete=complete,
            reasons=reasons or ({"*": "typo corrected"} if entry.record else {}),
        ),
    )  # fmt: skip
    assert result.outcome is data_entry.Outcome.SAVED, result.outcome
    db.session.commit()
    return record_of(t, event_id, number, form_id)


def record_of(t, event_id, number, form_id) -> FormRecord:
    ctx = ctx_of(t, t.nurse)
    entry = entries.open_entry(ctx, subject_of(t), event_id, number, form_id)
    assert entry is not None
    assert entry.record is not None
    return entry.record


def sign(t, user=None, *, minutes=1, event_id=None, number=None, form_id=None, **kw):
    """Sign through the service as `user` (the investigator), `minutes` ahead so that each
    signature of a test has a TOTP step of its own."""
    user = user or t.investigator
    at = utcnow() + dt.timedelta(minutes=minutes)
    ctx = ctx_of(t, user, at)
    target = signing.target(ctx, subject_of(t), event_id, number, form_id)
    asked = {"meaning": "approve", "password": user.password, "certify": True}
    asked |= {"code": pyotp.TOTP(user.totp_plain).at(at)} | kw
    signature = signing.sign(ctx, target, **asked)
    db.session.commit()
    return signature


def events(action: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        )
    )


FORM_URL = "/subjects/{code}/sign/baseline/1/visit"


def post_sign(client, t, url=None, **fields):
    url = url or FORM_URL.format(code=t.subject.study_code)
    data = {"meaning": "approve", "password": t.investigator.password, "certify": "y"}
    data |= {"csrf_token": csrf(client, url), "code": next_code(t.investigator)} | fields
    return client.post(url, data=data)


# --- Signing: both components, every time -----------------------------------------------------


def test_an_investigator_signs_a_form_with_password_and_a_fresh_code(trial, client):
    t = trial
    login(client, t.investigator)
    url = FORM_URL.format(code=t.subject.study_code)
    page = client.get(url).get_data(as_text=True)
    assert "legally binding equivalent of my handwritten signature" in page
    assert "I approve these data" in page
    assert "I have reviewed these data" in page
    response = post_sign(client, t, meaning="review")
    assert response.status_code == 302, response.get_data(as_text=True)
    signature = db.session.scalars(select(ESignature)).one()
    record = record_of(t, "baseline", 1, "visit")
    assert (signature.level, signature.record_id, signature.meaning) == (
        "form",
        record.id,
        "review",
    )
    assert signature.printed_name == "Dr Claire Moreau"
    assert signature.signer_id == t.investigator.id
    reader = ctx_of(t, t.nurse)
    assert signature.data_hash == signing.data_hash(
        reader, subject_of(t), record.occurrence_id, record.id
    )
    applied = events("signature.applied")[-1]
    assert applied.entity_type == "e_signature"
    assert applied.entity_id == str(signature.id)
    assert applied.new_value["data_hash"] == signature.data_hash
    assert applied.new_value["meaning"] == "review"
    assert applied.new_value["printed_name"] == "Dr Claire Moreau"
    assert {"level", "subject", "signed_at"} <= applied.new_value.keys()
    assert applied.site_code == "FR-77"
    assert applied.role == "investigator"


def test_a_wrong_password_or_code_or_a_replayed_code_signs_nothing_and_counts(trial, client):
    t = trial
    login(client, t.investigator)
    wrong_password = post_sign(client, t, password="not my password at all")
    assert wrong_password.status_code == 422
    assert "current password is not correct" in wrong_password.get_data(as_text=True)
    code = next_code(t.investigator)
    wrong_code = post_sign(client, t, code=code[::-1] if code[::-1] != code else "000000")
    assert wrong_code.status_code == 422
    assert "Wrong code." in wrong_code.get_data(as_text=True)
    used = next_code(t.investigator)
    assert post_sign(client, t, code=used).status_code == 302
    db.session.commit()
    again = post_sign(
        client, t, url=f"/subjects/{t.subject.study_code}/sign/baseline/1/notes", code=used
    )
    assert again.status_code == 422
    assert "already been used" in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ESignature)) == 1
    who = str(t.investigator.id)
    assert [e.entity_id for e in events("auth.password_check_failed")] == [who]
    assert [e.entity_id for e in events("auth.totp_failed")] == [who]
    assert [e.entity_id for e in events("auth.totp_replay")] == [who]


def test_failed_signatures_lead_to_the_sign_in_lockout(trial, client):
    t = trial
    login(client, t.investigator)
    for _attempt in range(5):
        assert post_sign(client, t, password="wrong wrong wrong").status_code == 422
    assert len(events("auth.lockout")) == 1
    locked = post_sign(client, t)  # the right password and code: refused all the same
    assert locked.status_code == 422
    assert "Too many failed attempts" in locked.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ESignature)) == 0
    stranger = another_browser(client)  # the sign-in is locked too
    token = csrf(stranger, "/login")
    who = {"email": t.investigator.email, "password": t.investigator.password}
    stranger.post("/login", data={**who, "csrf_token": token})
    assert len(events("auth.throttled")) >= 2


def test_a_replayed_code_is_refused_by_the_service_too(trial):
    t = trial
    at = utcnow() + dt.timedelta(minutes=2)
    code = pyotp.TOTP(t.investigator.totp_plain).at(at)
    sign(t, minutes=2, event_id="baseline", number=1, form_id="visit", code=code)
    with pytest.raises(signing.CredentialsRefused, match="already been used"):
        sign(t, minutes=2, event_id="baseline", number=1, form_id="notes", code=code)


# --- The certification (11.100(c)), once ------------------------------------------------------


def test_the_certification_is_required_before_the_first_signature_only(trial, client):
    t = trial
    login(client, t.investigator)
    refused = post_sign(client, t, certify="")
    assert refused.status_code == 422
    assert "Certify that your electronic signature binds you" in refused.get_data(as_text=True)
    assert db.session.get(SignatureCertification, t.investigator.id) is None
    assert post_sign(client, t).status_code == 302
    certification = db.session.get(SignatureCertification, t.investigator.id)
    assert certification is not None
    assert "legally binding equivalent of my handwritten signature" in certification.statement
    certified = events("signature.certified")
    assert [e.entity_id for e in certified] == [str(t.investigator.id)]
    notes = f"/subjects/{t.subject.study_code}/sign/baseline/1/notes"
    assert "legally binding equivalent" not in client.get(notes).get_data(as_text=True)
    sign(t, minutes=3, event_id="baseline", number=1, form_id="notes", certify=False)
    assert len(events("signature.certified")) == 1


# --- Who may sign (11.10(g), 11.200(a)(2)-(3)) -------------------------------------------------


@pytest.mark.parametrize("role", ["nurse", "monitor", "data_manager", "other_investigator"])
def test_only_an_investigator_of_the_site_reaches_the_signing_pages(trial, client, role):
    t = trial
    people = {
        "nurse": lambda: t.nurse,
        "monitor": lambda: make_user(roles=[(Role.MONITOR, t.site)]),
        "data_manager": lambda: make_user(roles=[(Role.DATA_MANAGER, t.study)]),
        "other_investigator": lambda: make_user(roles=[(Role.INVESTIGATOR, t.other)]),
    }
    person = people[role]()
    login(client, person)
    token = csrf(client, "/account")
    code = t.subject.study_code
    for url in (f"/subjects/{code}/sign", f"/subjects/{code}/sign/baseline/1",
                FORM_URL.format(code=code)):  # fmt: skip
        assert client.get(url).status_code == 404, url
        posted = {"csrf_token": token, "meaning": "approve", "password": person.password,
                  "code": next_code(person), "certify": "y"}  # fmt: skip
        assert client.post(url, data=posted).status_code == 404, url
    assert db.session.scalar(select(func.count()).select_from(ESignature)) == 0
    with pytest.raises(Denied):
        signing.target(ctx_of(t, person), subject_of(t))


def test_nobody_signs_on_another_s_behalf_the_signature_names_the_signer(trial):
    t = trial
    other = make_user(
        password="a different passphrase of hers", roles=[(Role.INVESTIGATOR, t.site)]
    )
    signature = sign(t, other, event_id="baseline", number=1, form_id="visit")
    assert signature.signer_id == other.id
    assert signature.printed_name == other.full_name
    with pytest.raises(signing.CredentialsRefused):  # another's password does not sign as them
        sign(t, other, minutes=2, password=t.investigator.password)


# --- Only complete data -----------------------------------------------------------------------


def test_only_complete_or_verified_records_may_be_signed_and_the_page_says_which(trial, client):
    t = trial
    save(t, "review", 1, "notes", {"remark": "draft"})  # in progress
    login(client, t.investigator)
    code = t.subject.study_code
    page = client.get(f"/subjects/{code}/sign")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Not ready yet: Notes (Review #1): In progress" in text
    assert 'name="password"' not in text
    posted = post_sign(client, t, url=f"/subjects/{code}/sign")
    assert posted.status_code == 409
    with pytest.raises(Conflict, match="Not ready yet"):
        sign(t, event_id="review", number=1)
    assert db.session.scalar(select(func.count()).select_from(ESignature)) == 0


def test_a_meaning_outside_the_fixed_set_is_refused(trial):
    with pytest.raises(Invalid, match="means"):
        sign(trial, event_id="baseline", number=1, form_id="visit", meaning="whatever")
    assert db.session.scalar(select(func.count()).select_from(ESignature)) == 0


def test_an_event_and_a_casebook_signature_cover_every_record(trial):
    t = trial
    event = sign(t, event_id="baseline", number=1, meaning="review")
    book = sign(t, minutes=2, meaning="approve")
    visit, notes = record_of(t, "baseline", 1, "visit"), record_of(t, "baseline", 1, "notes")
    assert (event.level, event.occurrence_id, event.record_id) == (
        "event",
        visit.occurrence_id,
        None,
    )
    assert (book.level, book.occurrence_id, book.record_id) == ("casebook", None, None)
    reader = ctx_of(t, t.nurse)
    assert book.data_hash == signing.data_hash(reader, subject_of(t))
    assert event.data_hash == signing.data_hash(reader, subject_of(t), visit.occurrence_id)
    assert event.data_hash != signing.data_hash(
        reader, subject_of(t), notes.occurrence_id, notes.id
    )


# --- The hash and invalidation (11.70; checklist 16, 18) --------------------------------------


def test_the_hash_changes_when_one_value_changes(trial):
    t = trial
    record = record_of(t, "baseline", 1, "visit")
    reader = ctx_of(t, t.nurse)
    before = signing.data_hash(reader, subject_of(t), record.occurrence_id, record.id)
    assert len(before) == 64
    assert before == signing.data_hash(reader, subject_of(t), record.occurrence_id, record.id)
    save(t, "baseline", 1, "visit", {**VISIT, "weight": "13"}, complete=True)
    after = signing.data_hash(reader, subject_of(t), record.occurrence_id, record.id)
    assert after != before


def test_a_change_invalidates_the_form_event_and_casebook_signatures_covering_it(trial):
    t = trial
    save(t, "review", 1, "notes", {"remark": "later"}, complete=True)
    form = sign(t, event_id="baseline", number=1, form_id="visit")
    event = sign(t, minutes=2, event_id="baseline", number=1)
    book = sign(t, minutes=3)
    review = sign(t, minutes=4, event_id="review", number=1)  # another visit: not touched
    assert all(signing.still_valid(ctx_of(t, t.nurse), s) for s in (form, event, book, review))
    record = save(
        t, "baseline", 1, "visit", {**VISIT, "weight": "13"}, complete=True,
        reasons={"*": "weight corrected"},
    )  # fmt: skip  # the save itself invalidates what covers the record
    nurse = ctx_of(t, t.nurse)
    for s in (form, event, book):
        db.session.refresh(s)
        assert s.invalidated_at is not None
        assert s.invalidated_reason == "weight corrected"
        assert not signing.still_valid(nurse, s)
    db.session.refresh(review)
    assert review.invalidated_at is None
    assert signing.still_valid(nurse, review)
    trail = events("signature.invalidated")
    assert sorted(int(e.entity_id) for e in trail) == sorted([form.id, event.id, book.id])
    assert all(e.entity_type == "e_signature" for e in trail)
    assert trail[0].new_value == {
        "record": record.id,
        "form": "visit",
        "reason": "weight corrected",
    }
    assert signing.invalidate_for_change(nurse, record, "again") == []  # nothing valid left


def test_a_first_save_in_a_signed_casebook_invalidates_the_casebook_signature(trial):
    t = trial
    book = sign(t)
    save(t, "review", 1, "notes", {"remark": "added after signing"})
    db.session.refresh(book)
    assert book.invalidated_at is not None
    assert not signing.still_valid(ctx_of(t, t.nurse), book)


def test_a_change_the_hook_missed_still_shows_the_signature_invalid(trial, client):
    t = trial
    signature = sign(t, event_id="baseline", number=1, form_id="visit", meaning="review")
    record = record_of(t, "baseline", 1, "visit")
    db.session.execute(  # a change behind the save's back (a hand-made database fix)
        update(ItemValue)
        .where(ItemValue.record_id == record.id, ItemValue.path == "weight")
        .values(value="14")
    )
    db.session.commit()
    db.session.refresh(signature)
    assert signature.invalidated_at is None
    assert not signing.still_valid(ctx_of(t, t.nurse), signature)
    login(client, t.nurse)
    page = client.get(f"/subjects/{t.subject.study_code}/crf/baseline/1/visit")
    text = page.get_data(as_text=True)
    assert "<del>" in text
    assert "the data changed after this signature" in text


# --- Manifestation (11.50) --------------------------------------------------------------------

STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\+00:00")


def test_the_crf_and_subject_pages_show_name_utc_time_and_meaning(trial, client):
    t = trial
    signature = sign(t, event_id="baseline", number=1, form_id="visit", meaning="review")
    login(client, t.nurse)  # every reader of the form sees it
    text = client.get(f"/subjects/{t.subject.study_code}/crf/baseline/1/visit").get_data(True)
    stamp = signing.utc_stamp(signature.signed_at)
    assert STAMP.fullmatch(stamp)
    assert "Dr Claire Moreau" in text
    assert stamp in text
    assert "I have reviewed these data" in text
    assert "Sign this form" not in text  # for the nurse: no signing
    subject_page = client.get(f"/subjects/{t.subject.study_code}").get_data(as_text=True)
    assert "Dr Claire Moreau" in subject_page
    assert stamp in subject_page


def test_an_invalidated_signature_is_struck_through_with_when_and_why(trial, client):
    t = trial
    login(client, t.investigator)  # before the signature: it takes a later TOTP step
    sign(t, event_id="baseline", number=1, form_id="visit")
    save(
        t, "baseline", 1, "visit", {**VISIT, "weight": "15"}, complete=True,
        reasons={"*": "weight corrected"},
    )  # fmt: skip
    (signature,) = db.session.scalars(select(ESignature)).all()
    at = signature.invalidated_at
    assert at is not None
    text = client.get(f"/subjects/{t.subject.study_code}/crf/baseline/1/visit").get_data(True)
    assert "<del>" in text
    assert f"Invalidated on {signing.utc_stamp(at)}: weight corrected" in text
    assert "Sign this form" in text  # to be signed again


def test_the_form_page_shows_a_valid_signature_as_its_status_until_a_change(trial, client):
    t = trial
    login(client, t.nurse)
    url = f"/subjects/{t.subject.study_code}/crf/baseline/1/visit"

    def status() -> str | None:
        found = re.search(r'id="record-status" data-status="(\w+)"', client.get(url).get_data(True))
        return found[1] if found else None

    assert status() == "complete"
    sign(t, event_id="baseline", number=1, form_id="visit")
    assert status() == "signed"
    save(
        t, "baseline", 1, "visit", {**VISIT, "weight": "15"}, complete=True,
        reasons={"*": "weight corrected"},
    )  # fmt: skip
    assert status() == "complete"


def test_the_stamp_is_utc_whatever_the_zone_of_the_moment():
    paris = dt.timezone(dt.timedelta(hours=1))
    moment = dt.datetime(2026, 12, 4, 11, 15, 3, tzinfo=paris)
    assert signing.utc_stamp(moment) == "2026-12-04 10:15:03 UTC+00:00"


# --- The to-sign list (checklist 18) ----------------------------------------------------------


def _to_sign(t, user=None):
    listed = todo.todo(ctx_of(t, user or t.investigator))
    return [
        (task.form_id, task.event_id, task.resign)
        for site in listed.sites
        for task in site.categories["sign"].tasks
    ]


def test_complete_records_wait_on_the_investigators_list_until_signed(trial, client):
    t = trial
    login(client, t.investigator)  # before the signatures: they take later TOTP steps
    assert sorted(_to_sign(t)) == [("notes", "baseline", False), ("visit", "baseline", False)]
    assert _to_sign(t, t.nurse) == []
    sign(t, event_id="baseline", number=1, form_id="visit")
    assert _to_sign(t) == [("notes", "baseline", False)]
    sign(t, minutes=2)
    assert _to_sign(t) == []
    record = save(t, "baseline", 1, "visit", {**VISIT, "weight": "16"}, complete=True)
    signing.invalidate_for_change(ctx_of(t, t.nurse), record, "weight corrected")
    db.session.commit()
    assert sorted(_to_sign(t)) == [("notes", "baseline", True), ("visit", "baseline", True)]
    home = client.get("/").get_data(as_text=True)
    assert "2 forms to sign" in home
    assert "changed after it was signed: sign again" in home
    assert FORM_URL.format(code=t.subject.study_code) in home


def test_the_to_sign_list_costs_the_same_queries_for_many_subjects(trial, client):
    t = trial
    login(client, t.investigator)
    statements_for(client, "/")  # the study's definition is read once per process
    one = statements_for(client, "/")
    for _n in range(3):
        other = make_subject(t.site, family_name="Martin")
        t.subject = other
        save(t, "baseline", 1, "notes", {"remark": "x"}, complete=True)
    assert statements_for(client, "/") == one


def test_a_visit_with_nothing_entered_has_nothing_to_sign(trial):
    t = trial
    nurse = ctx_of(t, t.nurse)
    number = casebook.add_occurrence(
        nurse, subject_of(t), "review", utcnow(), visit_date=dt.date(2025, 7, 1)
    )
    db.session.commit()
    with pytest.raises(Conflict, match="nothing to sign"):
        sign(t, event_id="review", number=number)


def test_the_trail_export_carries_the_signature_manifestation(trial, client):
    t = trial
    login(client, t.investigator)
    signature = sign(t, event_id="baseline", number=1, form_id="visit", meaning="approve")
    csv = client.get("/audit/trail.csv?action=signature.applied").get_data(as_text=True)
    assert signature.printed_name in csv
    assert signature.signed_at.isoformat() in csv  # UTC, with its offset
    assert "approve" in csv
    assert signature.data_hash in csv
