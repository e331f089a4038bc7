"""The CDISC ODM 1.3.2 export: valid against the official XSD (shipped in odmlib), metadata from
the form definitions, an AuditRecord for every change on the item's history, signatures of the
signed forms, and no identifier item."""

from __future__ import annotations

from functools import cache

import pytest
from lxml import etree  # type: ignore[import-untyped]
from odmlib import schema_manager
from sqlalchemy import select

from edc.exports.odm import NS, XML_LANG
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.crf import FormRecord
from edc.services.data_entry import ITEM_ACTIONS
from tests.edc.exports.conftest import CONTACT, REFERRER, run

N = {"odm": NS}


@cache
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(schema_manager.get_schema_path("odm", "1.3.2")))


def _doc(data: bytes) -> etree._Element:
    return etree.fromstring(data)


def _subject(root, code):
    return root.find(f".//odm:SubjectData[@SubjectKey='{code}']", N)


def test_the_odm_file_is_valid_against_the_xsd(trial):
    data, outcome = run(trial, trial.data_manager, "odm")
    root = _doc(data)
    assert schema().validate(root), schema().error_log
    assert root.get("ODMVersion") == "1.3.2"
    assert outcome.manifest["counts"] == {"subjects": 2, "forms": 3}


def test_a_broken_document_is_rejected_by_the_xsd(trial):
    root = _doc(run(trial, trial.data_manager, "odm")[0])
    record = root.find(".//odm:AuditRecord", N)
    record.remove(record.find("odm:LocationRef", N))  # required by ODM 1.3.2
    assert not schema().validate(root)
    assert "LocationRef" in str(schema().error_log)


def test_metadata_comes_from_the_form_definitions(trial):
    root = _doc(run(trial, trial.data_manager, "odm")[0])
    weight = root.find(".//odm:ItemDef[@OID='I.visit.weight']", N)
    assert weight.get("DataType") == "float"
    texts = {t.get(XML_LANG): t.text for t in weight.findall("odm:Question/odm:TranslatedText", N)}
    assert texts == {"en": "Weight", "fr": "Poids"}
    checks = {c.get("Comparator"): c.findtext("odm:CheckValue", namespaces=N)
              for c in weight.findall("odm:RangeCheck", N)}  # fmt: skip
    assert checks == {"GE": "0", "LE": "200"}
    unit = weight.find("odm:MeasurementUnitRef", N).get("MeasurementUnitOID")
    assert root.find(f".//odm:MeasurementUnit[@OID='{unit}']", N).get("Name") == "kg"
    doses = root.find(".//odm:ItemGroupDef[@OID='IG.visit.doses']", N)
    assert doses.get("Repeating") == "Yes"
    codes = root.find(".//odm:CodeList[@OID='CL.visit.mycn']", N)
    assert [i.get("CodedValue") for i in codes] == ["amplified", "not_amplified"]
    assert root.find(".//odm:ItemDef[@OID='I.visit.symptoms___fever']", N) is not None
    followup = root.find(".//odm:StudyEventDef[@OID='SE.followup']", N)
    assert followup.get("Repeating") == "Yes"


def test_identifier_items_never_appear(trial):
    data = run(trial, trial.data_manager, "odm")[0]
    text = data.decode("utf-8")
    for secret in (REFERRER, CONTACT, "I.visit.referrer", "I.visit.contact"):
        assert secret not in text
    assert trial.unconsented.study_code not in text
    # Nor their history: no audit record comes from a change of an identifier item.
    root = _doc(data)
    exported = {int(e.text) for e in root.iter(f"{{{NS}}}SourceID")}
    trail = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action.in_(ITEM_ACTIONS), AuditEvent.seq > trial.since
        )  # this trial's own: committed tests elsewhere leave events of reused record ids
    ).all()
    hidden = {e.seq for e in trail if e.item_path.rsplit("-", 1)[-1].endswith(
        ("/referrer", "/referrer_again", "contact"))}  # fmt: skip
    assert hidden
    assert not exported & hidden
    # Every other change is there, but those of the subject without consent.
    left_out = set(
        db.session.scalars(
            select(FormRecord.id).where(FormRecord.subject_id == trial.unconsented.id)
        )
    )
    unconsented = {e.seq for e in trail if int(e.entity_id) in left_out}
    assert {e.seq for e in trail} - hidden - unconsented == exported


def test_audit_records_follow_the_item_history(trial):
    root = _doc(run(trial, trial.data_manager, "odm")[0])
    subject = _subject(root, trial.first.study_code)
    weights = subject.findall(".//odm:ItemData[@ItemOID='I.visit.weight']", N)
    assert [(w.get("Value"), w.get("TransactionType")) for w in weights] == [
        ("12.50", "Insert"),
        ("12.75", "Update"),
    ]
    trail = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action.in_(ITEM_ACTIONS), AuditEvent.item_path.like("%/weight"))
        .where(AuditEvent.site_code == "FR-01")
        .order_by(AuditEvent.seq)
    ).all()
    records = [w.find("odm:AuditRecord", N) for w in weights]
    assert [r.findtext("odm:SourceID", namespaces=N) for r in records] == [
        str(e.seq) for e in trail
    ]
    assert [r.findtext("odm:ReasonForChange", namespaces=N) for r in records] == [
        None, "scale checked",
    ]  # fmt: skip
    for record, event in zip(records, trail, strict=True):
        assert record.find("odm:UserRef", N).get("UserOID") == f"U.{event.actor_id}"
        assert record.find("odm:LocationRef", N).get("LocationOID") == "L.FR-01"
        assert record.findtext("odm:DateTimeStamp", namespaces=N) == event.at.isoformat()
    rows = subject.findall(".//odm:ItemGroupData[@ItemGroupOID='IG.visit.doses']", N)
    assert [r.get("ItemGroupRepeatKey") for r in rows] == ["0", "1"]


def test_signed_forms_carry_the_investigators_signature(trial):
    root = _doc(run(trial, trial.data_manager, "odm")[0])
    form = _subject(root, trial.first.study_code).find(".//odm:FormData[@FormOID='F.visit']", N)
    signature = form.find("odm:Signature", N)
    assert signature is not None
    user = signature.find("odm:UserRef", N).get("UserOID")
    assert user == f"U.{trial.investigator.id}"
    assert signature.find("odm:SignatureRef", N).get("SignatureOID") == "SD.approve"
    assert root.find(f".//odm:AdminData/odm:User[@OID='{user}']", N) is not None
    definition = root.find(".//odm:SignatureDef[@OID='SD.approve']", N)
    assert definition.findtext("odm:Meaning", namespaces=N) == "I approve these data"
    unsigned = _subject(root, trial.third.study_code).find(".//odm:FormData", N)
    assert unsigned.find("odm:Signature", N) is None
    locations = [loc.get("OID") for loc in root.findall(".//odm:Location", N)]
    assert locations == ["L.FR-01", "L.IT-02"]


@pytest.mark.parametrize("fmt", ["csv", "odm"])
def test_an_investigators_export_holds_their_site_only(trial, fmt):
    data, outcome = run(trial, trial.investigator, fmt, site="FR-01")
    assert trial.third.study_code.encode() not in data
    assert outcome.manifest["sites"] == ["FR-01"]
    assert outcome.manifest["scope"] == "site"
