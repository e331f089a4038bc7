"""Subjects: pseudonymous codes per site, the encrypted identity vault, audited reads, isolation."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from edc import crypto
from edc.access import Role
from edc.actor import Actor
from edc.context import Context
from edc.errors import Denied
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import utcnow
from edc.models.subjects import Subject, SubjectIdentity
from edc.services import subjects
from edc.web import app_context
from tests.concurrency import at_once
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
    another_child = {"family_name": "Petit", "hospital_number": "FR1112223"}
    second = _register_page(client, fr, **another_child)
    assert second.headers["Location"].endswith("/NB-FR01-0002")
    # The same child at another site is that site's own registration: no match across sites.
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
    with pytest.raises(Denied):
        subjects.register(
            app_context(Actor(user=make_user(roles=[(Role.NURSE, mine)]))),
            other.id,
            subjects.Identity("X", "Y", dt.date(2024, 1, 1), "male"),
            utcnow(),
        )


def _last_seq() -> int:
    """The chain's end now: tests that commit leave audit events behind, so count from here."""
    return db.session.scalar(select(func.max(AuditEvent.seq))) or 0


def _identity_reads(since: int) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == "identity.read", AuditEvent.seq > since)
    return list(db.session.scalars(query.order_by(AuditEvent.seq)))


def test_the_vault_holds_no_plaintext_and_every_read_is_audited(client, make_site, make_subject):
    site = make_site("FR-04")
    subject = make_subject(site, given_names=NAME, date_of_birth=dt.date(2023, 9, 14))
    since = _last_seq()
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
    reads = _identity_reads(since)
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
        assert subjects.rotate_vault(app_context(Actor.cli())) >= 1
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
                app_context(registrar), site.id,
                subjects.Identity("A", "B", dt.date(2024, 1, 1), "male"), utcnow(),
                confirm_duplicate=True,
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
    identity = subjects.read_identity(app_context(Actor(user=nurse)), subject)
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
    assert len(subjects.identity_history(app_context(Actor(user=nurse)), subject)) == 1  # no new


def test_monitors_open_identities_only_where_the_site_allows_and_never_correct_them(
    client, app, make_study, make_subject
):
    study = make_study("s5")
    site = make_site("FR-09", study)
    subject = make_subject(site, given_names=NAME)
    code = subject.study_code
    since = _last_seq()
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
    read = _identity_reads(since)
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
            app_context(registrar), site.id,
            subjects.Identity("A", "B", dt.date(2024, 1, 1), "male"), utcnow(),
            confirm_duplicate=True,
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


# Duplicates --------------------------------------------------------------------------------


def _events(action: str) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
    return list(db.session.scalars(query))


def _count_subjects(site) -> int:
    return len(db.session.scalars(select(Subject).where(Subject.site_id == site.id)).all())


def test_a_duplicate_registration_asks_for_confirmation_and_shows_the_match(client, make_site):
    site = make_site("FR-20")
    login(client, make_user(roles=[(Role.NURSE, site)]))
    assert _register_page(client, site).status_code == 302
    # Same child typed differently: capitals, no accent, a hyphen; another hospital number.
    again = _register_page(
        client, site, family_name="MOREAU", given_names="Zephy-rine ", hospital_number=""
    )
    assert again.status_code == 422
    body = again.get_data(as_text=True)
    assert "may already be registered" in body
    assert "NB-FR20-0001" in body
    assert "same names and date of birth" in body
    assert "same hospital number" not in body
    kept = submitted(body)
    assert kept["family_name"] == ["MOREAU"]
    assert kept["guardians-1-email"] == ["marc@example.org"]
    assert "confirm_duplicate" not in kept  # never ticked for the nurse
    assert _count_subjects(site) == 1  # nothing registered, no number taken
    warned = _events("subject.duplicate_suspected")
    assert [e.new_value["matches"] for e in warned] == [
        [{"study_code": "NB-FR20-0001", "matched": ["name_and_birth_date"]}]
    ]
    assert warned[0].site_code == "FR-20"
    assert warned[0].role == "nurse"
    anyway = {k: v[0] for k, v in kept.items()} | {"confirm_duplicate": "y"}
    done = client.post("/subjects/new", data=anyway)
    assert done.status_code == 302
    assert done.headers["Location"].endswith("/NB-FR20-0002")
    registered = _events("subject.registered")[-1]
    assert registered.new_value["registered_despite_matches"] == [
        {"study_code": "NB-FR20-0001", "matched": ["name_and_birth_date"]}
    ]


