"""What a transaction Bundle must be before the registry does anything with it.

Every check runs before the first write and collects all the problems it finds, so a site
learns everything wrong with a push in one answer, and nothing of a bad Bundle is stored. The
structure is checked by the `fhir.resources` R4B models (the package's R4 line); the rules the
models cannot know (references that resolve, the requests this registry serves, what a
pseudonymised Patient may carry) are checked here.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from registry_server.outcome import Issue, Refusal

ALLOWED_TYPES = frozenset(
    {
        "Patient",
        "ResearchStudy",
        "ResearchSubject",
        "Consent",
        "QuestionnaireResponse",
        "Provenance",
    }
)
#: Entries one Bundle may hold (a subject's push is a few dozen); more is refused unread (413).
MAX_ENTRIES = 1000
#: Nesting depth of the JSON (FHIR resources need about 12); deeper is refused before the models.
MAX_DEPTH = 64
#: Issues listed in one answer: enough to fix a push, bounded however bad the Bundle is.
MAX_ISSUES = 100

BASE = "https://fhir.siopen-edc.org"
LINKAGE_TOKEN = f"{BASE}/StructureDefinition/linkage-token"
LINKAGE_CLK = f"{BASE}/StructureDefinition/linkage-clk"
CLK_BYTES = 128
#: The only Patient elements accepted: a pseudonym, its site and linkage keys, nothing that
#: could name or describe the child (name, birthDate, gender, telecom, address, photo, contact,
#: narrative text, other identifiers, other extensions are all refused).
PATIENT_ELEMENTS = frozenset(
    {"resourceType", "id", "meta", "identifier", "managingOrganization", "extension", "active"}
)
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_TOKEN = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Request:
    """What an entry asks: POST Type (maybe ifNoneExist), PUT Type/id or PUT Type?identifier=."""

    method: str
    type: str
    id: str | None = None
    #: The identifier a conditional request matches on: (system or None for any, value).
    match: tuple[str | None, str] | None = None


@dataclass(frozen=True)
class Entry:
    """One checked entry of a transaction."""

    index: int
    full_url: str
    resource: dict[str, Any]
    request: Request


def _path(prefix: str, location: tuple[int | str, ...]) -> str:
    """A pydantic error location as a FHIRPath-like expression."""
    text = prefix
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _model_issues(error: ValidationError, prefix: str) -> list[Issue]:
    return [
        Issue("structure", f"{item['msg']}", _path(prefix, item["loc"]))
        for item in error.errors(include_url=False)
    ]


def depth(value: Any) -> int:
    """How deeply a parsed JSON value nests (walked without recursion, whatever its depth)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(node, dict):
            stack.extend((child, level + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, level + 1) for child in node)
    return deepest


def references(value: Any) -> Iterator[dict[str, Any]]:
    """Every object holding a string `reference` (Reference elements), walked without recursion."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("reference"), str):
                yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def identifiers(resource: dict[str, Any]) -> list[tuple[str, str]]:
    """(system, value) of a resource's identifiers ("" for no system); R4 QuestionnaireResponse
    has a single Identifier where the others have a list."""
    found = resource.get("identifier")
    items = found if isinstance(found, list) else [found] if isinstance(found, dict) else []
    return [
        (str(item.get("system") or ""), str(item["value"]))
        for item in items
        if isinstance(item, dict) and item.get("value") is not None
    ]


def parse_match(query: str) -> tuple[str | None, str]:
    """`identifier=system|value` (or `identifier=value`, any system) from a search query.

    The only search the registry serves for conditional requests: raises ValueError otherwise.
    """
    try:
        params = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError as error:
        raise ValueError(f"malformed query {query!r}") from error
    if len(params) != 1 or params[0][0] != "identifier" or not params[0][1]:
        raise ValueError(f"only 'identifier=system|value' is supported, not {query!r}")
    system, bar, value = params[0][1].partition("|")
    if not bar:
        return None, system
    if not value:
        raise ValueError(f"identifier without a value in {query!r}")
    return system, value


def parse_request(request: dict[str, Any]) -> Request:
    """The entry's request as one of the three forms served; ValueError names what is wrong."""
    method, url = request.get("method"), request.get("url")
    if method is None:
        raise ValueError("request.method is missing")
    if method not in ("POST", "PUT"):
        raise ValueError(f"method {method!r} is not accepted here (only POST and PUT)")
    if not isinstance(url, str) or not url:
        raise ValueError("request.url is missing")
    path, question, query = url.partition("?")
    parts = path.split("/")
    if parts[0] not in ALLOWED_TYPES:
        raise ValueError(f"resource type {parts[0]!r} is not accepted here")
    if_none_exist = request.get("ifNoneExist")
    if method == "POST":
        if len(parts) != 1 or question:
            raise ValueError(f"POST must name a type only, not {url!r}")
        if if_none_exist is None:
            return Request("POST", parts[0])
        condition = str(if_none_exist)
        if condition.startswith(f"{parts[0]}?"):
            condition = condition.partition("?")[2]
        return Request("POST", parts[0], match=parse_match(condition))
    if if_none_exist is not None:
        raise ValueError("ifNoneExist only goes with POST")
    if question and len(parts) == 1:
        return Request("PUT", parts[0], match=parse_match(query))
    if len(parts) == 2 and not question and _ID.fullmatch(parts[1]):
        return Request("PUT", parts[0], id=parts[1])
    raise ValueError(f"PUT must name Type/id or Type?identifier=system|value, not {url!r}")


