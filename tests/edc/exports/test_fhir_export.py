"""The FHIR R4 export: one collection Bundle in which every resource passes the R4 models and
invariants, each response points at a Questionnaire of the same Bundle, and what never leaves the
site (identifier items, the vault) is not there."""

from __future__ import annotations

import json

from edc.registry import fhir_check
from tests.edc.exports.conftest import CONTACT, REFERRER, run, withdraw


def _bundle(trial) -> dict:
    data, outcome = run(trial, trial.data_manager, "fhir")
    assert outcome.manifest["format"] == "fhir"
    return json.loads(data)


def _of(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_every_resource_of_the_export_is_valid_r4(trial):
    bundle = _bundle(trial)
    assert bundle["type"] == "collection"
    assert fhir_check.problems(bundle) == []
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(urls) == len(set(urls))


def test_each_response_answers_a_questionnaire_of_the_export(trial):
    bundle = _bundle(trial)
    canonicals = {f"{q['url']}|{q['version']}" for q in _of(bundle, "Questionnaire")}
    responses = _of(bundle, "QuestionnaireResponse")
    assert {r["questionnaire"] for r in responses} <= canonicals
    coded = {(r["identifier"]["value"], r["status"]) for r in responses}
    first = trial.first.study_code
    assert (f"{first}/baseline/1/visit", "completed") in coded
    assert (f"{first}/followup/1/notes", "completed") in coded
    visit = next(r for r in responses if r["identifier"]["value"] == f"{first}/baseline/1/visit")
    answers = {i["linkId"]: i["answer"] for g in visit["item"] for i in g["item"]}
    assert answers["weight"] == [{"valueDecimal": 12.75}]
    assert "referrer" not in answers
    assert "contact" not in answers


def test_only_consented_subjects_are_exported_by_their_pseudonym(trial):
    bundle = _bundle(trial)
    patients = [p["identifier"][0]["value"] for p in _of(bundle, "Patient")]
    assert sorted(patients) == sorted([trial.first.study_code, trial.third.study_code])
    assert all(set(p) <= {"resourceType", "identifier", "managingOrganization"}
               for p in _of(bundle, "Patient"))  # fmt: skip
    text = json.dumps(bundle)
    for secret in (REFERRER, CONTACT, "Durand", "Martin", "Rossi"):
        assert secret not in text


def test_the_investigators_signature_is_a_provenance(trial):
    bundle = _bundle(trial)
    (signed,) = _of(bundle, "Provenance")
    assert signed["signature"][0]["who"]["identifier"]["value"] == str(trial.investigator.id)


def test_each_subject_carries_the_consent_that_stands_and_its_subject_points_at_it(trial):
    withdraw(trial.app, trial.other_nurse, trial.third, "option", "registry_transfer")
    bundle = _bundle(trial)
    assert fhir_check.problems(bundle) == []
    consents = _of(bundle, "Consent")
    assert len(consents) == 2
    granted = {
        c["patient"]["reference"]: [p["type"] for p in c["provision"]["provision"]]
        for c in consents
    }
    patient_urls = {
        e["resource"]["identifier"][0]["value"]: e["fullUrl"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Patient"
    }
    assert granted[patient_urls[trial.first.study_code]] == ["permit"]
    assert granted[patient_urls[trial.third.study_code]] == ["deny"]  # withdrawn since
    assert {c["status"] for c in consents} == {"active"}  # both still in force
    consent_urls = {e["fullUrl"] for e in bundle["entry"]
                    if e["resource"]["resourceType"] == "Consent"}  # fmt: skip
    subjects = _of(bundle, "ResearchSubject")
    assert {s["consent"]["reference"] for s in subjects} == consent_urls


def test_a_consent_withdrawn_for_all_further_collection_is_inactive(trial):
    withdraw(trial.app, trial.nurse, trial.first, "all_collection")
    bundle = _bundle(trial)
    assert fhir_check.problems(bundle) == []
    status = {c["patient"]["reference"]: c["status"] for c in _of(bundle, "Consent")}
    patients = {
        e["resource"]["identifier"][0]["value"]: e["fullUrl"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Patient"
    }
    assert status[patients[trial.first.study_code]] == "inactive"
    assert status[patients[trial.third.study_code]] == "active"
