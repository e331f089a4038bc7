"""The one way the portal talks to the registry: POST a transaction Bundle to its FHIR base,
with a bearer token or a client certificate, a timeout, and a bounded read of the answer."""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass

from edc.settings import Settings

#: The most of an answer read (a transaction-response for a subject is a few KB).
MAX_ANSWER = 1_000_000
CONTENT_TYPE = "application/fhir+json"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Unreachable(Exception):
    """No answer at all: refused, timed out, TLS failed. The worker tries again later."""


def _tls(settings: Settings) -> ssl.SSLContext | None:
    if not settings.registry_url.startswith("https:"):
        return None
    context = ssl.create_default_context(
        cafile=str(settings.registry_ca) if settings.registry_ca else None
    )
    if settings.registry_client_cert is not None:
        context.load_cert_chain(
            str(settings.registry_client_cert),
            str(settings.registry_client_key) if settings.registry_client_key else None,
        )
    return context


def post_bundle(settings: Settings, body: bytes) -> Answer:
    """Send one Bundle; the registry's answer whatever its status, or `Unreachable`."""
    headers = {"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE}
    if settings.registry_token:
        headers["Authorization"] = f"Bearer {settings.registry_token}"
    request = urllib.request.Request(  # noqa: S310 (the operator's configured https/http URL)
        settings.registry_url + "/", data=body, headers=headers, method="POST"
    )
    timeout = settings.registry_timeout.total_seconds()
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=_tls(settings)) as reply:  # noqa: S310
            return Answer(reply.status, reply.read(MAX_ANSWER))
    except urllib.error.HTTPError as refused:
        return Answer(refused.code, refused.read(MAX_ANSWER))
    except (OSError, ValueError) as failed:  # URLError, timeouts, TLS errors are OSErrors
        raise Unreachable(str(getattr(failed, "reason", failed))) from failed


def reachable(settings: Settings) -> bool:
    """Whether the registry answers its capability statement now (a cheap probe the worker
    makes while items wait out a failure, so that a registry back from an outage is used at
    once rather than when the longest wait ends)."""
    request = urllib.request.Request(  # noqa: S310 (the operator's configured https/http URL)
        settings.registry_url + "/metadata", headers={"Accept": CONTENT_TYPE}, method="GET"
    )
    timeout = min(10.0, settings.registry_timeout.total_seconds())
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=_tls(settings)) as reply:  # noqa: S310
            return 200 <= reply.status < 300
    except (OSError, ValueError):
        return False