def _extension_issues(extension: Any, where: str) -> list[Issue]:
    """A Patient extension must be one of the two linkage keys, well formed."""
    url = extension.get("url") if isinstance(extension, dict) else None
    if url == LINKAGE_TOKEN:
        if not _TOKEN.fullmatch(str(extension.get("valueString", ""))):
            return [Issue("value", "the linkage token must be 64 lower-case hex digits", where)]
        return []
    if url == LINKAGE_CLK:
        try:
            clk = base64.b64decode(str(extension.get("valueBase64Binary", "")), validate=True)
        except (binascii.Error, ValueError):
            clk = b""
        if len(clk) != CLK_BYTES:
            return [Issue("value", f"the linkage CLK must be {CLK_BYTES * 8} bits, base64", where)]
        return []
    return [Issue("security", f"Patient extension {url!r} is not accepted", where)]


def patient_issues(patient: dict[str, Any], where: str) -> list[Issue]:
    """The privacy guard: a Patient is a pseudonym, a site and linkage keys, nothing more."""
    issues = [
        Issue(
            "security",
            f"Patient.{key} is not accepted: pseudonymised records only",
            f"{where}.{key}",
        )
        for key in patient
        if key not in PATIENT_ELEMENTS
    ]
    for n, (system, _) in enumerate(identifiers(patient)):
        if not system.endswith("/subject"):
            issues.append(
                Issue(
                    "security",
                    f"Patient identifier system {system!r} is not the study's pseudonym system",
                    f"{where}.identifier[{n}]",
                )
            )
    for n, extension in enumerate(patient.get("extension") or []):
        issues += _extension_issues(extension, f"{where}.extension[{n}]")
    return issues


def _content_issues(resource: dict[str, Any], where: str) -> list[Issue]:
    """What no resource type may carry to the registry (no PDFs, no signature images)."""
    kind = resource.get("resourceType")
    if kind == "Patient":
        return patient_issues(resource, where)
    if kind == "Consent" and ("sourceAttachment" in resource or "sourceReference" in resource):
        return [Issue("security", "Consent must not carry its signed document", where)]
    if kind == "Provenance" and any(
        isinstance(signature, dict) and "data" in signature
        for signature in resource.get("signature") or []
    ):
        return [Issue("security", "Provenance.signature must not carry the signature data", where)]
    return []


def _request_fits(request: Request, resource: dict[str, Any], where: str) -> list[Issue]:
    """The request and its resource agree (type, id, the identifier matched on)."""
    issues = []
    if resource.get("resourceType") != request.type:
        issues.append(Issue("invalid", "the resource type differs from request.url", where))
    if request.id is not None and resource.get("id", request.id) != request.id:
        issues.append(Issue("invalid", "resource.id differs from the id in request.url", where))
    if request.match is not None:
        system, value = request.match
        if not any(value == have and system in (None, had) for had, have in identifiers(resource)):
            issues.append(
                Issue(
                    "invalid",
                    "the resource does not carry the identifier its request matches on "
                    "(a second push would not find it)",
                    f"{where}.request",
                )
            )
    return issues


