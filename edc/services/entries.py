"""Where data are entered: a subject's event occurrence and form, read in one query.

An entry is what every CRF page, live evaluation and save starts from: the subject (within the
actor's sites), the event occurrence, the record with its items, and the form version the record
was entered with (or the current one for a new record).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, Select, and_, bindparam, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

import forms_dsl
from edc.access import Permission
from edc.context import Context
from edc.item_address import ItemAddress
from edc.models.crf import EventOccurrence, FormRecord, ItemValue
from edc.models.definitions import FormVersion, StudyDefinition
from edc.models.studies import Site
from edc.models.subjects import Subject, SubjectIdentity
from edc.services import subjects
from edc.services.crf_values import Stored
from edc.services.definitions import form_model, study_of


@dataclass
class Entry:
    """Where data are entered: a subject, an event occurrence, a form (at a version)."""

    subject: Subject
    event_id: str
    number: int
    form_version: FormVersion
    occurrence: EventOccurrence | None
    record: FormRecord | None
    #: The record's items as read with it ({path: value}); a save compares against these.
    stored: dict[str, Stored] = field(default_factory=dict)
    #: The study as currently defined (events, standard reasons for change, languages).
    study: forms_dsl.Study | None = None
    #: Whether a verification, an open query or a valid signature rests on the record: the
    #: save learns it through `save_gate` (so that a save touching none pays nothing more).
    under_review: bool = True

    @property
    def form(self) -> forms_dsl.Form:
        return form_model(self.form_version)

    @property
    def row_version(self) -> int:
        return self.record.row_version if self.record is not None else 0

    def audit_path(self, key: str) -> str:
        """An item's address in the audit trail: visit, form at its version, item
        (`diagnosis/1/diagnosis@2/mycn`)."""
        fv = self.form_version
        return ItemAddress.parse(key).in_record(self.event_id, self.number, fv.form_id, fv.version)


class _JsonObject(FunctionElement[Any]):
    """`{key: value, ...}` of the rows, as one JSON value (an aggregate, named per database).

    The entry query reads a record's items with it, so that a page or a save reads them
    without a round trip of their own.
    """

    type = JSON()
    name = "json_object"
    inherit_cache = True


@compiles(_JsonObject, "sqlite")
def _json_object_sqlite(element: _JsonObject, compiler: SQLCompiler, **kw: Any) -> str:
    key, value = (compiler.process(c, **kw) for c in element.clauses)
    return f"json_group_object({key}, json({value}))"  # values are stored as JSON text


@compiles(_JsonObject, "postgresql")
def _json_object_postgresql(element: _JsonObject, compiler: SQLCompiler, **kw: Any) -> str:
    key, value = (compiler.process(c, **kw) for c in element.clauses)
    return f"json_object_agg({key}, {value})"


def _stored_items() -> Any:
    """The record's items as one JSON object (a column of `_entry_query`)."""
    return (
        select(_JsonObject(ItemValue.path, ItemValue.value))
        .where(ItemValue.record_id == FormRecord.id)
        .correlate(FormRecord)
        .scalar_subquery()
    )


