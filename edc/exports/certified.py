"""The investigator's certified copy of their site's data (ICH E6(R3) §3.16: the sponsor must
not hold the only copy; checklist items 43–44): one ZIP, streamed, holding

- `odm.xml`: the site's data with its metadata, every item change as an AuditRecord and the
  investigators' signatures (CDISC ODM 1.3.2, the archival format);
- `audit_trail.csv`: the site's whole audit trail (status changes, queries, locks, signatures,
  consent steps …) as the audit review exports it;
- `manifest.json` and `CERTIFICATE.txt`: when it was made (UTC), by whom, of what, by which
  process, and the SHA-256 of each file, so that anyone can check the copy is complete and
  unaltered.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import IO, Any, cast

from edc.exports import csv_writer, odm
from edc.exports.model import Source
from edc.exports.output import Hashed

PROCESS = "SIOPEN EDC certified copy, version 1 (CDISC ODM 1.3.2 with audit records)"
STATEMENT = (
    "This archive is a certified copy of the clinical data of the site named below, with their "
    "metadata, their audit trail and their electronic signatures, as they stood in the portal "
    "at the time given. It was produced by a validated process (named below) without manual "
    "steps; each file's SHA-256 is listed so that completeness and integrity can be checked."
)


def _member(archive: zipfile.ZipFile, name: str) -> IO[bytes]:
    info = zipfile.ZipInfo(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    return archive.open(info, "w", force_zip64=True)


def write(source: Source, out: IO[bytes], manifest: dict[str, Any]) -> dict[str, Any]:
    """The archive; its counts (subjects, forms, audit events)."""
    files: dict[str, dict[str, object]] = {}
    with zipfile.ZipFile(out, "w") as archive:
        with _member(archive, "odm.xml") as raw:
            hashed = Hashed(raw)
            counts = odm.write(source, cast(IO[bytes], hashed), manifest)
        files["odm.xml"] = {"sha256": hashed.sha256, "size": hashed.size}
        with _member(archive, "audit_trail.csv") as raw:
            hashed = Hashed(raw)
            text = io.TextIOWrapper(cast(IO[bytes], hashed), encoding="utf-8", newline="")
            row = csv_writer.writer(text)
            row(source.trail_columns)
            events = 0
            for event in source.trail:
                row(event)
                events += 1
            text.flush()
            text.detach()
        files["audit_trail.csv"] = {"sha256": hashed.sha256, "size": hashed.size}
        counts = {**counts, "audit_events": events}
        described = {**manifest, "certified_copy": _certificate(source, files), "counts": counts}
        archive.writestr("manifest.json", json.dumps(described, indent=2, ensure_ascii=False))
        archive.writestr("CERTIFICATE.txt", _text(described))
    return counts


def _certificate(source: Source, files: dict[str, dict[str, object]]) -> dict[str, Any]:
    return {
        "statement": STATEMENT,
        "process": PROCESS,
        "created_at": source.created_at.isoformat(),
        "file_id": source.file_id,
        "files": files,
    }


def _text(described: dict[str, Any]) -> str:
    copy = described["certified_copy"]
    who = described.get("created_by", {})
    lines = [
        "CERTIFIED COPY",
        "",
        copy["statement"],
        "",
        f"Study:        {described.get('study', '')} ({described.get('study_title', '')})",
        f"Site(s):      {', '.join(described.get('sites', []))}",
        f"Made at:      {copy['created_at']} (UTC)",
        f"Made by:      {who.get('name', '')} <{who.get('email', '')}> ({who.get('role', '')})",
        f"Process:      {copy['process']}",
        f"Copy id:      {copy['file_id']}",
        "",
        "Files (SHA-256):",
        *(
            f"  {name}  {info['sha256']}  ({info['size']} bytes)"
            for name, info in copy["files"].items()
        ),
        "",
        "manifest.json holds the same, with the form versions and the consent filter.",
    ]
    return "\n".join(lines) + "\n"
