"""Reads and searches: what a registry operator or a test asks back."""

from __future__ import annotations

from fhir.resources.R4B.bundle import Bundle
from flask.testing import FlaskClient

from tests.registry_server.bundles import SUBJECT, subject_bundle
from tests.registry_server.conftest import diagnostics, get, push


def _push_subjects(client: FlaskClient, count: int) -> None:
    for n in range(count):
        assert push(client, subject_bundle(f"NB-FR01-{n:04d}")).status_code == 200


def test_a_search_by_pseudonym_finds_the_one_patient(client: FlaskClient) -> None:
    _push_subjects(client, 3)

    found = get(client, f"/Patient?identifier={SUBJECT}|NB-FR01-0001").get_json()

    Bundle.model_validate(found)
    assert found["type"] == "searchset"
    assert found["total"] == 1
    assert found["entry"][0]["resource"]["identifier"][0]["value"] == "NB-FR01-0001"
    assert get(client, "/Patient?identifier=NB-FR01-0001").get_json()["total"] == 1
    nothing = get(client, "/Patient?identifier=other|NB-FR01-0001").get_json()
    assert nothing["total"] == 0
    assert "entry" not in nothing
    Bundle.model_validate(nothing)


def test_a_search_pages_with_count_and_offset(client: FlaskClient) -> None:
    _push_subjects(client, 5)

    first = get(client, "/Patient?_count=2").get_json()
    last = get(client, "/Patient?_count=2&_offset=4").get_json()

    assert first["total"] == 5
    assert len(first["entry"]) == 2
    assert [link["relation"] for link in first["link"]] == ["self", "next"]
    assert first["link"][1]["url"].endswith("/Patient?_count=2&_offset=2")
    assert len(last["entry"]) == 1
    assert [link["relation"] for link in last["link"]] == ["self"]
    pages = [
        entry["resource"]["id"]
        for offset in (0, 2, 4)
        for entry in get(client, f"/Patient?_count=2&_offset={offset}").get_json()["entry"]
    ]
    assert len(set(pages)) == 5


def test_a_page_is_never_larger_than_a_thousand(client: FlaskClient) -> None:
    _push_subjects(client, 1)

    found = get(client, "/Patient?_count=999999999").get_json()

    assert found["link"][0]["url"].endswith("_count=1000&_offset=0")


def test_search_arguments_it_does_not_know_are_refused(client: FlaskClient) -> None:
    assert diagnostics(get(client, "/Patient?name=Martin")) == [
        ": search parameters not supported: ['name']"
    ]
    assert get(client, "/Patient?_count=-1").status_code == 400
    assert get(client, "/Patient?_count=ten").status_code == 400
    assert get(client, "/Patient?_count=²").status_code == 400
    assert get(client, "/Patient?identifier=sys|").status_code == 400
    assert get(client, "/Observation").status_code == 404


def test_a_read_answers_the_resource_or_a_404(client: FlaskClient) -> None:
    response = push(client, subject_bundle())
    location = response.get_json()["entry"][0]["response"]["location"]
    url = "/" + location.rsplit("/_history", 1)[0]

    read = get(client, url)

    assert read.status_code == 200
    assert read.headers["ETag"] == 'W/"1"'
    assert read.get_json()["meta"]["versionId"] == "1"
    assert get(client, "/" + location).get_json() == read.get_json()
    missing = get(client, "/Patient/no-such-id")
    assert missing.status_code == 404
    assert diagnostics(missing) == [": Patient/no-such-id is not known"]
    assert get(client, url + "/_history/2").status_code == 404
    assert get(client, url + f"/_history/{2**63}").status_code == 404  # not a database error
    assert get(client, "/Observation/x").status_code == 404


def test_unknown_paths_and_methods_answer_an_operation_outcome(client: FlaskClient) -> None:
    assert get(client, "/a/b/c/d").status_code == 404
    assert get(client, "/Patient/").get_json()["type"] == "searchset"  # no redirect
    assert diagnostics(get(client, "/a/b/c/d"))
    response = client.delete("/Patient/x", headers={"Authorization": "Bearer registry-test-token"})
    assert response.status_code == 405
    assert diagnostics(response)


def test_the_received_log_is_bounded(client: FlaskClient) -> None:
    _push_subjects(client, 3)

    assert len(get(client, "/_received?limit=2").get_json()["received"]) == 2
    assert len(get(client, "/_received").get_json()["received"]) == 3
    assert get(client, "/_received?limit=x").status_code == 400
