"""CDISC ODM 1.3.2: the study's metadata, admin data and clinical data with its audit trail and
signatures, as one XML document streamed with lxml's incremental writer.

The file is `Transactional`: each item appears once per change taken from the audit trail
(`Insert` when entered, `Update` when changed or recomputed, `Remove` when deleted), each with
its `AuditRecord` (user, site, UTC time, reason for change, the trail's sequence number as
`SourceID`); an item whose stored value has no change on the trail appears once as `Upsert`.
The last state of an item is its current value. Investigators' valid e-signatures are
`Signature` elements on the form, the visit or the subject they cover, pointing at one
`SignatureDef` per meaning.

Mapping (see docs/exports.md): event → StudyEventDef (`SE.<event>`), form → FormDef
(`F.<form>`), section → ItemGroupDef (`IG.<form>.<section>`, repeating sections
`Repeating="Yes"`, their rows keyed by row id), field → ItemDef (`I.<form>.<field>`; a
multichoice field gives one boolean ItemDef per choice, `I.<form>.<field>___<code>`), choice
list → CodeList, literal min/max → RangeCheck, unit → MeasurementUnit, site → Location
(`L.<site>`), staff → User (`U.<id>`). Only the layout's items are written: identifier items
never appear.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

from lxml import etree  # type: ignore[import-untyped]  # no stubs for the pinned lxml

from edc.exports.model import (
    Change,
    FieldSpec,
    FormSpec,
    Layout,
    RecordData,
    SectionSpec,
    Signed,
    Source,
    SubjectData,
    choice_codes,
)
from edc.item_address import ItemAddress
from forms_dsl.model import FieldType
from forms_dsl.types import VType

NS = "http://www.cdisc.org/ns/odm/v1.3"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ODM_VERSION = "1.3.2"
DATA_TYPES = {
    FieldType.TEXT: "text", FieldType.TEXTAREA: "text", FieldType.INTEGER: "integer",
    FieldType.DECIMAL: "float", FieldType.DATE: "date", FieldType.DATETIME: "datetime",
    FieldType.TIME: "time", FieldType.YESNO: "boolean", FieldType.CHOICE: "text",
    FieldType.MULTICHOICE: "boolean",
}  # fmt: skip
CALC_TYPES = {
    VType.NUMBER: "float", VType.DATE: "date", VType.DATETIME: "datetime", VType.TIME: "time",
    VType.BOOL: "boolean",
}  # fmt: skip
TRANSACTIONS = {
    "item.created": "Insert", "item.changed": "Update", "item.derived": "Update",
    "item.deleted": "Remove",
}  # fmt: skip


def q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _el(parent: etree._Element | None, tag: str, text: str | None = None, **attrs: Any):
    """A child element (or a root one in the ODM namespace) with string attributes."""
    values = {k: str(v) for k, v in attrs.items() if v is not None}
    if parent is None:
        made = etree.Element(q(tag), values, nsmap={None: NS})
    else:
        made = etree.SubElement(parent, q(tag), values)
    if text is not None:
        made.text = text
    return made


def _translated(parent: etree._Element, tag: str, text: Any, languages: Iterable[str]) -> None:
    holder = _el(parent, tag)
    for lang in languages:
        _el(holder, "TranslatedText", text.get(lang), **{XML_LANG: lang})


def stamp(moment: datetime) -> str:
    return moment.isoformat()


def _oid_item(form: FormSpec, spec: FieldSpec, code: str = "") -> str:
    return f"I.{form.id}.{spec.id}" + (f"___{code}" if code else "")


def data_type(spec: FieldSpec) -> str:
    f = spec.field
    if f.type is FieldType.CALC:
        return CALC_TYPES.get(f.vtype, "text")
    return DATA_TYPES.get(f.type, "text")


def item_oids(form: FormSpec, spec: FieldSpec) -> list[tuple[str, str]]:
    """The ItemDef OIDs of a field, with the choice code each stands for ("" for the field)."""
    if spec.field.type is FieldType.MULTICHOICE:
        return [(_oid_item(form, spec, code), code) for code, _ in choice_codes(spec)]
    return [(_oid_item(form, spec), "")]


# --- Metadata ---------------------------------------------------------------------------------


def _units(layout: Layout) -> dict[str, str]:
    units: dict[str, str] = {}
    for form in layout.forms:
        for _section, spec in form.fields.values():
            if spec.field.unit and spec.field.unit not in units:
                units[spec.field.unit] = f"MU.{len(units) + 1}"
    return units


def study_element(layout: Layout, units: dict[str, str]) -> etree._Element:
    """Study: GlobalVariables, BasicDefinitions (units) and the MetaDataVersion."""
    study = _el(None, "Study", OID=f"S.{layout.slug}")
    names = _el(study, "GlobalVariables")
    _el(names, "StudyName", layout.title.get("en"))
    _el(names, "StudyDescription", layout.title.get("en"))
    _el(names, "ProtocolName", layout.slug)
    if units:
        basics = _el(study, "BasicDefinitions")
        for unit, oid in units.items():
            symbol = _el(_el(basics, "MeasurementUnit", OID=oid, Name=unit), "Symbol")
            _el(symbol, "TranslatedText", unit)
    mdv = _el(study, "MetaDataVersion", OID=mdv_oid(layout), Name=f"{layout.slug} (all versions)")
    protocol = _el(mdv, "Protocol")
    for n, event in enumerate(layout.events, 1):
        _el(protocol, "StudyEventRef", StudyEventOID=f"SE.{event.id}", OrderNumber=n,
            Mandatory="No")  # fmt: skip
    _events(mdv, layout)
    for form in layout.forms:
        _form_def(mdv, form, layout.languages)
    for form in layout.forms:
        for section in form.sections:
            _group_def(mdv, form, section)
    for form in layout.forms:
        for _section, spec in form.fields.values():
            _item_defs(mdv, form, spec, layout.languages, units)
    for form in layout.forms:
        for _section, spec in form.fields.values():
            _code_list(mdv, form, spec, layout.languages)
    return study


def mdv_oid(layout: Layout) -> str:
    return f"MDV.{layout.slug}"


def _events(mdv: etree._Element, layout: Layout) -> None:
    known = {f.id for f in layout.forms}
    for event in layout.events:
        repeating = "Yes" if event.repeating else "No"
        kind = "Unscheduled" if event.repeating else "Scheduled"
        made = _el(mdv, "StudyEventDef", OID=f"SE.{event.id}", Name=event.label.get("en"),
                   Repeating=repeating, Type=kind)  # fmt: skip
        for form_id in event.forms:
            if form_id in known:
                _el(made, "FormRef", FormOID=f"F.{form_id}", Mandatory="No")


def _form_def(mdv: etree._Element, form: FormSpec, languages: tuple[str, ...]) -> None:
    made = _el(mdv, "FormDef", OID=f"F.{form.id}", Name=form.title.get("en"), Repeating="No")
    for section in form.sections:
        _el(made, "ItemGroupRef", ItemGroupOID=f"IG.{form.id}.{section.id}", Mandatory="No")


def _group_def(mdv: etree._Element, form: FormSpec, section: SectionSpec) -> None:
    made = _el(mdv, "ItemGroupDef", OID=f"IG.{form.id}.{section.id}",
               Name=section.title.get("en") or section.id,
               Repeating="Yes" if section.repeating else "No")  # fmt: skip
    order = 0
    for spec in section.fields:
        for oid, _code in item_oids(form, spec):
            order += 1
            mandatory = "Yes" if spec.field.required else "No"
            _el(made, "ItemRef", ItemOID=oid, OrderNumber=order, Mandatory=mandatory)


def _item_defs(
    mdv: etree._Element,
    form: FormSpec,
    spec: FieldSpec,
    languages: tuple[str, ...],
    units: dict[str, str],
) -> None:
    f = spec.field
    for oid, code in item_oids(form, spec):
        kind = "boolean" if code else data_type(spec)
        made = _el(mdv, "ItemDef", OID=oid, Name=f"{f.id}{'___' + code if code else ''}",
                   DataType=kind)  # fmt: skip
        question = _el(made, "Question")
        choice = dict(choice_codes(spec)).get(code) if code else None
        for lang in languages:
            text = f.label.get(lang) + (f": {choice.get(lang)}" if choice is not None else "")
            _el(question, "TranslatedText", text, **{XML_LANG: lang})
        if f.unit:
            _el(made, "MeasurementUnitRef", MeasurementUnitOID=units[f.unit])
        if not code:
            _range_checks(made, spec)
        if f.type is FieldType.CHOICE and choice_codes(spec):
            _el(made, "CodeListRef", CodeListOID=f"CL.{form.id}.{f.id}")


def _range_checks(item: etree._Element, spec: FieldSpec) -> None:
    """Literal numeric or date bounds as hard range checks (an expression such as today()
    stays out: ODM's FormalExpression would need our expression language)."""
    for bound, comparator in ((spec.field.min, "GE"), (spec.field.max, "LE")):
        if bound is None or bound.expr is not None or bound.value is None:
            continue
        value = bound.value
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal | date):
            continue
        check = _el(item, "RangeCheck", Comparator=comparator, SoftHard="Hard")
        _el(check, "CheckValue", value.isoformat() if isinstance(value, date) else str(value))


