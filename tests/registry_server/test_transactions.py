"""Pushing transaction Bundles: created once, the same versions on a second push, updated when
the content changes, all or nothing, and the R4 conditional rules (412 on several matches)."""

from __future__ import annotations

import hashlib
import json

from fhir.resources.R4B.bundle import Bundle
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.registry_server.bundles import SUBJECT, subject_bundle
from tests.registry_server.conftest import diagnostics, get, push

TYPES = [
    "Patient",
    "ResearchStudy",
    "Consent",
    "ResearchSubject",
    "QuestionnaireResponse",
    "Provenance",
]


def _responses(response: TestResponse) -> list[tuple[str, str]]:
    body = response.get_json(force=True)
    assert body["type"] == "transaction-response"
    return [(e["response"]["status"], e["response"]["location"]) for e in body["entry"]]


def test_a_first_push_creates_every_resource_and_answers_in_order(client: FlaskClient) -> None:
    response = push(client, subject_bundle())

    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    Bundle.model_validate(response.get_json(force=True))
    answers = _responses(response)
    assert [status for status, _ in answers] == ["201 Created"] * 6
    assert [location.split("/")[0] for _, location in answers] == TYPES
    assert all(location.endswith("/_history/1") for _, location in answers)
    assert answers[5][1].startswith("Provenance/sig-")


def test_the_same_bundle_twice_leaves_the_same_resources_and_versions(
    client: FlaskClient,
) -> None:
    first = _responses(push(client, subject_bundle()))
    stored = [get(client, location.rsplit("/_history", 1)[0]).get_json() for _, location in first]

    second = push(client, subject_bundle())

    assert second.status_code == 200
    assert _responses(second) == [("200 OK", location) for _, location in first]
    again = [get(client, location.rsplit("/_history", 1)[0]).get_json() for _, location in first]
    assert again == stored
    for kind in TYPES:
        assert get(client, f"/{kind}").get_json()["total"] == 1
    log = get(client, "/_received").get_json()["received"]
    assert [entry["outcome"] for entry in log[0]["entries"]] == ["unchanged"] * 6
    assert [entry["outcome"] for entry in log[1]["entries"]] == ["created"] * 6


def test_a_changed_record_gets_a_new_version_and_the_rest_stays(client: FlaskClient) -> None:
    first = _responses(push(client, subject_bundle(stage="M")))

    second = _responses(push(client, subject_bundle(stage="L2")))

    assert second[4] == ("200 OK", first[4][1].replace("_history/1", "_history/2"))
    assert [answer for n, answer in enumerate(second) if n != 4] == [
        ("200 OK", location) for n, (_, location) in enumerate(first) if n != 4
    ]
    record = get(client, second[4][1].rsplit("/_history", 1)[0]).get_json()
    assert record["item"][0]["item"][0]["answer"] == [{"valueString": "L2"}]
    assert record["meta"]["versionId"] == "2"
    old = get(client, first[4][1]).get_json()
    assert old["item"][0]["item"][0]["answer"] == [{"valueString": "M"}]


def test_a_conditional_create_finds_the_study_another_subject_created(
    client: FlaskClient,
) -> None:
    first = _responses(push(client, subject_bundle("NB-FR01-0001")))
    second = _responses(push(client, subject_bundle("NB-DE02-0002", site="DE02")))

    assert second[1] == ("200 OK", first[1][1])
    assert second[0][0] == "201 Created"
    assert get(client, "/ResearchStudy").get_json()["total"] == 1
    assert get(client, "/Patient").get_json()["total"] == 2


def test_references_between_entries_name_the_stored_resources(client: FlaskClient) -> None:
    answers = _responses(push(client, subject_bundle()))
    patient, study, consent, research_subject, record, provenance = (
        location.rsplit("/_history", 1)[0] for _, location in answers
    )

    stored = get(client, research_subject).get_json()

    assert stored["individual"] == {"reference": patient}
    assert stored["study"] == {"reference": study}
    assert stored["consent"] == {"reference": consent}
    assert get(client, consent).get_json()["patient"] == {"reference": patient}
    assert get(client, provenance).get_json()["target"] == [{"reference": record}]
    everything = json.dumps([get(client, f"/{kind}").get_json() for kind in TYPES])
    assert "urn:uuid" not in everything