def _entry(index: int, raw: Any) -> tuple[Entry | None, list[Issue]]:
    """One entry checked on its own: request, resource type, model, privacy guard."""
    where = f"Bundle.entry[{index}]"
    if not isinstance(raw, dict):
        return None, [Issue("structure", "an entry must be a JSON object", where)]
    issues = []
    full_url = raw.get("fullUrl")
    if not isinstance(full_url, str) or not full_url:
        issues.append(Issue("required", "fullUrl is missing", f"{where}.fullUrl"))
    raw_request = raw.get("request")
    request = None
    try:
        request = parse_request(raw_request if isinstance(raw_request, dict) else {})
    except ValueError as error:
        issues.append(Issue("not-supported", str(error), f"{where}.request"))
    resource = raw.get("resource")
    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    if not isinstance(resource, dict) or kind not in ALLOWED_TYPES:
        text = "the entry has no resource" if resource is None else f"{kind!r} is not accepted"
        issues.append(Issue("not-supported", text, f"{where}.resource"))
        return None, issues
    try:
        get_fhir_model_class(str(kind)).model_validate(resource)
    except ValidationError as error:
        issues += _model_issues(error, f"{where}.resource")
    else:  # the content rules read a structure the model has vouched for
        issues += _content_issues(resource, f"{where}.resource")
    if request is not None:
        issues += _request_fits(request, resource, where)
    if issues or request is None or not isinstance(full_url, str):
        return None, issues
    return Entry(index, full_url, resource, request), []


def _target(request: Request) -> tuple[str, str]:
    """What an entry writes to, for telling two entries aiming at the same resource apart."""
    if request.id is not None:
        return request.type, f"id {request.id}"
    if request.match is not None:
        return request.type, f"identifier {request.match[0] or ''}|{request.match[1]}"
    return request.type, "new"


def _bundle_rules(raw_entries: list[Any], entries: list[Entry]) -> list[Issue]:
    """Rules across entries: unique fullUrls, urn:uuid references that resolve, one entry per
    target resource (FHIR makes two entries on one resource an error)."""
    issues, seen = [], set()
    for n, raw in enumerate(raw_entries):
        url = raw.get("fullUrl") if isinstance(raw, dict) else None
        if not isinstance(url, str):
            continue  # the models have said what is wrong with it
        if url in seen:
            issues.append(Issue("invalid", f"fullUrl {url} appears twice", f"Bundle.entry[{n}]"))
        seen.add(url)
    for n, raw in enumerate(raw_entries):
        resource = raw.get("resource") if isinstance(raw, dict) else None
        for element in references(resource):
            target = element["reference"]
            if target.startswith("urn:uuid:") and target not in seen:
                where = f"Bundle.entry[{n}].resource"
                issues.append(Issue("invalid", f"reference {target} matches no entry", where))
    targets: dict[tuple[str, str], int] = {}
    for entry in entries:
        target = _target(entry.request)
        if target[1] != "new" and target in targets:
            text = f"entries {targets[target]} and {entry.index} both write {' '.join(target)}"
            issues.append(Issue("invalid", text, f"Bundle.entry[{entry.index}].request"))
        targets.setdefault(target, entry.index)
    return issues


def check_bundle(data: Any) -> list[Entry]:
    """The transaction's entries, every rule checked; a Refusal listing all problems otherwise."""
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise Refusal(400, [Issue("structure", "the body must be a FHIR Bundle", "Bundle")])
    raw_entries = data.get("entry", [])
    if not isinstance(raw_entries, list):
        raise Refusal(400, [Issue("structure", "Bundle.entry must be a list", "Bundle.entry")])
    if len(raw_entries) > MAX_ENTRIES:
        text = f"{len(raw_entries)} entries; at most {MAX_ENTRIES} are accepted in one Bundle"
        raise Refusal(413, [Issue("too-costly", text, "Bundle.entry")])
    if depth(data) > MAX_DEPTH:
        raise Refusal(400, [Issue("structure", f"nested deeper than {MAX_DEPTH} levels")])
    issues = []
    if data.get("type") != "transaction":
        issues.append(
            Issue("not-supported", "only transaction Bundles are accepted", "Bundle.type")
        )
    shell = {key: value for key, value in data.items() if key != "entry"}
    if raw_entries:
        shell["entry"] = [
            {k: v for k, v in raw.items() if k != "resource"} if isinstance(raw, dict) else raw
            for raw in raw_entries
        ]
    try:
        Bundle.model_validate(shell)
    except ValidationError as error:
        issues += _model_issues(error, "Bundle")
    entries = []
    for index, raw in enumerate(raw_entries):
        entry, found = _entry(index, raw)
        issues += found
        if entry is not None:
            entries.append(entry)
    issues += _bundle_rules(raw_entries, entries)
    if issues:
        raise Refusal(400, issues[:MAX_ISSUES])
    return entries
