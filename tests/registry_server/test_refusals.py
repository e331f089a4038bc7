"""What the registry refuses, and how: a credential (401), a size (413), a content type (415),
a Bundle with anything wrong (400, every problem listed, nothing stored). Never a 500."""

from __future__ import annotations

import base64
import json

import pytest
from flask.testing import FlaskClient

from registry_server import checks
from tests.registry_server.bundles import SUBJECT, subject_bundle
from tests.registry_server.conftest import FHIR_JSON, TOKEN, diagnostics, get, push


def _nothing_stored(client: FlaskClient) -> bool:
    kinds = ("Patient", "ResearchStudy", "Consent", "QuestionnaireResponse", "Provenance")
    return (
        all(get(client, f"/{kind}").get_json()["total"] == 0 for kind in kinds)
        and not (get(client, "/_received").get_json()["received"])
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer"},
    ],
)
def test_a_push_without_the_right_token_is_refused_and_not_stored(
    client: FlaskClient, headers: dict[str, str]
) -> None:
    response = client.post(
        "/", data=json.dumps(subject_bundle()), content_type=FHIR_JSON, headers=headers
    )

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert diagnostics(response) == [": a valid bearer token is required"]
    assert _nothing_stored(client)


@pytest.mark.parametrize(
    "url", ["/Patient", "/Patient/x", "/Patient/x/_history/1", "/_received", "/linkage/duplicates"]
)
def test_reads_need_the_token_too(client: FlaskClient, url: str) -> None:
    assert client.get(url).status_code == 401
    assert get(client, url, token="wrong").status_code == 401


def test_the_capability_statement_is_open_as_a_readiness_probe(client: FlaskClient) -> None:
    from fhir.resources.R4B.capabilitystatement import CapabilityStatement

    response = client.get("/metadata")

    assert response.status_code == 200
    statement = CapabilityStatement.model_validate(response.get_json(force=True))
    assert statement.fhirVersion == "4.0.1"