def test_a_shared_hospital_number_is_a_match_and_a_blind_confirmation_is_not_enough(
    client, make_site
):
    site = make_site("FR-21")
    login(client, make_user(roles=[(Role.NURSE, site)]))
    assert _register_page(client, site).status_code == 302
    other = {"family_name": "Petit", "given_names": "Jules", "hospital_number": "fr 998-8776"}
    # A confirmation ticked without the matches having been shown does not register.
    blind = _register_page(client, site, confirm_duplicate="y", **other)
    assert blind.status_code == 422
    body = blind.get_data(as_text=True)
    assert "same hospital number" in body
    assert "same names and date of birth" not in body
    assert _count_subjects(site) == 1
    data = {k: v[0] for k, v in submitted(body).items()}
    assert data["seen"] == "NB-FR21-0001"
    assert client.post("/subjects/new", data=data | {"confirm_duplicate": "y"}).status_code == 302
    assert _count_subjects(site) == 2


def test_a_match_registered_after_the_notice_asks_again(make_site):
    site = make_site("FR-22")
    actor = Actor(user=make_user(roles=[(Role.NURSE, site)]))
    child = subjects.Identity("Moreau", NAME, dt.date(2025, 2, 3), "female", "H1")
    first = subjects.register(app_context(actor), site.id, child, utcnow())
    second = subjects.register(
        app_context(actor), site.id, child, utcnow(), confirm_duplicate=True,
        seen=[first.study_code],
    )  # fmt: skip
    with pytest.raises(subjects.PossibleDuplicate) as asked:
        subjects.register(
            app_context(actor), site.id, child, utcnow(), confirm_duplicate=True,
            seen=[first.study_code],  # the nurse was shown the first match only
        )  # fmt: skip
    assert [m.study_code for m in asked.value.matches] == [first.study_code, second.study_code]


def test_duplicates_are_found_without_decrypting_and_follow_corrections(make_site):
    site = make_site("FR-23")
    nurse = make_user(roles=[(Role.NURSE, site)])
    actor = Actor(user=nurse)
    child = subjects.Identity("Moreau", NAME, dt.date(2025, 2, 3), "female", "H-100")
    subject = subjects.register(app_context(actor), site.id, child, utcnow())
    vault = db.session.get(SubjectIdentity, subject.id)
    import hashlib

    plain = hashlib.sha256(b"moreau|zephyrine|2025-02-03").hexdigest()
    assert vault.name_index not in (None, plain)  # keyed, not a guessable hash
    assert vault.hospital_number_index is not None
    corrected = subjects.Identity("Moreau", NAME, dt.date(2025, 2, 4), "female", "H-200")
    subjects.correct_identity(app_context(actor), subject, corrected, "birth certificate", utcnow())

    def matched(identity: subjects.Identity) -> list[tuple[str, ...]]:
        return [m.matched for m in subjects.find_duplicates(app_context(actor), site.id, identity)]

    assert matched(child) == []  # the old birth date and number no longer match
    assert matched(corrected) == [("name_and_birth_date", "hospital_number")]


def test_duplicates_are_still_found_during_and_after_a_key_rotation(app, make_site):
    site = make_site("FR-24")
    actor = Actor(user=make_user(roles=[(Role.NURSE, site)]))
    child = subjects.Identity("Moreau", NAME, dt.date(2025, 2, 3), "female", "H-1")
    subjects.register(app_context(actor), site.id, child, utcnow())
    old = "test-vault-key"
    crypto.configure("a-brand-new-vault-key", [old])
    try:
        assert len(subjects.find_duplicates(app_context(actor), site.id, child)) == 1  # old key
        subjects.rotate_vault(app_context(Actor.cli()))
        crypto.configure("a-brand-new-vault-key")  # the old key retired
        assert len(subjects.find_duplicates(app_context(actor), site.id, child)) == 1
    finally:
        crypto.configure(old)
    db.session.rollback()


