"""The casebook PDF of a subject (issue 13 item 8; checklist 15, 23, 24): every item value in
words, each item's history with its reasons for change, verification, queries with their
threads and the manifestation of every signature, read back from the PDF's text as an inspector
would; identifier items masked for those who may not see them; the download audited."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
from types import SimpleNamespace

import pyotp
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from edc import audit, dates, forms_bridge
from edc.access import Role
from edc.actor import Actor
from edc.casebook_pdf import render
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.models.monitoring import ESignature
from edc.models.subjects import Subject
from edc.services import casebook, data_entry, entries, locks, queries, sdv, signing
from tests.edc.conftest import stored_study
from tests.factories import (
    another_browser,
    login,
    make_site,
    make_subject,
    make_user,
    portal_context,
    statements_for,
)

STUDY = """\
study: {slug}
title: Casebook test
languages: [en]
events:
  - id: baseline
    label: Baseline
    forms: [visit, notes]
  - id: review
    label: Review
    repeating: true
    forms: [notes]
"""
VISIT_FORM = """\
form: visit
version: 2
title: Visit
sections:
  - id: main
    title: Main
    fields:
      - id: visit_date
        type: date
        label: Visit date
      - id: mycn
        type: choice
        label: MYCN status
        choices: [{code: amplified, label: Amplified}, {code: not_amplified, label: Not amplified}]
      - id: weight
        type: decimal
        label: Weight
        unit: kg
      - id: physician
        type: text
        label: Referring physician
        identifier: true
  - id: doses
    title: Doses
    repeat: {min: 0, max: 3}
    fields:
      - id: drug
        type: choice
        label: Drug
        choices: [{code: carbo, label: Carboplatin}, {code: etopo, label: Etoposide}]
      - id: dose_mg
        type: integer
        label: Dose (mg)
"""
NOTES_FORM = """\
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
PHYSICIAN = "Dr Gregory Housemartin"
WEIGHT_REASON = "scale recalibrated"
REMARK_REASON = "corrected after the query"
VISIT = {
    "visit_date": "2025-06-02",
    "mycn": "not_amplified",
    "weight": "12.5",
    "physician": PHYSICIAN,
    "doses-0-drug": "carbo",
    "doses-0-dose_mg": "150",
    "doses-1-drug": "etopo",
    "doses-1-dose_mg": "90",
}
MASK = "Hidden: identifying information"


def ctx_of(t, user, minutes: int = 0):
    """A service context for `user`, its clock `minutes` ahead (a fresh TOTP step each)."""
    moment = utcnow() + dt.timedelta(minutes=minutes)
    base = portal_context(t.app, Actor(user=user, ip="127.0.0.1"))
    return dataclasses.replace(base, clock=lambda: moment)


def subject_of(t) -> Subject:
    subject = db.session.get(Subject, t.subject.id)
    assert subject is not None
    return subject


def entry_of(t, user, form_id: str, event_id: str = "baseline", number: int = 1):
    entry = entries.open_entry(ctx_of(t, user), subject_of(t), event_id, number, form_id)
    assert entry is not None
    return entry


def save(t, form_id, posted, *, reasons=None, event_id="baseline", number=1):
    entry = entry_of(t, t.nurse, form_id, event_id, number)
    result = data_entry.save(
        ctx_of(t, t.nurse),
        entry,
        data_entry.SaveRequest(
            posted, expected_version=entry.row_version, complete=True, reasons=reasons or {}
        ),
    )
    assert result.outcome is data_entry.Outcome.SAVED, result.outcome
    db.session.commit()


def sign(t, minutes: int, *, form_id=None) -> ESignature:
    at_minutes = ctx_of(t, t.investigator, minutes)
    event_id, number = ("baseline", 1) if form_id else (None, None)
    target = signing.target(at_minutes, subject_of(t), event_id, number, form_id)
    code = pyotp.TOTP(t.investigator.totp_plain).at(at_minutes.now())
    signature = signing.sign(
        at_minutes, target, meaning="approve", password=t.investigator.password, code=code,
        certify=True,
    )  # fmt: skip
    db.session.commit()
    return signature


