"""Subjects: pseudonymous codes per site, the encrypted identity vault, audited reads, isolation."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from edc import crypto
from edc.access import Role
from edc.actor import Actor
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.models.subjects import Subject, SubjectIdentity
from edc.services import subjects
from tests.factories import another_browser, csrf, login, make_site, make_user, statements_for
from tests.html_forms import submitted

NAME = "Zéphyrine"


def _register_page(client, site, **extra):
    data = {
        "site": str(site.id),
        "family_name": "Moreau",
        "given_names": NAME,
        "date_of_birth": "2025-02-03",
        "sex": "female",
        "hospital_number": "FR9988776",
        "guardians-0-name": "Claire Moreau",
        "guardians-0-relationship": "mother",
        "guardians-0-phone": "+33 1 23 45 67 89",
        "guardians-1-name": "Marc Moreau",
        "guardians-1-relationship": "father",
        "guardians-1-email": "marc@example.org",
        "csrf_token": csrf(client, "/subjects/new"),
    }
    data.update(extra)
    return client.post("/subjects/new", data=data)


def test_a_nurse_registers_subjects_numbered_per_site(client, make_study):
    study = make_study("siopen")
    fr, it = make_site("FR-01", study), make_site("IT-01", study)
    nurse = make_user(roles=[(Role.NURSE, fr), (Role.NURSE, it)])
    login(client, nurse)
    first = _register_page(client, fr)
    assert first.status_code == 302
    assert first.headers["Location"].endswith("/subjects/NB-FR01-0001")
    assert _register_page(client, fr).headers["Location"].endswith("/NB-FR01-0002")
    assert _register_page(client, it).headers["Location"].endswith("/NB-IT01-0001")
    page = client.get("/subjects/").get_data(as_text=True)
    assert "NB-FR01-0002" in page
    assert NAME not in page  # the list never shows identities
    panel = client.get("/subjects/NB-FR01-0001/identity").get_data(as_text=True)
    assert "Claire Moreau (Mother)" in panel
    assert "Marc Moreau (Father)" in panel
    assert "marc@example.org" in panel


def test_registration_errors_keep_the_input(client, make_site):
    site = make_site("FR-02")
    login(client, make_user(roles=[(Role.NURSE, site)]))
    response = _register_page(client, site, date_of_birth="2999-01-01")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "cannot be in the future" in body
    kept = submitted(body)
    assert kept["given_names"] == [NAME]
    assert kept["guardians-1-email"] == ["marc@example.org"]


def test_nobody_registers_at_a_site_outside_their_scope(client, make_study):
    study = make_study("s2")
    mine, other = make_site("FR-03", study), make_site("ES-03", study)
    login(client, make_user(roles=[(Role.NURSE, mine)]))
    response = _register_page(client, other)
    assert response.status_code == 422  # not among the offered sites
    with pytest.raises(Exception, match="404"):
        subjects.register(
            db.session,
            Actor(user=make_user(roles=[(Role.NURSE, mine)])),
            other.id,
            subjects.Identity("X", "Y", dt.date(2024, 1, 1), "male"),
            utcnow(),
        )


def test_the_vault_holds_no_plaintext_and_every_read_is_audited(client, make_site, make_subject):
    site = make_site("FR-04")
    subject = make_subject(site, given_names=NAME, date_of_birth=dt.date(2023, 9, 14))
    for table in ("subject", "subject_identity", "audit_event"):
        for row in db.session.execute(text(f"SELECT * FROM {table}")):
            raw = " ".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in row)
            assert NAME not in raw
            assert "2023-09-14" not in raw
    nurse = make_user(roles=[(Role.NURSE, site)])
    login(client, nurse)
    page = client.get(f"/subjects/{subject.study_code}").get_data(as_text=True)
    assert NAME not in page  # the identity opens only on request
    panel = client.get(f"/subjects/{subject.study_code}/identity", headers={"HX-Request": "true"})
    assert panel.status_code == 200
    assert NAME in panel.get_data(as_text=True)
    reads = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "identity.read")).all()
    assert [(e.actor_id, e.entity_id, e.site_code) for e in reads] == [
        (nurse.id, subject.study_code, "FR-04")
    ]


def test_other_sites_get_404_and_central_roles_see_no_identity(client, make_study, make_subject):
    study = make_study("s3")
    fr, it = make_site("FR-05", study), make_site("IT-05", study)
    subject = make_subject(fr, given_names=NAME)
    code = subject.study_code
    italian = another_browser(client)
    login(italian, make_user(roles=[(Role.NURSE, it)]))
    for path in (f"/subjects/{code}", f"/subjects/{code}/identity"):
        assert italian.get(path).status_code == 404
    missing = italian.get("/subjects/NB-FR05-9999")
    assert missing.status_code == 404
    assert NAME not in italian.get("/subjects/").get_data(as_text=True)
    manager = another_browser(client)
    login(manager, make_user(roles=[(Role.DATA_MANAGER, study)]))
    assert manager.get(f"/subjects/{code}").status_code == 200
    assert "Show identity" not in manager.get(f"/subjects/{code}").get_data(as_text=True)
    assert manager.get(f"/subjects/{code}/identity").status_code == 404


def test_the_vault_is_authenticated_and_rotates_to_a_new_key(make_site, make_subject):
    subject = make_subject(make_site("FR-06"), given_names=NAME)
    vault = db.session.get(SubjectIdentity, subject.id)
    tampered = bytearray(vault.ciphertext)
    tampered[-5] ^= 1
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(bytes(tampered))
    old = "test-vault-key"
    crypto.configure("a-brand-new-vault-key", [old])
    try:
        assert subjects.rotate_vault(db.session, Actor.cli()) >= 1
        crypto.configure("a-brand-new-vault-key")  # the old key retired
        vault = db.session.get(SubjectIdentity, subject.id)
        assert NAME in crypto.decrypt(vault.ciphertext)
    finally:
        crypto.configure(old)
    db.session.rollback()


def test_the_subject_list_runs_a_fixed_number_of_statements(client, make_study):
    study = make_study("s4")
    site = make_site("FR-07", study)
    nurse = make_user(roles=[(Role.NURSE, site)])
    registrar = Actor(user=nurse)

    def add(n: int) -> None:
        for _ in range(n):
            subjects.register(
                db.session, registrar, site.id,
                subjects.Identity("A", "B", dt.date(2024, 1, 1), "male"), utcnow(),
            )  # fmt: skip
        db.session.commit()

    login(client, nurse)
    add(10)
    few = statements_for(client, "/subjects/")
    add(40)
    assert statements_for(client, "/subjects/") == few


@pytest.mark.commits
def test_concurrent_registrations_get_distinct_consecutive_numbers(app):
    with Session(db.engine) as setup:
        from edc import audit
        from edc.models.studies import Site, Study

        study = Study(slug="concurrency-study", title="C")
        setup.add(study)
        audit.record(setup, Actor.cli(), "study.created", target=study)
        site = Site(study=study, code="CC-01", name="C", country="FR")
        setup.add(site)
        audit.record(setup, Actor.cli(), "site.created", target=site)
        setup.commit()
        site_id = site.id
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def worker() -> None:
        try:
            barrier.wait()
            for _ in range(5):
                with Session(db.engine) as session:
                    subjects._next_number(session, site_id)
                    session.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Session(db.engine) as check:
        last = check.execute(
            text("SELECT last_number FROM site_counter WHERE site_id = :s"), {"s": site_id}
        ).scalar_one()
    assert last == 30  # 30 numbers taken, none twice, none skipped


def test_the_rotate_command_reencrypts_the_vault(app, make_site, make_subject):
    subject = make_subject(make_site("FR-08"), given_names=NAME)
    before = db.session.get(SubjectIdentity, subject.id).ciphertext
    result = app.test_cli_runner().invoke(args=["vault", "rotate"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted" in result.output
    after = db.session.get(SubjectIdentity, subject.id).ciphertext
    assert after != before  # a fresh token
    assert NAME in crypto.decrypt(after)
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "identity.reencrypted")
    )
    assert len(list(events)) >= 1


def _correct(client, code, **changes):
    page = client.get(f"/subjects/{code}/identity/correct")
    assert page.status_code == 200
    data = {k: v[0] for k, v in submitted(page.get_data(as_text=True)).items()}
    data.update(changes)
    return client.post(f"/subjects/{code}/identity/correct", data=data)


def test_a_correction_needs_a_reason_keeps_the_old_identity_and_audits_no_values(
    client, make_site, make_subject
):
    site = make_site("FR-08")
    subject = make_subject(site, given_names=NAME, date_of_birth=dt.date(2023, 9, 14))
    nurse = make_user(roles=[(Role.NURSE, site)])
    login(client, nurse)
    form = client.get(f"/subjects/{subject.study_code}/identity/correct").get_data(as_text=True)
    assert submitted(form)["given_names"] == [NAME]  # the stored identity, ready to correct
    refused = _correct(client, subject.study_code, date_of_birth="2023-09-15", reason="")
    assert refused.status_code == 422
    assert submitted(refused.get_data(as_text=True))["date_of_birth"] == ["2023-09-15"]
    done = _correct(
        client, subject.study_code, date_of_birth="2023-09-15",
        **{"guardians-1-name": "Paul Durand", "reason": "birth certificate checked"},
    )  # fmt: skip
    assert done.status_code == 302
    subject = db.session.get(Subject, subject.id)
    identity = subjects.read_identity(db.session, Actor(user=nurse), subject)
    assert identity.date_of_birth == dt.date(2023, 9, 15)
    assert [g.name for g in identity.guardians] == ["Paul Durand"]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "identity.corrected"))
    assert event.new_value == {"fields": ["date_of_birth", "guardians"], "revision": 1}
    assert event.reason == "birth certificate checked"
    assert event.actor_id == nurse.id
    for table in ("identity_revision", "audit_event"):
        for row in db.session.execute(text(f"SELECT * FROM {table}")):
            raw = " ".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in row)
            assert NAME not in raw
            assert "2023-09-14" not in raw
    history = client.get(f"/subjects/{subject.study_code}/identity/correct").get_data(as_text=True)
    assert "2023-09-14" in history  # the earlier version, for site staff
    assert "birth certificate checked" in history
    unchanged = _correct(client, subject.study_code, reason="no change")
    assert unchanged.status_code == 302
    assert len(subjects.identity_revisions(db.session, subject)) == 1  # nothing new to keep


def test_monitors_open_identities_only_where_the_site_allows_and_never_correct_them(
    client, app, make_study, make_subject
):
    study = make_study("s5")
    site = make_site("FR-09", study)
    subject = make_subject(site, given_names=NAME)
    code = subject.study_code
    monitor = make_user(roles=[(Role.MONITOR, site)])
    login(client, monitor)
    assert client.get(f"/subjects/{code}").status_code == 200
    assert client.get(f"/subjects/{code}/identity").status_code == 404
    db.session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["sites", "monitor-identity", "s5", "FR-09", "on", "--reason", "national rule"]
    )
    assert result.exit_code == 0, result.output
    panel = client.get(f"/subjects/{code}/identity")
    assert panel.status_code == 200
    assert NAME in panel.get_data(as_text=True)
    assert "Correct the identity" not in panel.get_data(as_text=True)
    assert client.get(f"/subjects/{code}/identity/correct").status_code == 404
    read = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "identity.read")).all()
    assert [(e.actor_id, e.entity_id) for e in read] == [(monitor.id, code)]
    runner.invoke(args=["sites", "monitor-identity", "s5", "FR-09", "off", "--reason", "ended"])
    assert client.get(f"/subjects/{code}/identity").status_code == 404


def test_form_messages_follow_the_readers_language(client, make_site):
    site = make_site("FR-12")
    login(client, make_user(roles=[(Role.NURSE, site)]))
    with client.session_transaction() as cookie:
        cookie["lang"] = "fr"
    french = _register_page(client, site, family_name="").get_data(as_text=True)
    assert "Ce champ est requis." in french  # WTForms' own message, in French
    with client.session_transaction() as cookie:
        cookie["lang"] = "de"
    german = _register_page(client, site, family_name="").get_data(as_text=True)
    assert "Dieses Feld wird benötigt." in german


def test_the_list_finds_codes_and_sums_up_each_subjects_forms(client, make_study):
    study = make_study("s6")
    site = make_site("FR-13", study)
    nurse = make_user(roles=[(Role.NURSE, site)])
    registrar = Actor(user=nurse)
    for _ in range(12):
        subjects.register(
            db.session, registrar, site.id,
            subjects.Identity("A", "B", dt.date(2024, 1, 1), "male"), utcnow(),
        )  # fmt: skip
    db.session.commit()
    login(client, nurse)
    found = client.get("/subjects/?q=fr13-001").get_data(as_text=True)
    assert "3 subjects" in found  # 0010, 0011, 0012
    assert "NB-FR13-0011" in found
    assert "NB-FR13-0009" not in found
    assert "No subject found." in client.get("/subjects/?q=%25").get_data(as_text=True)
    page = client.get("/subjects/").get_data(as_text=True)
    assert "12 subjects" in page