def test_the_reindex_command_indexes_identities_that_have_no_index(app, make_site, make_subject):
    site = make_site("FR-25")
    subject = make_subject(site, given_names=NAME)
    db.session.execute(
        text("UPDATE subject_identity SET name_index = NULL, hospital_number_index = NULL")
    )
    nurse = Actor(user=make_user(roles=[(Role.NURSE, site)]))
    child = subjects.Identity("Durand", NAME, dt.date(2024, 5, 17), "female", "12345678")
    assert subjects.find_duplicates(app_context(nurse), site.id, child) == []
    result = app.test_cli_runner().invoke(args=["vault", "reindex"])
    assert result.exit_code == 0, result.output
    assert "1 identities reindexed" in result.output
    found = subjects.find_duplicates(app_context(nurse), site.id, child)
    assert [m.study_code for m in found] == [subject.study_code]
    assert len(_events("identity.reindexed")) == 1


# The site's own clock ---------------------------------------------------------------------


def _site_in(zone: str, code: str, make_site):
    site = make_site(code)
    from edc import audit

    audit.record(db.session, Actor.cli(), "site.timezone", target=site, new={"timezone": zone})
    site.timezone = zone
    db.session.commit()
    return site


PARIS_00_30 = dt.datetime(2026, 3, 10, 23, 30, tzinfo=dt.UTC)  # 00:30 on 11 March in Paris


def test_registration_takes_today_from_the_sites_own_calendar(make_site):
    paris = _site_in("Europe/Paris", "FR-30", make_site)
    actor = Actor(user=make_user(roles=[(Role.NURSE, paris)]))
    today = subjects.Identity("Nouveau", "Né", dt.date(2026, 3, 11), "female")
    subject = subjects.register(app_context(actor), paris.id, today, PARIS_00_30)
    assert subject.status_date == dt.date(2026, 3, 11)  # registered today, in Paris
    tomorrow = subjects.Identity("Pas", "Encore", dt.date(2026, 3, 12), "male")
    with pytest.raises(subjects.SubjectError, match="cannot be in the future"):
        subjects.register(app_context(actor), paris.id, tomorrow, PARIS_00_30)
    # West of Greenwich the UTC date runs ahead: 22:00 on 10 March in French Guiana.
    cayenne = _site_in("America/Cayenne", "GF-01", make_site)
    nurse = Actor(user=make_user(roles=[(Role.NURSE, cayenne)]))
    at_22h = dt.datetime(2026, 3, 11, 1, 0, tzinfo=dt.UTC)
    with pytest.raises(subjects.SubjectError, match="cannot be in the future"):
        subjects.register(
            app_context(nurse), cayenne.id,
            subjects.Identity("Demain", "Matin", dt.date(2026, 3, 11), "male"), at_22h,
        )  # fmt: skip


def test_identity_correction_takes_today_from_the_sites_own_calendar(make_site, make_subject):
    paris = _site_in("Europe/Paris", "FR-31", make_site)
    subject = make_subject(paris, date_of_birth=dt.date(2026, 3, 1))
    actor = Actor(user=make_user(roles=[(Role.NURSE, paris)]))
    identity = subjects.read_identity(app_context(actor), subject)
    born_today = dataclasses.replace(identity, date_of_birth=dt.date(2026, 3, 11))
    changed = subjects.correct_identity(
        app_context(actor), subject, born_today, "birth certificate", PARIS_00_30
    )
    assert changed == ["date_of_birth"]
    tomorrow = dataclasses.replace(identity, date_of_birth=dt.date(2026, 3, 12))
    with pytest.raises(subjects.SubjectError, match="cannot be in the future"):
        subjects.correct_identity(app_context(actor), subject, tomorrow, "typo", PARIS_00_30)


