"""The investigator's certified copy of their site's data (E6(R3) §3.16): the data with their
metadata, audit records and signatures (valid ODM), the site's whole audit trail, and a
certificate naming when, by whom and by which process, with each file's SHA-256."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile

from lxml import etree
from sqlalchemy import select

from edc.extensions import db
from edc.models.audit import AuditEvent
from tests.edc.exports.conftest import run
from tests.edc.exports.test_odm_export import schema


def _copy(trial) -> tuple[zipfile.ZipFile, bytes]:
    data, outcome = run(trial, trial.investigator, "certified", site="FR-01")
    assert outcome.manifest["format"] == "certified"
    return zipfile.ZipFile(io.BytesIO(data)), data


def test_the_copy_holds_valid_odm_the_sites_trail_and_a_certificate(trial):
    archive, _data = _copy(trial)
    assert sorted(archive.namelist()) == [
        "CERTIFICATE.txt", "audit_trail.csv", "manifest.json", "odm.xml"
    ]  # fmt: skip
    assert schema().validate(etree.fromstring(archive.read("odm.xml"))), schema().error_log
    trail = list(csv.DictReader(io.StringIO(archive.read("audit_trail.csv").decode())))
    assert {row["site_code"] for row in trail} == {"FR-01"}
    actions = {row["action"] for row in trail}
    assert {"record.completed", "item.changed", "signature.applied"} <= actions
    assert any(row["reason"] == "scale checked" for row in trail)
    assert trial.third.study_code not in archive.read("odm.xml").decode()  # the other site's


def test_the_certificate_lists_each_files_hash_and_when_and_who(trial):
    archive, _data = _copy(trial)
    manifest = json.loads(archive.read("manifest.json"))
    copy = manifest["certified_copy"]
    for name in ("odm.xml", "audit_trail.csv"):
        assert copy["files"][name]["sha256"] == hashlib.sha256(archive.read(name)).hexdigest()
    assert manifest["created_by"]["email"] == trial.investigator.email
    assert manifest["sites"] == ["FR-01"]
    text = archive.read("CERTIFICATE.txt").decode()
    assert "CERTIFIED COPY" in text
    assert copy["created_at"] in text
    assert copy["files"]["odm.xml"]["sha256"] in text


def test_making_the_copy_is_in_the_audit_trail(trial):
    _archive, data = _copy(trial)
    event = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "export.created")
        .order_by(AuditEvent.seq.desc())
    ).first()
    assert event is not None
    assert event.new_value["format"] == "certified"
    assert event.new_value["sha256"] == hashlib.sha256(data).hexdigest()