@pytest.fixture
def book(app, tmp_path):
    """A subject of FR-88 whose visit was completed, then corrected with a reason, verified and
    locked; whose notes were verified, queried, signed, then corrected (which answered the query,
    undid the verification and invalidated the signature); and a casebook signature over all."""
    study = stored_study(
        tmp_path, "casebook-pdf", STUDY, {"visit": VISIT_FORM, "notes": NOTES_FORM}
    )
    site = make_site("FR-88", study)
    investigator = make_user(roles=[(Role.INVESTIGATOR, site)])
    investigator.full_name = "Dr Claire Moreau"
    audit.record(db.session, Actor.cli(), "user.changed", target=investigator)
    db.session.commit()
    t = SimpleNamespace(
        app=app, study=study, site=site, subject=make_subject(site),
        nurse=make_user(roles=[(Role.NURSE, site)]), investigator=investigator,
        monitor=make_user(roles=[(Role.MONITOR, site)]),
        manager=make_user(roles=[(Role.DATA_MANAGER, study)]),
    )  # fmt: skip
    save(t, "visit", VISIT)
    save(t, "visit", {**VISIT, "weight": "12.9"}, reasons={"weight": WEIGHT_REASON})
    save(t, "notes", {"remark": "all well"})
    for form_id in ("visit", "notes"):
        entry = entry_of(t, t.monitor, form_id)
        assert entry.record is not None
        sdv.verify(ctx_of(t, t.monitor), entry, None, entry.record.row_version)
    queries.raise_query(
        ctx_of(t, t.monitor), entry_of(t, t.monitor, "notes"), "remark", "Please confirm it"
    )
    db.session.commit()
    t.form_signature = sign(t, 1, form_id="notes")
    save(t, "notes", {"remark": "all well, seen twice"}, reasons={"remark": REMARK_REASON})
    t.signature = sign(t, 2)
    visit = entry_of(t, t.manager, "visit")
    manager = ctx_of(t, t.manager)
    target = locks.Target(
        locks.Level.FORM, study, subject=subject_of(t), occurrence=visit.occurrence,
        form_id="visit",
    )  # fmt: skip
    locks.place(manager, target, "database lock")
    db.session.commit()
    return t


def url_of(t) -> str:
    return f"/subjects/{t.subject.study_code}/casebook.pdf"


def download(t, client, user):
    browser = another_browser(client)
    login(browser, user)
    return browser.get(url_of(t))


def text_of(pdf: bytes) -> str:
    """The PDF's text, whitespace collapsed (lines wrap where the layout wants)."""
    pages = PdfReader(io.BytesIO(pdf)).pages
    return " ".join(" ".join(page.extract_text() or "" for page in pages).split())


def reads(t) -> list[dict]:
    return list(
        db.session.scalars(
            select(AuditEvent.new_value)
            .where(
                AuditEvent.action == "identity.read", AuditEvent.entity_id == t.subject.study_code
            )
            .order_by(AuditEvent.seq)
        )
    )


def exports(t) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.action == "casebook.exported",
                AuditEvent.entity_id == t.subject.study_code,
            )
            .order_by(AuditEvent.seq)
        )
    )


def test_the_nurse_downloads_every_value_reason_status_and_signature(book, client):
    t = book
    response = download(t, client, t.nurse)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="casebook-{t.subject.study_code}.pdf"'
    )
    assert "no-store" in response.headers["Cache-Control"]
    text = text_of(response.data)
    # Every stored item, in words: choice labels, the date as written in English, the unit.
    visit = entry_of(t, t.nurse, "visit")
    for key, value in visit.stored.items():
        assert forms_bridge.item_answer(visit.form, key, value, "en") in text, key
    assert dates.shown(dt.date(2025, 6, 2), "en") in text
    for words in ("Not amplified", "12.9 kg", "Carboplatin", "Etoposide", "150", "90", PHYSICIAN,
                  "all well, seen twice", "MYCN status", "Dose (mg)"):  # fmt: skip
        assert words in text, words
    # The history: the old value stays readable, with the reasons for change.
    assert "12.5" in text
    assert WEIGHT_REASON in text
    assert REMARK_REASON in text
    # Statuses as shown: the visit locked, the notes covered by the casebook signature.
    assert "Baseline Visit Locked" in text  # the overview
    assert "Baseline Notes Signed" in text
    assert "Status Locked" in text  # the forms' own pages
    assert "Status Signed" in text
    assert "Form version 2" in text
    # Verification, and the query's thread with the change that answered it.
    assert "Verified by" in text
    assert "Changed after SDV" in text
    assert "Please confirm it" in text
    assert "changed from all well to all well, seen twice" in text
    # The manifestation: printed name, UTC time with offset, meaning; the invalidated one marked.
    assert f"Dr Claire Moreau, {signing.utc_stamp(t.signature.signed_at)}" in text
    assert "I approve these data" in text
    assert "Casebook" in text
    assert f"Invalidated on {signing.utc_stamp(t.form_signature.signed_at)}"[:24] in text
    assert "To be signed again." in text
    # Every page names the study and the subject, and counts the pages.
    pages = len(PdfReader(io.BytesIO(response.data)).pages)
    assert text.count(f"{t.study.title} · {t.subject.study_code}") == pages
    assert f"Page 1 of {pages}" in text
    assert f"Page {pages} of {pages}" in text