def _code_list(
    mdv: etree._Element, form: FormSpec, spec: FieldSpec, languages: tuple[str, ...]
) -> None:
    codes = choice_codes(spec)
    if spec.field.type is not FieldType.CHOICE or not codes:
        return
    made = _el(mdv, "CodeList", OID=f"CL.{form.id}.{spec.id}", Name=spec.id, DataType="text")
    for code, label in codes:
        item = _el(made, "CodeListItem", CodedValue=code)
        _translated(item, "Decode", label, languages)


def admin_element(source: Source) -> etree._Element:
    """AdminData: the staff named in the trail and signatures, the sites, one SignatureDef per
    meaning."""
    admin = _el(None, "AdminData", StudyOID=f"S.{source.layout.slug}")
    for person in source.staff:
        user = _el(admin, "User", OID=f"U.{person.id}")
        _el(user, "FullName", person.name)
    today = source.created_at.date().isoformat()
    for site in source.sites:
        location = _el(admin, "Location", OID=f"L.{site.code}", Name=site.name,
                       LocationType="Site")  # fmt: skip
        _el(location, "MetaDataVersionRef", StudyOID=f"S.{source.layout.slug}",
            MetaDataVersionOID=mdv_oid(source.layout), EffectiveDate=today)  # fmt: skip
    for code, meaning in source.signature_meanings.items():
        made = _el(admin, "SignatureDef", OID=f"SD.{code}", Methodology="Electronic")
        _el(made, "Meaning", meaning)
        _el(made, "LegalReason", source.signature_statement)
    return admin