def test_the_migration_dates_existing_statuses_and_indexes_existing_identities(tmp_path):
    from alembic import command
    from sqlalchemy import create_engine

    from tests.databases import fresh_database_url
    from tests.migrations.test_migrations import _config

    child = subjects.Identity("Moreau", NAME, dt.date(2025, 2, 3), "female", "H-9")
    engine = create_engine(fresh_database_url(tmp_path, "statuses"))
    try:
        with engine.begin() as conn:
            command.upgrade(_config(conn), "0a8748056aed")  # before statuses and indexes
            conn.execute(text("INSERT INTO study (id, slug, title) VALUES (1, 's', 'S')"))
            conn.execute(
                text(
                    "INSERT INTO site (id, study_id, code, name, country, timezone) "
                    "VALUES (1, 1, 'FR-01', 'Paris', 'FR', 'Europe/Paris')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO subject (id, study_id, site_id, study_code, number, "
                    "registered_at) VALUES (1, 1, 1, 'NB-FR01-0001', 1, :at)"
                ),
                {"at": dt.datetime(2026, 3, 10, 23, 30)},  # UTC: 11 March in Paris
            )
            conn.execute(
                text(
                    "INSERT INTO subject_identity (subject_id, ciphertext, updated_at) "
                    "VALUES (1, :c, :at)"
                ),
                {"c": crypto.encrypt(child.to_json()), "at": dt.datetime(2026, 3, 10, 23, 30)},
            )
        with engine.begin() as conn:
            command.upgrade(_config(conn), "head")
        with engine.begin() as conn:
            status = conn.execute(text("SELECT status, status_date FROM subject")).one()
            index = conn.execute(text("SELECT name_index FROM subject_identity")).scalar_one()
        assert status[0] == "registered"
        assert str(status[1]) == "2026-03-11"
        assert index == subjects.blind_indexes(child)[0]
    finally:
        engine.dispose()


@pytest.mark.commits
def test_the_same_child_registered_twice_at_once_is_caught(app, tmp_path):
    """The same child registered three times at the same moment (a double tap, two tablets;
    PostgreSQL runs them in parallel): registrations at a site take turns before the duplicate
    check, so the later ones see the first and ask for confirmation instead of creating silent
    duplicates."""
    from edc.models.users import User
    from tests.edc.test_occurrences import _own_database

    engine, subject_id, nurse_id = _own_database(app, tmp_path)
    child = subjects.Identity("Garnier", "Élise", dt.date(2025, 8, 1), "female", "H-77")

    def register() -> str:
        with app.test_request_context(), Session(engine) as session:
            nurse = Actor(user=session.get(User, nurse_id))
            site_id = session.get(Subject, subject_id).site_id
            try:
                subjects.register(Context(session, nurse), site_id, child, utcnow())
            except subjects.PossibleDuplicate:
                return "asked"
            session.commit()
            return "registered"

    try:
        outcomes = at_once(3, register)
        assert sorted(outcomes) == ["asked", "asked", "registered"]
    finally:
        engine.dispose()


def test_a_correction_that_makes_a_child_look_like_another_asks_for_confirmation(
    client, make_site, make_subject
):
    site = make_site("FR-24")
    first = make_subject(site, hospital_number="H-501")
    second = make_subject(site, hospital_number="H-502", given_names="Anaïs")
    login(client, make_user(roles=[(Role.NURSE, site)]))
    asked = _correct(client, second.study_code, hospital_number="H-501", reason="typo")
    assert asked.status_code == 422
    page = asked.get_data(as_text=True)
    assert "the child looks like another child of this site" in page
    assert first.study_code in page
    kept = submitted(page)
    assert kept["hospital_number"] == ["H-501"]  # what was typed stays
    assert kept["seen"] == [first.study_code]
    vault = db.session.get(SubjectIdentity, second.id)
    assert subjects.Identity.from_json(crypto.decrypt(vault.ciphertext)).hospital_number == (
        "H-502"
    )  # nothing stored yet
    confirmed = client.post(
        f"/subjects/{second.study_code}/identity/correct",
        data={**{k: v[0] for k, v in kept.items()}, "confirm_duplicate": "y"},
    )
    assert confirmed.status_code == 302
    suspected = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "subject.duplicate_suspected")
    ).all()
    assert [e.new_value["on"] for e in suspected] == ["identity correction"]


def test_sex_has_no_default_answer_and_must_be_chosen(client, make_site):
    """A preselected sex would be recorded for every nurse who skipped the question."""
    site = make_site("FR-03")
    login(client, make_user(roles=[(Role.NURSE, site)]))
    form = client.get("/subjects/new").get_data(as_text=True)
    select = form[form.index('name="sex"') :]
    select = select[: select.index("</select>")]
    # A browser sends the first option when none is selected: it must be the empty one.
    assert "selected" not in select
    assert select.index('value=""') < select.index('value="female"')
    response = _register_page(client, site, sex="")
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "Choose the sex." in body
    assert submitted(body)["given_names"] == [NAME]  # nothing typed is lost
