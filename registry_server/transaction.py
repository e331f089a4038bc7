"""Applying a checked transaction: the R4 conditional create and update rules, idempotently.

Each entry is first resolved to the resource it writes (searching by identifier where the
request is conditional), then the `urn:uuid` references between entries are rewritten to those
`Type/id`s, then each resource is written. A write whose content (meta aside) equals what is
stored keeps the stored version: a site that pushes the same Bundle twice, after a timeout say,
changes nothing and reads back the same versions.
"""

from __future__ import annotations

import base64
import copy
import uuid
from dataclasses import dataclass
from typing import Any

from registry_server.checks import LINKAGE_CLK, LINKAGE_TOKEN, Entry, identifiers, references
from registry_server.outcome import refuse
from registry_server.store import LinkageKey, Session, Stored

STATUS = {"created": "201 Created", "updated": "200 OK", "unchanged": "200 OK"}


@dataclass(frozen=True)
class Result:
    """What one entry did: the version it left and whether it was created, updated or not."""

    entry: Entry
    stored: Stored
    outcome: str

    def response(self) -> dict[str, Any]:
        """The transaction-response entry."""
        return {
            "response": {
                "status": STATUS[self.outcome],
                "location": self.stored.location,
                "etag": f'W/"{self.stored.version}"',
                "lastModified": self.stored.updated,
            }
        }

    def log(self) -> dict[str, Any]:
        """The `received` log line for this entry."""
        found = identifiers(self.entry.resource)
        return {
            "type": self.stored.type,
            "id": self.stored.id,
            "identifier": f"{found[0][0]}|{found[0][1]}" if found else None,
            "outcome": self.outcome,
            "location": self.stored.location,
        }


@dataclass(frozen=True)
class _Plan:
    entry: Entry
    id: str
    existing: Stored | None
    write: bool


def _resolve(session: Session, entry: Entry) -> _Plan:
    """The resource an entry writes: its id, its current version, and whether to write at all
    (a conditional create that finds its resource writes nothing). Several matches: 412."""
    request = entry.request
    if request.id is not None:
        return _Plan(entry, request.id, session.get(request.type, request.id), True)
    if request.match is None:
        return _Plan(entry, str(uuid.uuid4()), None, True)
    system, value = request.match
    ids = session.find_ids(request.type, system, value)
    if len(ids) > 1:
        raise refuse(
            412,
            "multiple-matches",
            f"several {request.type} resources carry identifier {system or ''}|{value}",
            f"Bundle.entry[{entry.index}].request",
        )
    if ids:
        return _Plan(entry, ids[0], session.get(request.type, ids[0]), request.method == "PUT")
    return _Plan(entry, str(uuid.uuid4()), None, True)


def rewrite(resource: dict[str, Any], targets: dict[str, str]) -> dict[str, Any]:
    """A copy of the resource whose `urn:uuid` references name the stored `Type/id`."""
    content = copy.deepcopy(resource)
    for element in references(content):
        element["reference"] = targets.get(element["reference"], element["reference"])
    return content


def linkage_key(patient: dict[str, Any]) -> LinkageKey | None:
    """The pseudonym, site and linkage keys of a Patient (None when it carries no key)."""
    subject = next((v for s, v in identifiers(patient) if s.endswith("/subject")), None)
    organisation = patient.get("managingOrganization") or {}
    site = str((organisation.get("identifier") or {}).get("value") or "")
    extensions = {e.get("url"): e for e in patient.get("extension") or [] if isinstance(e, dict)}
    token = extensions.get(LINKAGE_TOKEN, {}).get("valueString")
    clk_text = extensions.get(LINKAGE_CLK, {}).get("valueBase64Binary")
    clk = base64.b64decode(clk_text) if clk_text else None
    if subject is None or (token is None and clk is None):
        return None
    return LinkageKey(subject, site, token, clk)


def _write(session: Session, plan: _Plan, content: dict[str, Any], now: str) -> Result:
    """Store a new version, unless the content (meta aside) is what is stored already."""
    content["id"] = plan.id
    existing = plan.existing
    if existing is not None and _bare(existing.content) == _bare(content):
        return Result(plan.entry, existing, "unchanged")
    version = existing.version + 1 if existing is not None else 1
    meta = {**(content.get("meta") or {}), "versionId": str(version), "lastUpdated": now}
    stored = Stored(plan.entry.request.type, plan.id, version, now, {**content, "meta": meta})
    key = linkage_key(content) if stored.type == "Patient" else None
    session.put(stored, identifiers(content), key)
    return Result(plan.entry, stored, "updated" if existing is not None else "created")


def _bare(content: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in content.items() if key != "meta"}


def apply(session: Session, entries: list[Entry], now: str) -> list[Result]:
    """Write a checked transaction (inside the caller's database transaction), in entry order.

    All entries are resolved before the first write so every reference can be rewritten, and a
    412 leaves nothing written.
    """
    plans = [_resolve(session, entry) for entry in entries]
    targets = {plan.entry.full_url: f"{plan.entry.request.type}/{plan.id}" for plan in plans}
    results = []
    for plan in plans:
        if not plan.write:
            assert plan.existing is not None
            results.append(Result(plan.entry, plan.existing, "unchanged"))
            continue
        results.append(_write(session, plan, rewrite(plan.entry.resource, targets), now))
    return results


def response_bundle(results: list[Result]) -> dict[str, Any]:
    """The transaction-response Bundle: one entry per request, in the request's order (no
    `entry` at all for an empty transaction: FHIR JSON has no empty arrays)."""
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "transaction-response"}
    if results:
        bundle["entry"] = [result.response() for result in results]
    return bundle