# --- Clinical data ----------------------------------------------------------------------------


def _signature(parent: etree._Element, signed: Signed | None) -> None:
    if signed is None:
        return
    made = _el(parent, "Signature")
    _el(made, "UserRef", UserOID=f"U.{signed.signer_id}")
    _el(made, "LocationRef", LocationOID=f"L.{signed.site_code}")
    _el(made, "SignatureRef", SignatureOID=f"SD.{signed.meaning}")
    _el(made, "DateTimeStamp", stamp(signed.at))


def value_text(stored: object, code: str = "") -> str | None:
    """A stored value as ODM text: yes/no and a choice's box as 1/0, numbers exactly as stored,
    dates and times in ISO 8601; None for no value."""
    if stored is None or stored == "":
        return None
    if code:
        return "1" if isinstance(stored, list) and code in stored else "0"
    if isinstance(stored, bool):
        return "1" if stored else "0"
    if isinstance(stored, list):
        return " ".join(str(v) for v in stored)
    return str(stored)


def _item_data(
    group: etree._Element, oid: str, code: str, current: object, changes: list[Change]
) -> None:
    """The item once per change of the trail, with its AuditRecord; once as Upsert when the
    trail has none."""
    if not changes:
        text = value_text(current, code)
        if text is not None:
            _el(group, "ItemData", ItemOID=oid, Value=text, TransactionType="Upsert")
        return
    for change in changes:
        text = value_text(change.value, code)
        kind = TRANSACTIONS.get(change.action, "Update")
        made = _el(group, "ItemData", ItemOID=oid, Value=text,
                   IsNull="Yes" if text is None else None, TransactionType=kind)  # fmt: skip
        record = _el(made, "AuditRecord", EditPoint="DataManagement")
        _el(record, "UserRef", UserOID=f"U.{change.user_id or 0}")
        _el(record, "LocationRef", LocationOID=f"L.{change.site_code}")
        _el(record, "DateTimeStamp", stamp(change.at))
        if change.reason:
            _el(record, "ReasonForChange", change.reason)
        _el(record, "SourceID", str(change.seq))


