"""The registry as a real process over HTTP: what the demo and the portal's integration tests
start. Its data outlives a restart; a stopped registry refuses connections."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.registry_process import ROOT, RegistryProcess, RegistryTLS
from tests.registry_server.bundles import SUBJECT, subject_bundle
from tests.registry_server.conftest import FHIR_JSON, TOKEN
from tests.registry_server.pki import Authority


def _call(
    url: str, body: Any = None, token: str = TOKEN, context: ssl.SSLContext | None = None
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 (a loopback URL built by the test)
        url,
        data=data,
        method="POST" if data else "GET",
        headers={"Authorization": f"Bearer {token}", "Content-Type": FHIR_JSON},
    )
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:  # noqa: S310
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_a_push_survives_a_restart_and_a_stopped_registry_refuses(tmp_path: Path) -> None:
    with RegistryProcess(tmp_path, TOKEN) as registry:
        status, answer = _call(f"{registry.url}/", subject_bundle())
        assert status == 200
        locations = [entry["response"]["location"] for entry in answer["entry"]]
        url = registry.url

        assert registry.stop() == 0
        with pytest.raises(urllib.error.URLError) as refused:
            urllib.request.urlopen(f"{url}/metadata", timeout=5)  # noqa: S310
        assert isinstance(refused.value.reason, ConnectionRefusedError)

        registry.restart()
        assert registry.url == url
        status, found = _call(f"{url}/Patient?identifier={SUBJECT}|NB-FR01-0007")
        assert (status, found["total"]) == (200, 1)
        status, again = _call(f"{url}/", subject_bundle())
        assert [entry["response"]["location"] for entry in again["entry"]] == locations
        assert {entry["response"]["status"] for entry in again["entry"]} == {"200 OK"}
        assert _call(f"{url}/Patient", token="wrong")[0] == 401
    assert "listening on http://127.0.0.1:" in registry.log_path.read_text()


def test_concurrent_identical_pushes_create_one_set_of_resources(tmp_path: Path) -> None:
    with RegistryProcess(tmp_path, TOKEN) as registry:
        with ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(lambda _: _call(f"{registry.url}/", subject_bundle()), range(8))
            )

        assert {status for status, _ in answers} == {200}
        locations = {
            tuple(entry["response"]["location"] for entry in body["entry"]) for _, body in answers
        }
        assert len(locations) == 1
        assert _call(f"{registry.url}/Patient")[1]["total"] == 1


@pytest.mark.parametrize(
    ("arguments", "environment", "message"),
    [
        ([], {}, b"a token is required"),
        (["--threshold", "1.5"], {"REGISTRY_TOKEN": TOKEN}, b"duplicate threshold"),
        (["--client-ca", "ca.pem"], {"REGISTRY_TOKEN": TOKEN}, b"--client-ca needs"),
    ],
)
def test_the_registry_will_not_start_misconfigured(
    tmp_path: Path, arguments: list[str], environment: dict[str, str], message: bytes
) -> None:
    command = [sys.executable, "-m", "registry_server", "--port", "0"]
    result = subprocess.run(
        [*command, "--db", str(tmp_path / "r.db"), *arguments],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **environment},
        capture_output=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 2
    assert message in result.stderr


def test_a_body_streamed_without_a_length_is_still_bounded(tmp_path: Path) -> None:
    with RegistryProcess(tmp_path, TOKEN) as registry:
        connection = http.client.HTTPConnection("127.0.0.1", registry.port, timeout=30)
        chunk = b" " * (1024 * 1024)
        connection.request(
            "POST",
            "/",
            body=iter([chunk] * 11),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": FHIR_JSON},
            encode_chunked=True,
        )
        response = connection.getresponse()

        assert response.status == 413
        assert json.load(response)["resourceType"] == "OperationOutcome"
        connection.close()
        assert _call(f"{registry.url}/metadata")[0] == 200


def _gets_through(url: str, context: ssl.SSLContext) -> bool:
    """Whether a TLS client reaches the probe; a refused handshake shows as an alert, an EOF or
    a reset depending on timing, all of them OSErrors."""
    try:
        return _call(f"{url}/metadata", context=context)[0] == 200
    except OSError:
        return False


def test_with_mutual_tls_only_a_client_certificate_from_the_ca_gets_in(tmp_path: Path) -> None:
    authority = Authority(tmp_path / "pki", "registry-ca")
    server, client = authority.issue("server", server=True), authority.issue("FR01", server=False)
    rogue = Authority(tmp_path / "rogue", "rogue-ca").issue("intruder", server=False)
    tls = RegistryTLS(
        server.cert, server.key, authority.files.cert, authority.files.cert, client.cert, client.key
    )

    with (
        RegistryProcess(tmp_path, TOKEN, tls=tls) as registry,
        socket.create_connection(("127.0.0.1", registry.port or 0)),  # silent: must not stall
    ):
        assert registry.url.startswith("https://127.0.0.1:")
        status, _ = _call(f"{registry.url}/", subject_bundle(), context=tls.client_context())
        assert status == 200
        assert not _gets_through(registry.url, tls.client_context(with_certificate=False))
        intruder = tls.client_context(with_certificate=False)
        intruder.load_cert_chain(rogue.cert, rogue.key)
        assert not _gets_through(registry.url, intruder)
        assert _call(f"{registry.url}/Patient", context=tls.client_context())[1]["total"] == 1