def _two_patients_with_one_pseudonym(client: FlaskClient) -> None:
    bundle = subject_bundle()
    patient = bundle["entry"][0]
    extra = json.loads(json.dumps(patient))
    patient["request"]["url"] = "Patient/first"
    extra["fullUrl"] = "urn:uuid:00000000-0000-4000-8000-000000000002"
    extra["request"]["url"] = "Patient/second"
    bundle["entry"] = [patient, extra]
    assert push(client, bundle).status_code == 200


def test_several_matches_for_a_conditional_update_refuse_the_whole_push(
    client: FlaskClient,
) -> None:
    _two_patients_with_one_pseudonym(client)
    before = get(client, "/_received").get_json()["received"]

    response = push(client, subject_bundle())

    assert response.status_code == 412
    assert diagnostics(response) == [
        f"Bundle.entry[0].request: several Patient resources carry identifier "
        f"{SUBJECT}|NB-FR01-0007"
    ]
    for kind in TYPES[1:]:
        assert get(client, f"/{kind}").get_json()["total"] == 0
    assert get(client, "/_received").get_json()["received"] == before


def test_put_with_an_id_creates_that_resource_then_updates_it(client: FlaskClient) -> None:
    bundle = subject_bundle()
    bundle["entry"] = [bundle["entry"][0]]
    bundle["entry"][0]["request"]["url"] = "Patient/chosen-id"

    created = _responses(push(client, bundle))
    bundle["entry"][0]["resource"]["active"] = True
    updated = _responses(push(client, bundle))

    assert created == [("201 Created", "Patient/chosen-id/_history/1")]
    assert updated == [("200 OK", "Patient/chosen-id/_history/2")]
    assert get(client, "/Patient/chosen-id").headers["ETag"] == 'W/"2"'


def test_the_received_log_names_each_entry_and_the_body_digest(client: FlaskClient) -> None:
    body = json.dumps(subject_bundle())
    push(client, body)

    (logged,) = get(client, "/_received").get_json()["received"]
    assert logged["sha256"] == hashlib.sha256(body.encode()).hexdigest()
    assert logged["entries"][0]["type"] == "Patient"
    assert logged["entries"][0]["identifier"] == f"{SUBJECT}|NB-FR01-0007"
    assert logged["entries"][0]["outcome"] == "created"
    assert logged["at"].endswith("+00:00")


def _study_only(if_none_exist: str | None) -> dict:
    bundle = subject_bundle()
    entry = bundle["entry"][1]
    if if_none_exist is None:
        del entry["request"]["ifNoneExist"]
    else:
        entry["request"]["ifNoneExist"] = if_none_exist
    bundle["entry"] = [entry]
    return bundle


def test_if_none_exist_may_name_the_type_and_leave_out_the_system(client: FlaskClient) -> None:
    first = _responses(push(client, _study_only("ResearchStudy?identifier=siopen-nb")))
    second = _responses(push(client, _study_only("identifier=siopen-nb")))

    assert first[0][0] == "201 Created"
    assert second == [("200 OK", first[0][1])]


def test_a_plain_post_creates_each_time_and_then_a_conditional_create_is_ambiguous(
    client: FlaskClient,
) -> None:
    one = _responses(push(client, _study_only(None)))
    two = _responses(push(client, _study_only(None)))

    assert one[0][0] == two[0][0] == "201 Created"
    assert one[0][1] != two[0][1]
    response = push(client, _study_only("identifier=https://fhir.siopen-edc.org/study|siopen-nb"))
    assert response.status_code == 412
    assert get(client, "/ResearchStudy").get_json()["total"] == 2


def test_an_empty_transaction_is_answered_with_no_entries(client: FlaskClient) -> None:
    response = push(client, {"resourceType": "Bundle", "type": "transaction"})

    assert response.status_code == 200
    assert response.get_json() == {"resourceType": "Bundle", "type": "transaction-response"}