@lru_cache(maxsize=2)
def _entry_query(identity: bool) -> Select[Any]:
    """`find_entry`'s query, built once: its parameters (and the actor's sites) are bound at
    each execution."""
    definitions, versions = aliased(StudyDefinition), aliased(FormVersion)
    latest_definition = (
        select(func.max(definitions.id))
        .where(definitions.study_id == Subject.study_id)
        .correlate(Subject)
        .scalar_subquery()
    )
    current_version = (
        select(versions.id)
        .where(versions.study_id == Subject.study_id, versions.form_id == bindparam("form_id"))
        .order_by(versions.version.desc())
        .limit(1)
        .correlate(Subject)
        .scalar_subquery()
    )
    entities = (Subject, Site, StudyDefinition, EventOccurrence, FormRecord, FormVersion)
    query = (
        select(*entities, _stored_items())
        .join(Site, Site.id == Subject.site_id)
        .outerjoin(StudyDefinition, StudyDefinition.id == latest_definition)
        .outerjoin(
            EventOccurrence,
            and_(
                EventOccurrence.subject_id == Subject.id,
                EventOccurrence.event_id == bindparam("event_id"),
                EventOccurrence.number == bindparam("number"),
            ),
        )
        .outerjoin(
            FormRecord,
            and_(
                FormRecord.occurrence_id == EventOccurrence.id,
                FormRecord.form_id == bindparam("form_id"),
            ),
        )
        .outerjoin(
            FormVersion,
            FormVersion.id == func.coalesce(FormRecord.form_version_id, current_version),
        )
        .where(Subject.study_code == bindparam("code"))
    )
    if identity:
        # Shared lock on the vault row (PostgreSQL; SQLite writes one at a time anyway): a
        # birth-date correction waits for this save, then recomputes from what it stored; a
        # save that comes after a correction reads the corrected date.
        query = (
            query.add_columns(SubjectIdentity)
            .join(SubjectIdentity, SubjectIdentity.subject_id == Subject.id)
            .with_for_update(read=True, of=SubjectIdentity)
        )
    return subjects.visible_statement(query)


def find_entry(
    ctx: Context,
    code: str,
    event_id: str,
    number: int,
    form_id: str,
    *,
    identity: bool = False,
) -> Entry | None:
    """The entry of a subject the actor may see, or None (out of scope, or no such form there).

    One query reads the subject and its site, the study's current definition (which events
    exist and which forms they have), the occurrence, the record and its form version (the
    current version when there is no record yet), and with `identity` the vault row, still
    encrypted (`subjects.read_identity` decrypts and audits it). Every page and save needs them,
    and reading them one by one costs a round trip each.
    """
    if number < 1:
        return None
    session = ctx.session
    found = session.execute(
        _entry_query(identity),
        {
            "code": code,
            "event_id": event_id,
            "number": number,
            "form_id": form_id,
            **subjects.visible_params(ctx),
        },
    ).first()
    if found is None:
        return None
    subject, site, definition, occurrence, record, version, stored = found[:7]
    if definition is None or version is None:
        return None
    # What the row read, attached where the code looks (the session holds rows only weakly).
    set_committed_value(subject, "site", site)
    if identity:
        set_committed_value(subject, "identity", found[7])
    if version.definition_id == definition.id:
        set_committed_value(version, "definition", definition)
    study = study_of(definition)
    event = next((e for e in study.events if e.id == event_id), None)
    if event is None or form_id not in event.forms or (number > 1 and not event.repeating):
        return None
    if not _live_occurrence(occurrence, number):
        return None
    return Entry(subject, event_id, number, version, occurrence, record, stored or {}, study)


def _live_occurrence(occurrence: EventOccurrence | None, number: int) -> bool:
    """Whether data may be entered there: an occurrence that exists and was not removed, or the
    first, which its first save opens. Others open only when added on the subject page (with
    their visit date), and a removed one's number is never used again."""
    if occurrence is None:
        return number == 1
    return occurrence.removed_at is None


def open_entry(
    ctx: Context, subject: Subject, event_id: str, number: int, form_id: str
) -> Entry | None:
    """The entry of a subject already found (see `find_entry`)."""
    return find_entry(ctx, subject.study_code, event_id, number, form_id)


def stored_items(ctx: Context, record: FormRecord | None) -> dict[str, Stored]:
    """The record's stored answers, read afresh (for a reader who may see its subject)."""
    if record is None:
        return {}
    ctx.require(Permission.SUBJECT_VIEW, record.subject.site_id)
    rows = ctx.session.execute(
        select(ItemValue.path, ItemValue.value).where(ItemValue.record_id == record.id)
    )
    return {path: value for path, value in rows}
