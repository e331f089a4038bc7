"""The official R4 transaction example (hl7.fhir.r4.examples 4.0.1, Bundle-bundle-transaction)
is a valid Bundle the registry still refuses: it deletes, reads, runs an operation and sends
Patients with names. The refusal must name each of those, not fail on the first."""

from __future__ import annotations

import json

from fhir.resources.R4B.bundle import Bundle
from flask.testing import FlaskClient

from tests.registry_server.conftest import diagnostics, push
from tests.shared_fixtures import needs, shared

PARTS = ("fhir", "r4", "Bundle-bundle-transaction.json")
FIXTURE = shared(*PARTS)
pytestmark = needs(*PARTS)


def test_the_official_transaction_example_is_refused_with_every_reason(
    client: FlaskClient,
) -> None:
    example = json.loads(FIXTURE.read_text())
    Bundle.model_validate(example)  # valid FHIR: what is refused is this registry's rules

    response = push(client, example)

    assert response.status_code == 400
    found = "\n".join(diagnostics(response))
    assert "Bundle.entry[7].resource: 'Parameters' is not accepted" in found
    assert "Bundle.entry[5].resource: the entry has no resource" in found
    assert "method 'DELETE' is not accepted here" in found
    assert "method 'GET' is not accepted here" in found
    assert "Patient.name is not accepted" in found
    assert "Patient.birthDate is not accepted" in found
    assert "'http:/example.org/fhir/ids' is not the study's pseudonym system" in found
    assert (
        client.get("/Patient", headers={"Authorization": "Bearer registry-test-token"}).get_json()[
            "total"
        ]
        == 0
    )
