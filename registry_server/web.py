"""The registry's HTTP endpoints: a FHIR base (`POST /` transactions, reads, searches), the
`received` log and the linkage report.

Every answer is JSON; every refusal is an OperationOutcome with the status that says why (401
credential, 413 size, 415 content type, 400 content, 412 ambiguous match), never a 500 for
anything a client sent. Sizes are bounded before any work: the body (`MAX_BODY`), the entries
(checks.MAX_ENTRIES), the pages read (`MAX_COUNT`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlencode

from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from registry_server import linkage, store
from registry_server.checks import ALLOWED_TYPES, check_bundle, parse_match
from registry_server.outcome import Issue, Refusal, operation_outcome, refuse
from registry_server.transaction import apply, response_bundle

#: The largest body accepted (a subject's push is far smaller); more is refused (413), unread
#: when its Content-Length says so. The app's MAX_CONTENT_LENGTH is one byte more (see
#: `_read_bounded`).
MAX_BODY = 10 * 1024 * 1024
DEFAULT_COUNT = 100
MAX_COUNT = 1000
MAX_OFFSET = 10**9
FHIR_JSON = "application/fhir+json"
#: Endpoints anyone may call: the readiness probe.
OPEN_ENDPOINTS = frozenset({"registry.metadata"})

blueprint = Blueprint("registry", __name__)
#: Above any version a resource can reach; a larger number in the path is a 404, not a query.
MAX_VERSION = 2**31 - 1
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Config:
    """What create_app was given."""

    db_path: Path
    token: str
    duplicate_threshold: float


def _config() -> Config:
    config: Config = current_app.extensions["registry"]
    return config


def now() -> str:
    """An R4 instant (UTC, milliseconds)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _json(body: Any, status: int = 200, mimetype: str = FHIR_JSON) -> Response:
    return Response(json.dumps(body), status, mimetype=mimetype)


@blueprint.before_app_request
def _authenticate() -> None:
    """A bearer token on everything but the probe, compared in constant time, before the body
    is read."""
    if request.endpoint in OPEN_ENDPOINTS:
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    expected = _config().token.encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        raise refuse(401, "login", "a valid bearer token is required")