def test_a_patient_that_could_name_the_child_is_refused(client: FlaskClient) -> None:
    bundle = subject_bundle()
    patient = bundle["entry"][0]["resource"]
    patient["name"] = [{"family": "Martin", "given": ["Léa"]}]
    patient["birthDate"] = "2021-04-03"
    patient["identifier"].append({"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "1210403"})

    response = push(client, bundle)

    assert response.status_code == 400
    assert diagnostics(response) == [
        "Bundle.entry[0].resource.name: Patient.name is not accepted: pseudonymised records only",
        "Bundle.entry[0].resource.birthDate: Patient.birthDate is not accepted: "
        "pseudonymised records only",
        "Bundle.entry[0].resource.identifier[1]: Patient identifier system "
        "'urn:oid:1.2.250.1.213.1.4.8' is not the study's pseudonym system",
    ]
    assert _nothing_stored(client)


@pytest.mark.parametrize(
    ("element", "value"),
    [
        ("gender", "female"),
        ("telecom", [{"system": "phone", "value": "+33 1 23 45 67 89"}]),
        ("address", [{"city": "Lyon"}]),
        ("contact", [{"name": {"family": "Martin"}}]),
        ("photo", [{"contentType": "image/png"}]),
        (
            "text",
            {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">L</div>'},
        ),
    ],
)
def test_every_identifying_patient_element_is_refused(
    client: FlaskClient, element: str, value: object
) -> None:
    bundle = subject_bundle()
    bundle["entry"][0]["resource"][element] = value

    response = push(client, bundle)

    assert response.status_code == 400
    assert f"Patient.{element} is not accepted" in "\n".join(diagnostics(response))


def test_patient_extensions_are_the_two_linkage_keys_only(client: FlaskClient) -> None:
    bundle = subject_bundle(token="ab" * 32, clk=b"\x01" * 128)
    extensions = bundle["entry"][0]["resource"]["extension"]
    extensions.append(
        {
            "url": "http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName",
            "valueString": "Durand",
        }
    )
    extensions[0]["valueString"] = "AB" * 32
    extensions[1]["valueBase64Binary"] = base64.b64encode(b"\x01" * 64).decode()

    found = diagnostics(push(client, bundle))

    assert found == [
        "Bundle.entry[0].resource.extension[0]: the linkage token must be 64 lower-case hex digits",
        "Bundle.entry[0].resource.extension[1]: the linkage CLK must be 1024 bits, base64",
        "Bundle.entry[0].resource.extension[2]: Patient extension "
        "'http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName' is not accepted",
    ]


def test_one_bad_entry_refuses_the_whole_bundle_and_says_where(client: FlaskClient) -> None:
    bundle = subject_bundle()
    del bundle["entry"][2]["resource"]["scope"]
    bundle["entry"][4]["resource"]["unknownElement"] = 1

    response = push(client, bundle)

    assert response.status_code == 400
    assert diagnostics(response) == [
        "Bundle.entry[2].resource.scope: Field required",
        "Bundle.entry[4].resource.unknownElement: Extra inputs are not permitted",
    ]
    assert _nothing_stored(client)


def test_the_bundle_rules_are_listed_together(client: FlaskClient) -> None:
    bundle = subject_bundle()
    entries = bundle["entry"]
    del entries[0]["fullUrl"]
    entries[2]["fullUrl"] = entries[1]["fullUrl"]
    entries[3]["resource"]["individual"]["reference"] = "urn:uuid:0000-nowhere"
    del entries[4]["request"]["method"]
    entries[5]["request"]["method"] = "DELETE"

    found = diagnostics(push(client, bundle))

    assert "Bundle.entry[0].fullUrl: fullUrl is missing" in found
    assert f"Bundle.entry[2]: fullUrl {entries[1]['fullUrl']} appears twice" in found
    assert "Bundle.entry[3].resource: reference urn:uuid:0000-nowhere matches no entry" in found
    assert "Bundle.entry[4].request: request.method is missing" in found
    assert (
        "Bundle.entry[5].request: method 'DELETE' is not accepted here (only POST and PUT)" in found
    )
    assert _nothing_stored(client)


def test_a_resource_type_the_registry_does_not_hold_is_named(client: FlaskClient) -> None:
    bundle = subject_bundle()
    bundle["entry"].append(
        {
            "fullUrl": "urn:uuid:6e6f0000-0000-4000-8000-000000000001",
            "resource": {"resourceType": "Observation", "status": "final"},
            "request": {"method": "POST", "url": "Observation"},
        }
    )

    found = diagnostics(push(client, bundle))

    assert found == [
        "Bundle.entry[6].request: resource type 'Observation' is not accepted here",
        "Bundle.entry[6].resource: 'Observation' is not accepted",
    ]


def test_a_conditional_request_must_match_what_its_resource_carries(
    client: FlaskClient,
) -> None:
    bundle = subject_bundle()
    bundle["entry"][0]["request"]["url"] = f"Patient?identifier={SUBJECT}|NB-FR01-9999"

    found = diagnostics(push(client, bundle))

    assert found == [
        "Bundle.entry[0].request: the resource does not carry the identifier its request "
        "matches on (a second push would not find it)"
    ]


def test_two_entries_writing_one_resource_are_refused(client: FlaskClient) -> None:
    bundle = subject_bundle()
    twin = json.loads(json.dumps(bundle["entry"][0]))
    twin["fullUrl"] = "urn:uuid:6e6f0000-0000-4000-8000-000000000002"
    bundle["entry"].append(twin)

    found = diagnostics(push(client, bundle))

    assert found == [
        f"Bundle.entry[6].request: entries 0 and 6 both write Patient identifier "
        f"{SUBJECT}|NB-FR01-0007"
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "the body is not valid JSON"),
        (b"\xff\xfe{}", "the body is not valid JSON"),
        (b'{"resourceType": "Bundle", "type": "transaction", "total": NaN}', "not valid JSON"),
        (b"[1, 2]", "the body must be a FHIR Bundle"),
        (b'{"resourceType": "Patient"}', "the body must be a FHIR Bundle"),
        (b'{"resourceType": "Bundle", "type": "batch"}', "only transaction Bundles"),
        (b'{"resourceType": "Bundle", "type": "transaction", "entry": {}}', "must be a list"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ],
)
def test_malformed_bodies_are_refused_with_400(
    client: FlaskClient, body: bytes, expected: str
) -> None:
    response = push(client, body)

    assert response.status_code == 400
    assert expected in "\n".join(diagnostics(response))


def test_deep_nesting_is_refused_before_the_models(client: FlaskClient) -> None:
    bundle = subject_bundle()
    nested: dict = {"url": "http://example.org/x", "valueString": "x"}
    for _ in range(100):
        nested = {"url": "http://example.org/x", "extension": [nested]}
    bundle["entry"][4]["resource"]["extension"] = [nested]

    response = push(client, bundle)

    assert response.status_code == 400
    assert diagnostics(response) == [": nested deeper than 64 levels"]


def test_a_body_over_the_size_bound_is_refused_with_413(client: FlaskClient) -> None:
    body = b" " * (10 * 1024 * 1024 + 1)

    response = push(client, body)

    assert response.status_code == 413
    assert diagnostics(response)[0].startswith(":")


def test_too_many_entries_are_refused_with_413_before_any_check(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checks, "MAX_ENTRIES", 5)

    response = push(client, subject_bundle())

    assert response.status_code == 413
    assert diagnostics(response) == [
        "Bundle.entry: 6 entries; at most 5 are accepted in one Bundle"
    ]


def test_another_content_type_is_refused_with_415(client: FlaskClient) -> None:
    response = client.post(
        "/",
        data=json.dumps(subject_bundle()),
        content_type="text/plain",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )

    assert response.status_code == 415
    assert _nothing_stored(client)


@pytest.mark.parametrize(
    ("element", "value"),
    [("extension", 7), ("identifier", "NB-FR01-0007"), ("managingOrganization", [1])],
)
def test_a_patient_of_the_wrong_shape_is_refused_by_the_model(
    client: FlaskClient, element: str, value: object
) -> None:
    bundle = subject_bundle()
    bundle["entry"][0]["resource"][element] = value

    response = push(client, bundle)

    assert response.status_code == 400
    assert diagnostics(response)[0].startswith(f"Bundle.entry[0].resource.{element}")
