"""Fixtures for the reference registry: its own app over a fresh SQLite file, no portal.

The suite's autouse `_isolated` (tests/conftest.py) starts the portal and a rolled-back
database transaction for every test; the registry shares neither, so it is overridden here by
a fixture of the same name that does nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from registry_server import create_app

TOKEN = "registry-test-token"
FHIR_JSON = "application/fhir+json"


@pytest.fixture(autouse=True)
def _isolated() -> None:
    """No portal, no portal database: the registry is a separate application."""


@pytest.fixture
def registry_app(tmp_path: Path) -> Flask:
    return create_app(tmp_path / "registry.db", TOKEN)


@pytest.fixture
def client(registry_app: Flask) -> FlaskClient:
    return registry_app.test_client()


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def push(client: FlaskClient, bundle: Any, token: str = TOKEN) -> TestResponse:
    """POST a Bundle (a dict, or raw bytes/str sent as they are) to the FHIR base."""
    body = bundle if isinstance(bundle, bytes | str) else json.dumps(bundle)
    return client.post("/", data=body, content_type=FHIR_JSON, headers=auth(token))


def get(client: FlaskClient, url: str, token: str = TOKEN) -> TestResponse:
    return client.get(url, headers=auth(token))


def diagnostics(response: TestResponse) -> list[str]:
    """The issues of an OperationOutcome answer, as 'expression: diagnostics' lines."""
    body = response.get_json(force=True)
    assert body["resourceType"] == "OperationOutcome", body
    return [
        f"{(issue.get('expression') or [''])[0]}: {issue['diagnostics']}" for issue in body["issue"]
    ]