def _rows(section: SectionSpec, record: RecordData) -> list[int]:
    keys = [*record.values, *(c.key for c in record.changes)]
    return sorted(
        {
            a.row
            for key in keys
            if (a := ItemAddress.of(key)) is not None
            and a.group == section.id
            and a.row is not None
        }
    )


def _groups(form_data: etree._Element, form: FormSpec, record: RecordData) -> None:
    by_key: dict[str, list[Change]] = {}
    for change in record.changes:
        by_key.setdefault(change.key, []).append(change)
    for section in form.sections:
        rows: list[int | None] = [*_rows(section, record)] if section.repeating else [None]
        for row in rows:
            group = _el(form_data, "ItemGroupData", ItemGroupOID=f"IG.{form.id}.{section.id}",
                        ItemGroupRepeatKey=row, TransactionType="Upsert")  # fmt: skip
            in_rows = section.id if row is not None else None
            for spec in section.fields:
                key = ItemAddress(spec.id, in_rows, row).key
                for oid, code in item_oids(form, spec):
                    _item_data(group, oid, code, record.values.get(key), by_key.get(key, []))
            if len(group) == 0:
                form_data.remove(group)


def subject_element(layout: Layout, subject: SubjectData) -> etree._Element:
    """One SubjectData: its site, visits in the study's order, forms with their items."""
    made = _el(None, "SubjectData", SubjectKey=subject.study_code, TransactionType="Upsert")
    _signature(made, subject.signature)
    _el(made, "SiteRef", LocationOID=f"L.{subject.site_code}")
    events = {e.id: e for e in layout.events}
    visit: etree._Element | None = None
    current: tuple[str, int] | None = None
    for record in subject.records:
        event, form = events.get(record.event_id), layout.form(record.form_id)
        if event is None or form is None:
            continue  # an event or form the study no longer defines: in the CSV only
        if (record.event_id, record.occurrence) != current:
            current = (record.event_id, record.occurrence)
            visit = _el(made, "StudyEventData", StudyEventOID=f"SE.{event.id}",
                        StudyEventRepeatKey=record.occurrence if event.repeating else None,
                        TransactionType="Upsert")  # fmt: skip
            _signature(visit, subject.visit_signatures.get(current))
        assert visit is not None
        form_data = _el(visit, "FormData", FormOID=f"F.{form.id}", TransactionType="Upsert")
        _signature(form_data, record.signature)
        _groups(form_data, form, record)
    return made


def write(source: Source, out: IO[bytes], manifest: dict[str, Any]) -> dict[str, Any]:
    """The whole ODM document written to `out`, one subject at a time; the counts."""
    layout = source.layout
    units = _units(layout)
    counts = {"subjects": 0, "forms": 0}
    attrs = {
        "FileType": "Transactional", "Granularity": "All", "Archival": "Yes",
        "FileOID": source.file_id, "CreationDateTime": stamp(source.created_at),
        "ODMVersion": ODM_VERSION, "Originator": "EDC portal", "SourceSystem": "EDC portal",
    }  # fmt: skip
    if manifest.get("description"):
        attrs["Description"] = str(manifest["description"])
    with etree.xmlfile(out, encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element(q("ODM"), attrs, nsmap={None: NS}):
            xf.write(study_element(layout, units))
            xf.write(admin_element(source))
            clinical = {"StudyOID": f"S.{layout.slug}", "MetaDataVersionOID": mdv_oid(layout)}
            with xf.element(q("ClinicalData"), clinical):
                for subject in source.subjects:
                    element = subject_element(layout, subject)
                    counts["subjects"] += 1
                    counts["forms"] += len(element.findall(f".//{q('FormData')}"))
                    xf.write(element)
                    xf.flush()
    manifest["counts"] = counts
    return counts
