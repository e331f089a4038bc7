"""Whatever a client sends in place of part of a push, the registry answers a refusal it can
name (400, 412, 413) or accepts it; never a 500, and nothing half-stored."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry_server import create_app
from tests.registry_server.bundles import subject_bundle
from tests.registry_server.conftest import get, push

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
#: Places in a push where a wrong value is put (keys from the Bundle down).
PLACES = [
    ("type",),
    ("entry",),
    ("entry", 2),
    ("entry", 0, "resource", "identifier"),
    ("entry", 0, "resource", "extension"),
    ("entry", 0, "resource", "managingOrganization"),
    ("entry", 1, "request", "ifNoneExist"),
    ("entry", 2, "resource", "provision"),
    ("entry", 3, "resource", "individual"),
    ("entry", 3, "fullUrl"),
    ("entry", 4, "resource", "item"),
    ("entry", 4, "request", "url"),
    ("entry", 5, "resource", "signature"),
    ("entry", 5, "request"),
]


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory: pytest.TempPathFactory) -> FlaskClient:
    path: Path = tmp_path_factory.mktemp("fuzz") / "registry.db"
    return create_app(path, "registry-test-token").test_client()


def _put(bundle: dict[str, Any], place: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(bundle)
    target = changed
    for key in place[:-1]:
        target = target[key]
    target[place[-1]] = value
    return changed


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(place=st.sampled_from(PLACES), value=JSON)
def test_a_wrong_value_anywhere_is_refused_or_accepted_never_a_500(
    fuzz_client: FlaskClient, place: tuple[Any, ...], value: Any
) -> None:
    before = len(get(fuzz_client, "/_received?limit=1000").get_json()["received"])

    response = push(fuzz_client, _put(subject_bundle(), place, value))

    assert response.status_code in (200, 400, 412), response.get_data(as_text=True)
    body = response.get_json(force=True)
    after = len(get(fuzz_client, "/_received?limit=1000").get_json()["received"])
    if response.status_code == 200:
        assert body["type"] == "transaction-response"
        assert after == before + 1
    else:
        assert body["resourceType"] == "OperationOutcome"
        assert after == before
    json.dumps(body)


@settings(max_examples=200, deadline=None)
@given(
    path=st.sampled_from(
        [
            "/Patient?identifier=",
            "/Patient?_count=",
            "/Consent?_offset=",
            "/_received?limit=",
            "/linkage/duplicates?threshold=",
            "/Patient/",
            "/QuestionnaireResponse/x/_history/",
        ]
    ),
    value=st.text(max_size=30),
)
def test_any_query_or_path_value_is_answered_never_a_500(
    fuzz_client: FlaskClient, path: str, value: str
) -> None:
    response = get(fuzz_client, path + quote(value, safe=""))

    assert response.status_code in (200, 400, 404), response.get_data(as_text=True)
    json.loads(response.get_data())