def test_identifier_items_show_to_site_staff_as_an_audited_read_and_are_masked_for_others(
    book, client
):
    t = book
    before = len(reads(t))
    nurse = download(t, client, t.nurse)
    assert PHYSICIAN in text_of(nurse.data)
    assert MASK not in text_of(nurse.data)
    read = reads(t)[before:]
    assert read == [{"purpose": "casebook", "form": "visit", "items": ["physician"]}]
    for reader in (t.monitor, t.manager):
        response = download(t, client, reader)
        assert response.status_code == 200
        text = text_of(response.data)
        assert PHYSICIAN not in text, reader.email
        assert MASK in text
        assert "Carboplatin" in text  # the rest is there
        assert WEIGHT_REASON in text
    assert len(reads(t)) == before + 1  # their copies opened no identity


def test_another_sites_nurse_gets_404_and_nothing_is_exported(book, client):
    t = book
    stranger = make_user(roles=[(Role.NURSE, make_site("IT-88", t.study))])
    assert download(t, client, stranger).status_code == 404
    assert exports(t) == []


def test_each_download_is_audited_with_the_hash_of_its_bytes(book, client):
    t = book
    first = download(t, client, t.nurse)
    second = download(t, client, t.manager)
    events = exports(t)
    assert len(events) == 2
    for event, response, role in ((events[0], first, "nurse"), (events[1], second, "data_manager")):
        assert event.new_value["sha256"] == hashlib.sha256(response.data).hexdigest()
        assert event.new_value["subject"] == t.subject.study_code
        assert event.role == role
        assert event.site_code == "FR-88"
    assert events[0].new_value["identifiers_masked"] is False
    assert events[1].new_value["identifiers_masked"] is True


def test_the_subject_page_offers_the_casebook_to_its_readers(book, client):
    t = book
    browser = another_browser(client)
    login(browser, t.monitor)
    page = browser.get(f"/subjects/{t.subject.study_code}").get_data(as_text=True)
    assert f'href="{url_of(t)}"' in page
    assert "Casebook (PDF)" in page


def test_the_copy_is_in_the_readers_language(book, client):
    t = book
    browser = another_browser(client)
    login(browser, t.nurse)
    with browser.session_transaction() as session:
        session["lang"] = "fr"
    text = text_of(browser.get(url_of(t)).data)
    assert "Verrouillé" in text  # the visit's status
    assert "Signé" in text
    assert "Vérification des données sources" in text
    assert "Locked" not in text


def test_the_number_of_statements_does_not_grow_with_the_forms(book, client):
    t = book
    login(client, t.monitor)
    few = statements_for(client, url_of(t))
    nurse = ctx_of(t, t.nurse)
    for _n in range(3):
        subject = subject_of(t)
        assert subject.site.code == "FR-88"  # read before the add (as the page has it)
        number = casebook.add_occurrence(nurse, subject, "review", utcnow())
        db.session.commit()
        save(t, "notes", {"remark": f"review {number}"}, event_id="review", number=number)
    db.session.commit()
    many = statements_for(client, url_of(t))
    # Fewer, if anything: the first save in the new visits invalidated the casebook signature,
    # so no valid one is left to check against the data.
    assert many <= few


@pytest.mark.parametrize(
    "source",
    [
        '<img src="https://example.org/tracker.png">',
        '<link rel="stylesheet" href="http://example.org/print.css">',
        '<img src="file:///etc/hostname">',
    ],
)
def test_drawing_the_copy_fetches_nothing(source):
    with pytest.raises(render.ResourceRefused):
        render.html_to_pdf(f"<html><body><p>copy</p>{source}</body></html>")


def test_a_title_cannot_break_out_of_the_page_style():
    quoted = render.css_string('Study "x"; } </style><script>')
    assert quoted.count('"') == 2
    assert "<" not in quoted
    assert "}" not in quoted