def _read_bounded() -> bytes:
    """The body, at most MAX_BODY bytes, whether it announced its length or not.

    A chunked body has no Content-Length, and werkzeug's limit then cuts it short silently
    (the JSON would just look broken): one byte beyond the bound is read to tell.
    """
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise refuse(413, "too-costly", f"the body exceeds {MAX_BODY} bytes")
    parts, size = [], 0
    while size <= MAX_BODY:
        chunk = request.stream.read(min(1 << 16, MAX_BODY + 1 - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    if size > MAX_BODY:
        raise refuse(413, "too-costly", f"the body exceeds {MAX_BODY} bytes")
    return b"".join(parts)


def _body() -> tuple[bytes, Any]:
    """The request's bytes and JSON, its type and size checked before it is read."""
    if request.mimetype != FHIR_JSON:
        raise refuse(415, "not-supported", f"Content-Type must be {FHIR_JSON}")
    raw = _read_bounded()
    try:
        return raw, json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise refuse(400, "structure", f"the body is not valid JSON: {error}") from None


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


@blueprint.post("/")
def transaction() -> Response:
    """Check a transaction Bundle whole, then apply it all or nothing, and log it."""
    raw, data = _body()
    entries = check_bundle(data)
    digest = hashlib.sha256(raw).hexdigest()
    at = now()
    with store.session(_config().db_path) as session, session.transaction():
        results = apply(session, entries, at)
        session.log_received(at, digest, [result.log() for result in results])
    return _json(response_bundle(results))


def _int_arg(name: str, default: int, upper: int) -> int:
    """A non-negative integer query argument, at most `upper` (larger asks are clamped)."""
    text = request.args.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        raise refuse(400, "invalid", f"{name} must be a non-negative integer")
    return min(int(text), upper)


def _type(kind: str) -> str:
    if kind not in ALLOWED_TYPES:
        raise refuse(404, "not-supported", f"resource type {kind!r} is not served here")
    return kind


@blueprint.get("/metadata")
def metadata() -> Response:
    """A minimal CapabilityStatement: what is served (also the readiness probe, open to all)."""
    resource = {"interaction": [{"code": c} for c in ("read", "vread", "search-type")]}
    return _json(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": now()[:10],
            "kind": "instance",
            "fhirVersion": "4.0.1",
            "format": [FHIR_JSON],
            "rest": [
                {
                    "mode": "server",
                    "interaction": [{"code": "transaction"}],
                    "resource": [
                        {
                            "type": kind,
                            **resource,
                            "conditionalCreate": True,
                            "conditionalUpdate": True,
                            "searchParam": [{"name": "identifier", "type": "token"}],
                        }
                        for kind in sorted(ALLOWED_TYPES)
                    ],
                }
            ],
        }
    )


def _read_response(stored: store.Stored | None, kind: str, id_: str) -> Response:
    if stored is None:
        raise refuse(404, "not-found", f"{kind}/{id_} is not known")
    response = _json(stored.content)
    response.headers["ETag"] = f'W/"{stored.version}"'
    response.headers["Location"] = stored.location
    return response


@blueprint.get("/<kind>/<id_>")
def read(kind: str, id_: str) -> Response:
    """The current version of a resource."""
    with store.session(_config().db_path) as session:
        return _read_response(session.get(_type(kind), id_), kind, id_)


@blueprint.get(f"/<kind>/<id_>/_history/<int(max={MAX_VERSION}):version>")
def vread(kind: str, id_: str, version: int) -> Response:
    """One version of a resource (every version is kept)."""
    with store.session(_config().db_path) as session:
        return _read_response(session.get_version(_type(kind), id_, version), kind, id_)


def _page_link(kind: str, offset: int, count: int) -> str:
    args = [(key, value) for key, value in request.args.items() if key[0] != "_"]
    return f"{request.host_url}{kind}?{urlencode([*args, ('_count', count), ('_offset', offset)])}"


@blueprint.get("/<kind>")
def search(kind: str) -> Response:
    """A searchset: every resource of a type, or those carrying `identifier=system|value`,
    `_count` a page (default 100, at most 1,000) from `_offset`."""
    _type(kind)
    unknown = sorted(set(request.args) - {"identifier", "_count", "_offset"})
    if unknown:
        raise refuse(400, "not-supported", f"search parameters not supported: {unknown}")
    system, value = None, None
    if "identifier" in request.args:
        try:
            system, value = parse_match(f"identifier={request.args['identifier']}")
        except ValueError as error:
            raise refuse(400, "invalid", str(error)) from None
    count = _int_arg("_count", DEFAULT_COUNT, MAX_COUNT)
    offset = _int_arg("_offset", 0, MAX_OFFSET)
    with store.session(_config().db_path) as session:
        total, found = session.search(kind, system, value, count, offset)
    links = [{"relation": "self", "url": _page_link(kind, offset, count)}]
    if offset + count < total and count:
        links.append({"relation": "next", "url": _page_link(kind, offset + count, count)})
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links,
    }
    if found:  # FHIR JSON has no empty arrays
        bundle["entry"] = [
            {
                "fullUrl": f"{request.host_url}{stored.type}/{stored.id}",
                "resource": stored.content,
                "search": {"mode": "match"},
            }
            for stored in found
        ]
    return _json(bundle)


@blueprint.get("/_received")
def received() -> Response:
    """The newest accepted transactions (`limit`, default 100, at most 1,000), for tests and
    for an operator asking what a site sent."""
    limit = _int_arg("limit", DEFAULT_COUNT, MAX_COUNT)
    with store.session(_config().db_path) as session:
        return _json({"received": session.received(limit)}, mimetype="application/json")


@blueprint.get("/linkage/duplicates")
def duplicates() -> Response:
    """Likely duplicates across sites (module registry_server.linkage); `threshold` overrides
    the configured Dice threshold for one report."""
    threshold = _config().duplicate_threshold
    if "threshold" in request.args:
        try:
            threshold = float(request.args["threshold"])
        except ValueError:
            threshold = -1.0
        if not 0.0 < threshold <= 1.0:
            raise refuse(400, "invalid", "threshold must be a number in (0, 1]")
    with store.session(_config().db_path) as session:
        report = linkage.duplicates(session, threshold)
    return _json(report, mimetype="application/json")


_HTTP_CODES = {401: "login", 404: "not-found", 405: "not-supported", 413: "too-costly"}


def register_errors(app: Flask) -> None:
    """Every error answers an OperationOutcome; an unexpected one says nothing of its cause."""

    @app.errorhandler(Refusal)
    def _refused(error: Refusal) -> Response:
        response = _json(operation_outcome(error.issues), error.status)
        if error.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="registry"'
        return response

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> BaseResponse:
        status = error.code or 500
        if status < 400:
            return error.get_response()
        issue = Issue(_HTTP_CODES.get(status, "processing"), error.description or error.name)
        return _json(operation_outcome([issue]), status)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("registry request failed")
        issue = Issue("exception", "the registry could not process the request")
        return _json(operation_outcome([issue]), 500)
