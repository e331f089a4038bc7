"""Find a patient: by study code, names, birth date or hospital number, through blind indexes,
kept to the searcher's sites, audited without the values, never storing them in clear."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select, update

from edc import audit, errors
from edc.access import Role
from edc.actor import Actor
from edc.context import Context
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.base import Base, utcnow
from edc.models.subjects import SubjectIdentity
from edc.services import patient_search, subjects
from edc.services.patient_search import Criteria, find_patients
from tests.factories import csrf, login, make_site, make_study, make_subject, make_user

BORN = dt.date(2025, 1, 20)
CHILD = {
    "family_name": "Moreau-Lefèvre",
    "given_names": "Zéphyrine Anne",
    "date_of_birth": BORN,
    "hospital_number": "FR-99 887",
}
#: What must never be found in clear in the database, as typed or as normalised.
PLAINTEXTS = ("Moreau", "moreau", "MOREAU", "Zéphyrine", "zephyrine", "FR-99 887", "fr99887")


@pytest.fixture
def two_sites():
    study = make_study()
    return make_site("FR-01", study), make_site("IT-01", study)


def _ctx(user) -> Context:
    return Context(session=db.session(), actor=Actor(user=user))


def _codes(user, **criteria) -> list[str]:
    return [p.study_code for p in find_patients(_ctx(user), Criteria(**criteria)).patients]


def test_a_nurse_finds_a_patient_by_each_field_whatever_the_accents_case_and_spaces(two_sites):
    fr, _it = two_sites
    child = make_subject(fr, **CHILD)
    make_subject(fr, family_name="Petit", given_names="Léon", hospital_number="FR1112223")
    nurse = make_user(roles=[(Role.NURSE, fr)])
    code = child.study_code
    assert _codes(nurse, hospital_number="fr 99-887") == [code]
    assert _codes(nurse, family_name="MOREAU LEFEVRE") == [code]
    assert _codes(nurse, family_name="moreau-lefèvre", given_names="zephyrine  anne") == [code]
    assert _codes(nurse, date_of_birth=BORN) == [code]
    assert _codes(nurse, study_code=code[-7:].lower()) == [code]
    # Several fields: every one must match.
    assert _codes(nurse, family_name="Moreau-Lefevre", date_of_birth=BORN) == [code]
    assert _codes(nurse, family_name="Moreau-Lefevre", date_of_birth=dt.date(2025, 1, 21)) == []
    # Exact matches only: part of a name or number finds nobody.
    assert _codes(nurse, family_name="Moreau") == []
    assert _codes(nurse, family_name="Moreau-Lefevre", given_names="Zéphyrine") == []
    assert _codes(nurse, hospital_number="99887") == []


def test_results_show_the_status_and_the_identity(two_sites):
    fr, _it = two_sites
    child = make_subject(fr, **CHILD)
    nurse = make_user(roles=[(Role.NURSE, fr)])
    [found] = find_patients(_ctx(nurse), Criteria(hospital_number="FR99887")).patients
    assert (found.study_code, found.site_code, found.status) == (
        child.study_code,
        "FR-01",
        "registered",
    )
    assert (found.family_name, found.given_names, found.date_of_birth) == (
        "Moreau-Lefèvre", "Zéphyrine Anne", BORN,
    )  # fmt: skip


def test_a_search_stays_within_the_searchers_sites(two_sites):
    fr, it = two_sites
    make_subject(fr, **CHILD)
    italian = make_subject(it, **CHILD)
    nurse_it = make_user(roles=[(Role.NURSE, it)])
    assert _codes(nurse_it, hospital_number="FR99887") == [italian.study_code]
    assert _codes(nurse_it, family_name="Moreau-Lefèvre", given_names="Zéphyrine Anne") == [
        italian.study_code
    ]


def test_only_those_who_may_open_identities_search(two_sites):
    fr, it = two_sites
    child = make_subject(fr, **CHILD)
    make_subject(it, **CHILD)
    monitor = make_user(roles=[(Role.MONITOR, fr), (Role.MONITOR, it)])
    manager = make_user(roles=[(Role.DATA_MANAGER, fr.study)])
    for user in (monitor, manager):
        with pytest.raises(errors.Denied):
            find_patients(_ctx(user), Criteria(study_code=child.study_code))
    fr.monitors_see_identity = True  # where the site lets monitors open identities, they search
    audit.record(db.session, Actor.cli(), "site.monitor_identity", target=fr)
    db.session.commit()
    assert _codes(monitor, hospital_number="FR99887") == [child.study_code]  # not IT-01's


def _all_rows_as_text() -> str:
    """Every row of every table, as text: what someone reading the database would see."""
    session = db.session()
    session.flush()
    dumped = []
    for table in Base.metadata.sorted_tables:
        for row in session.execute(select(table)):
            dumped.append(json.dumps([str(v) for v in row], ensure_ascii=False))
    return "\n".join(dumped)


def test_no_identifier_is_stored_in_clear_by_registration_or_search(two_sites):
    fr, _it = two_sites
    make_subject(fr, **CHILD)
    nurse = make_user(roles=[(Role.NURSE, fr)])
    typed = {
        "family_name": "Moreau-Lefèvre",
        "given_names": "Zéphyrine Anne",
        "date_of_birth": BORN,
        "hospital_number": "FR-99 887",
    }
    assert len(_codes(nurse, **typed)) == 1
    assert _codes(nurse, family_name="MOREAU", hospital_number="fr99887") == []  # a miss too
    everything = _all_rows_as_text()
    for plaintext in PLAINTEXTS:
        assert plaintext not in everything


def test_each_search_is_audited_with_the_fields_searched_never_the_values(two_sites):
    fr, _it = two_sites
    child = make_subject(fr, **CHILD)
    nurse = make_user(roles=[(Role.NURSE, fr)])
    _codes(nurse, hospital_number="FR-99 887", date_of_birth=BORN)
    _codes(nurse, family_name="Nobody")
    searches = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "identity.searched").order_by(AuditEvent.seq)
    ).all()
    assert [(e.actor_id, e.new_value) for e in searches] == [
        (nurse.id, {"fields": ["date_of_birth", "hospital_number"], "found": 1, "more": False}),
        (nurse.id, {"fields": ["family_name"], "found": 0, "more": False}),
    ]
    [read] = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "identity.read", AuditEvent.actor_id == nurse.id
        )
    ).all()
    assert (read.entity_id, read.site_code) == (child.study_code, "FR-01")
    assert read.new_value == {"purpose": "search", "searched": ["date_of_birth", "hospital_number"]}


def test_too_many_matches_ask_to_refine_the_search(two_sites, monkeypatch):
    fr, _it = two_sites
    for number in ("A1", "A2", "A3"):
        make_subject(fr, hospital_number=number, date_of_birth=BORN)
    nurse = make_user(roles=[(Role.NURSE, fr)])
    monkeypatch.setattr(patient_search, "MAX_RESULTS", 2)
    results = find_patients(_ctx(nurse), Criteria(date_of_birth=BORN))
    assert len(results.patients) == 2
    assert results.more


@pytest.mark.parametrize(
    "criteria",
    [
        Criteria(),
        Criteria(hospital_number=" - "),  # punctuation only would match nobody, or everybody
        Criteria(given_names="Zéphyrine"),  # given names alone are not searched
        Criteria(family_name="x" * 101),
        Criteria(hospital_number="1" * 41),
        Criteria(study_code="N" * 33),
    ],
)
def test_empty_partial_or_overlong_criteria_are_refused(two_sites, criteria):
    fr, _it = two_sites
    nurse = make_user(roles=[(Role.NURSE, fr)])
    with pytest.raises(errors.Invalid):
        find_patients(_ctx(nurse), criteria)


def test_searching_too_fast_is_refused(two_sites, monkeypatch):
    fr, _it = two_sites
    make_subject(fr, **CHILD)
    nurse = make_user(roles=[(Role.NURSE, fr)])
    monkeypatch.setattr(patient_search, "SEARCHES_PER_WINDOW", 2)
    _codes(nurse, hospital_number="FR99887")
    _codes(nurse, hospital_number="FR99887")
    with pytest.raises(patient_search.SearchLimited):
        _codes(nurse, hospital_number="FR99887")


def test_a_corrected_identity_is_found_by_its_new_values_only(two_sites):
    fr, _it = two_sites
    child = make_subject(fr, **CHILD)
    nurse = make_user(roles=[(Role.NURSE, fr)])
    corrected = subjects.Identity(
        family_name="Moreau", given_names="Zéphyrine Anne", date_of_birth=dt.date(2025, 1, 2),
        sex="female", hospital_number="FR-99 888",
    )  # fmt: skip
    subjects.correct_identity(db.session, Actor(user=nurse), child, corrected, "typo", utcnow())
    assert _codes(nurse, family_name="Moreau-Lefèvre") == []
    assert _codes(nurse, date_of_birth=BORN) == []
    assert _codes(nurse, family_name="moreau", given_names="zephyrine anne") == [child.study_code]
    assert _codes(nurse, date_of_birth=dt.date(2025, 1, 2)) == [child.study_code]


def test_identities_registered_before_the_search_existed_are_indexed_by_reindex(two_sites):
    fr, _it = two_sites
    child = make_subject(fr, **CHILD)
    nurse = make_user(roles=[(Role.NURSE, fr)])
    db.session.execute(
        update(SubjectIdentity).values(
            family_name_index=None, full_name_index=None, birth_date_index=None
        )
    )
    assert _codes(nurse, family_name="Moreau-Lefèvre") == []
    assert subjects.reindex_vault(db.session, Actor.cli()) == 1
    assert _codes(nurse, family_name="Moreau-Lefèvre") == [child.study_code]


# --- The page -------------------------------------------------------------------------------


def _search_page(client, **typed):
    data = {"csrf_token": csrf(client, "/subjects/find"), **typed}
    return client.post("/subjects/find", data=data)


def test_a_nurse_finds_a_patient_by_hospital_number_on_the_page(client, two_sites):
    fr, _it = two_sites
    child = make_subject(fr, **CHILD)
    login(client, make_user(roles=[(Role.NURSE, fr)]))
    home = client.get("/").get_data(as_text=True)
    assert 'href="/subjects/find"' in home  # in the menu
    response = _search_page(client, hospital_number="fr 99887")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'href="/subjects/{child.study_code}"' in body
    assert "Registered, not yet enrolled" in body
    assert "MOREAU-LEFÈVRE Zéphyrine Anne" in body
    assert "2025-01-20" in body
    missed = _search_page(client, family_name="Nobody").get_data(as_text=True)
    assert "No patient of your sites matches." in missed


def test_the_page_refuses_what_it_cannot_search(client, two_sites):
    fr, _it = two_sites
    login(client, make_user(roles=[(Role.NURSE, fr)]))
    empty = _search_page(client)
    assert empty.status_code == 422
    assert "Fill in at least one field." in empty.get_data(as_text=True)
    assert _search_page(client, family_name="x" * 101).status_code == 422
    assert _search_page(client, date_of_birth="20/01/2025x").status_code == 422


def test_staff_who_may_not_open_identities_have_no_search_page(client, two_sites):
    fr, _it = two_sites
    login(client, make_user(roles=[(Role.MONITOR, fr)]))
    assert client.get("/subjects/find").status_code == 404
    assert 'href="/subjects/find"' not in client.get("/").get_data(as_text=True)


def test_the_page_asks_to_refine_a_search_matching_too_many(client, two_sites, monkeypatch):
    fr, _it = two_sites
    for number in ("B1", "B2", "B3"):
        make_subject(fr, hospital_number=number, date_of_birth=BORN)
    login(client, make_user(roles=[(Role.NURSE, fr)]))
    monkeypatch.setattr(patient_search, "MAX_RESULTS", 2)
    body = _search_page(client, date_of_birth="2025-01-20").get_data(as_text=True)
    assert "only the first 2 are listed. Refine your search." in body
    assert body.count('href="/subjects/NB-') == 2
