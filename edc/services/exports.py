"""Data exports (CSV with codebook, CDISC ODM 1.3.2): who may export what, which subjects are
included, reading the data in bounded batches for the builders of `edc.exports`, the manifest
and the `export.created` audit event (checklist 42-44, 48).

Access: a data manager exports the whole study (or one of its sites); an investigator exports
only their own site's data (`--site`), so that no sponsor holds the data alone (checklist 43).

Consent filter (`CONSENT_RULE`): a subject is included when a consent is or was in force for
them (any consent recorded, in force now, superseded, lapsed or withdrawn). A withdrawal never
deletes: what was collected before it stays and is exported; nothing after a withdrawal of all
further collection exists, since entry is refused from then on. Subjects with no consent ever
recorded (screening before consent) are left out and counted in the manifest.

Identity: the identity vault is never read here, and items marked `identifier: true` (with the
calculations reading them) are dropped from the layout before any builder sees it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any
from typing import cast as typed

from sqlalchemy import String, Table, Text, cast, exists, func, select

import forms_dsl
from edc import access, audit
from edc.access import Permission
from edc.context import Context
from edc.errors import Denied, Invalid, NotFound
from edc.exports import certified, fhir, odm, tidy_csv
from edc.exports.model import (
    Change,
    ConsentData,
    Layout,
    RecordData,
    Signed,
    SiteInfo,
    Source,
    Staff,
    SubjectData,
    merged_form,
)
from edc.exports.output import Hashed
from edc.item_address import RecordItem
from edc.models.audit import AuditEvent
from edc.models.consent import ConsentScope
from edc.models.crf import EventOccurrence, FormRecord, ItemValue
from edc.models.definitions import FormVersion
from edc.models.monitoring import ESignature
from edc.models.studies import Site, Study
from edc.models.subjects import Subject
from edc.models.users import User
from edc.services import audit_review, consent_scope, definitions, identifiers, signing
from edc.services.data_entry import ITEM_ACTIONS
from edc.services.derived_events import DERIVED

CREATED = "export.created"
#: Subjects read per round trip: memory holds one batch, whatever the study size.
BATCH = 200
#: Record ids per `IN (...)` of the audit trail read (under every database's parameter limit).
ID_CHUNK = 500
#: Not yet decoded (None is a value: JSON null).
_UNSEEN = object()
CONSENT_RULE = (
    "Subjects for whom a consent is or was in force (any consent recorded: in force now, "
    "superseded, lapsed or withdrawn). Withdrawals never delete: data collected before a "
    "withdrawal are kept and exported; no data are collected after a withdrawal of all further "
    "collection. Subjects with no consent ever recorded are not exported."
)
IDENTIFIER_RULE = (
    "The identity vault (names, birth date, hospital number, guardians' contacts) is never "
    "exported; items marked `identifier: true`, and calculations reading them, are dropped."
)

#: A builder: the data to write, the file object, the manifest (the builder may add to it);
#: returns its counts. Another format (FHIR) registers one with `register_format`.
Writer = Callable[[Source, IO[bytes], dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Format:
    name: str
    writer: Writer
    extension: str  # of the file written
    needs_history: bool  # whether it carries item histories (read only then)
    needs_trail: bool = False  # whether it carries the scope's whole audit trail


def _csv(source: Source, out: IO[bytes], manifest: dict[str, Any]) -> dict[str, Any]:
    return tidy_csv.write_zip(source.layout, source.subjects, out, manifest)


FORMATS: dict[str, Format] = {
    "csv": Format("csv", _csv, "zip", False),
    "odm": Format("odm", odm.write, "xml", True),
    "fhir": Format("fhir", fhir.write, "json", True),
    "certified": Format("certified", certified.write, "zip", True, needs_trail=True),
}


def register_format(fmt: Format) -> None:
    """Add an export format (e.g. FHIR): the CLI and the jobs offer every registered one."""
    FORMATS[fmt.name] = fmt


def format_of(name: str) -> Format:
    fmt = FORMATS.get(name)
    if fmt is None:
        raise Invalid(f"unknown export format {name!r}")
    return fmt


@dataclass(frozen=True)
class Scope:
    """What an export covers: a study, or one of its sites."""

    study: Study
    site: Site | None

    @property
    def name(self) -> str:
        """As the audit trail and the manifest name it: the site's code, or the study's slug."""
        return self.site.code if self.site is not None else self.study.slug


def scope(ctx: Context, study_slug: str, site_code: str | None = None) -> Scope:
    """The study (and site) to export, if the actor may: a data manager of the study for the
    whole study, anyone holding the export permission at the site for one site (an
    investigator: their own only). A refusal reads like a missing study."""
    study = ctx.session.scalar(select(Study).where(Study.slug == study_slug))
    if study is None:
        raise NotFound()
    return scope_of(ctx, study, _site(ctx, study, site_code) if site_code else None)


def scope_of(ctx: Context, study: Study, site: Site | None) -> Scope:
    """`scope` for rows already read (a queued job's study and site), checked again."""
    if site is not None:
        if site.study_id != study.id:
            raise NotFound()
        ctx.require(Permission.DATA_EXPORT, site.id)
    elif not access.holds_study(ctx.grants, Permission.DATA_EXPORT, study.id):
        raise Denied()
    return Scope(study, site)


def _site(ctx: Context, study: Study, code: str) -> Site:
    site = ctx.session.scalar(select(Site).where(Site.study_id == study.id, Site.code == code))
    if site is None:
        raise NotFound()
    return site


# --- Who is included ------------------------------------------------------------------------


def _consented() -> Any:
    return exists().where(ConsentScope.subject_id == Subject.id)


def _in_scope(where: Scope) -> list[Any]:
    found = [Subject.study_id == where.study.id]
    if where.site is not None:
        found.append(Subject.site_id == where.site.id)
    return found


def subject_counts(ctx: Context, where: Scope) -> tuple[int, int]:
    """How many subjects of the scope are included, and how many are left out (no consent)."""
    consented = _consented()
    included, total = ctx.session.execute(
        select(func.count().filter(consented), func.count()).where(*_in_scope(where))
    ).one()
    return included, total - included


def _batches(ctx: Context, where: Scope) -> Iterator[list[tuple[int, str, str, str]]]:
    """The included subjects (id, study code, site code, status), by id, BATCH at a time
    (keyset)."""
    last = 0
    while True:
        rows = ctx.session.execute(
            select(Subject.id, Subject.study_code, Site.code, Subject.status)
            .join(Site, Site.id == Subject.site_id)
            .where(*_in_scope(where), _consented(), Subject.id > last)
            .order_by(Subject.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        yield [(r[0], r[1], r[2], r[3]) for r in rows]
        last = rows[-1][0]


# --- The layout -------------------------------------------------------------------------------


def layout(ctx: Context, study: Study) -> Layout:
    """Every stored form of the study merged across its versions, identifier items dropped;
    events and languages from the current study definition."""
    model = definitions.study_model(ctx.session, study.id)
    if model is None:
        raise NotFound()
    by_form: dict[str, list[forms_dsl.Form]] = {}
    for version in definitions.form_versions(ctx.session, study.id):
        by_form.setdefault(version.form_id, []).append(definitions.form_model(version))
    order = [f for e in model.events for f in e.forms]
    ranked = sorted(by_form, key=lambda f: (order.index(f) if f in order else len(order), f))
    forms = tuple(merged_form(by_form[f], identifiers.field_ids) for f in ranked)
    versions = {(f.id, f.version): f for found in by_form.values() for f in found}
    return Layout(study.slug, model.title, model.languages, model.events, forms, versions)


# --- Reading one batch ------------------------------------------------------------------------

_RecordRow = tuple[int, int, str, int, str, int, str, int]


def _records(ctx: Context, ids: Sequence[int]) -> list[_RecordRow]:
    """(record, subject, event, occurrence number, form, version, status, occurrence id) of
    the subjects' records, visits removed by mistake left out."""
    rows = ctx.session.execute(
        select(
            FormRecord.id,
            FormRecord.subject_id,
            EventOccurrence.event_id,
            EventOccurrence.number,
            FormRecord.form_id,
            FormVersion.version,
            FormRecord.status,
            EventOccurrence.id,
        )
        .join(EventOccurrence, EventOccurrence.id == FormRecord.occurrence_id)
        .join(FormVersion, FormVersion.id == FormRecord.form_version_id)
        .where(FormRecord.subject_id.in_(ids), EventOccurrence.removed_at.is_(None))
        .order_by(FormRecord.id)
    ).all()
    return [tuple(r) for r in rows]


def _values(ctx: Context, ids: Sequence[int]) -> dict[int, dict[str, object]]:
    """The subjects' stored item values by record. Read as JSON text through the core table (no
    ORM row objects) and decoded once per distinct text: values repeat (codes, yes/no, dates),
    and decoding was most of an export's time. Lists are decoded each time: never shared."""
    found: dict[int, dict[str, object]] = {}
    items = typed(Table, ItemValue.__table__).c
    rows = ctx.session.connection().execute(
        select(items.record_id, items.path, cast(items.value, Text))
        .join(FormRecord, FormRecord.id == items.record_id)
        .where(FormRecord.subject_id.in_(ids))
    )
    decoded: dict[str, object] = {}
    for record_id, path, text in rows:
        value = decoded.get(text, _UNSEEN) if text is not None else None
        if value is _UNSEEN:
            value = json.loads(text)
            if not isinstance(value, list | dict):
                decoded[text] = value
        found.setdefault(record_id, {})[path] = value
    return found


def _changes(ctx: Context, record_ids: Sequence[int]) -> dict[int, list[Change]]:
    """Each record's item changes from the audit trail, oldest first."""
    found: dict[int, list[Change]] = {}
    keys = [str(i) for i in record_ids]
    for start in range(0, len(keys), ID_CHUNK):
        rows = ctx.session.execute(
            select(
                AuditEvent.entity_id,
                AuditEvent.item_path,
                AuditEvent.action,
                AuditEvent.new_value,
                AuditEvent.at,
                AuditEvent.actor_id,
                AuditEvent.site_code,
                AuditEvent.reason,
                AuditEvent.seq,
            )
            .where(
                AuditEvent.entity_type == "form_record",
                AuditEvent.entity_id.in_(keys[start : start + ID_CHUNK]),
                AuditEvent.action.in_(ITEM_ACTIONS),
            )
            .order_by(AuditEvent.seq)
        )
        for entity_id, path, action, new, at, actor_id, site_code, reason, seq in rows:
            try:
                key = RecordItem.parse(path).item.key
            except Invalid:
                continue
            value = new.get("value") if action == DERIVED and isinstance(new, dict) else new
            change = Change(key, action, value, at, actor_id, site_code, reason, seq)
            found.setdefault(int(entity_id), []).append(change)
    return found


@dataclass
class _Signatures:
    records: dict[int, Signed]
    visits: dict[int, Signed]  # by occurrence id
    casebooks: dict[int, Signed]  # by subject id


def _signatures(ctx: Context, ids: Sequence[int], sites: Mapping[int, str]) -> _Signatures:
    """The valid signatures of the subjects, the latest of each thing signed."""
    found = _Signatures({}, {}, {})
    rows = ctx.session.execute(
        select(
            ESignature.level,
            ESignature.subject_id,
            ESignature.occurrence_id,
            ESignature.record_id,
            ESignature.signer_id,
            ESignature.meaning,
            ESignature.signed_at,
        )
        .where(ESignature.subject_id.in_(ids), ESignature.invalidated_at.is_(None))
        .order_by(ESignature.signed_at, ESignature.id)
    )
    for level, subject_id, occurrence_id, record_id, signer, meaning, at in rows:
        signed = Signed(signer, meaning, at, sites[subject_id])
        if record_id is not None:
            found.records[record_id] = signed
        elif occurrence_id is not None:
            found.visits[occurrence_id] = signed
        elif level == "casebook":
            found.casebooks[subject_id] = signed
    return found


def _batch(
    ctx: Context, lay: Layout, batch: list[tuple[int, str, str, str]], history: bool
) -> list[SubjectData]:
    """One batch of subjects as the builders take them, visits in the study's order."""
    ids = [b[0] for b in batch]
    sites = {b[0]: b[2] for b in batch}
    records = _records(ctx, ids)
    values = _values(ctx, ids)
    changes = _changes(ctx, [r[0] for r in records]) if history else {}
    signed = _signatures(ctx, ids, sites) if history else _Signatures({}, {}, {})
    consents = consent_scope.latest_by_subject(ctx, ids)
    event_rank = {e.id: n for n, e in enumerate(lay.events)}
    form_rank = {f.id: n for n, f in enumerate(lay.forms)}
    by_subject: dict[int, list[RecordData]] = {i: [] for i in ids}
    visits: dict[int, dict[tuple[str, int], Signed]] = {i: {} for i in ids}
    for rid, sid, event_id, number, form_id, version, status, occurrence_id in records:
        by_subject[sid].append(
            RecordData(
                event_id,
                number,
                form_id,
                version,
                status,
                values.get(rid, {}),
                tuple(changes.get(rid, ())),
                signed.records.get(rid),
            )
        )
        if occurrence_id in signed.visits:
            visits[sid][(event_id, number)] = signed.visits[occurrence_id]
    found = []
    for sid, code, site_code, status in batch:
        ordered = sorted(
            by_subject[sid],
            key=lambda r: (
                event_rank.get(r.event_id, len(event_rank)),
                r.event_id,
                r.occurrence,
                form_rank.get(r.form_id, len(form_rank)),
            ),
        )
        found.append(
            SubjectData(
                code, site_code, tuple(ordered), visits[sid], signed.casebooks.get(sid), status,
                _consent(consents.get(sid)),
            )
        )  # fmt: skip
    return found


def _consent(latest: consent_scope.Latest | None) -> ConsentData | None:
    if latest is None:
        return None
    scope = latest.scope
    state = "ended" if scope.ended_at else "lapsed" if not latest.in_force else "in_force"
    if state == "in_force" and latest.withdrawn:
        state = "withdrawn"  # all further collection: nothing more is collected
    return ConsentData(
        scope.reference, scope.document, scope.version, scope.language, scope.since, state,
        scope.end_reason if scope.ended_at else "", scope.valid_until, latest.options,
    )  # fmt: skip


def _subjects(
    ctx: Context,
    where: Scope,
    lay: Layout,
    history: bool,
    progress: Callable[[int], None] | None,
) -> Iterator[SubjectData]:
    done = 0
    for batch in _batches(ctx, where):
        yield from _batch(ctx, lay, batch, history)
        done += len(batch)
        if progress is not None:
            progress(done)


# --- Who and where the files name -------------------------------------------------------------

#: Stands for an event without a signed-in author (the command line, the system itself).
NO_USER = Staff(0, "Command line or system")


def _staff(ctx: Context, where: Scope) -> tuple[Staff, ...]:
    """The staff the trail and the signatures of the exported records name (names only)."""
    records = select(FormRecord.id).join(Subject, Subject.id == FormRecord.subject_id)
    records = records.where(*_in_scope(where), _consented())
    editors = select(AuditEvent.actor_id).where(
        AuditEvent.entity_type == "form_record",
        AuditEvent.action.in_(ITEM_ACTIONS),
        AuditEvent.entity_id.in_(select(cast(records.subquery().c.id, String))),
    )
    signers = (
        select(ESignature.signer_id)
        .join(Subject, Subject.id == ESignature.subject_id)
        .where(*_in_scope(where))
    )
    rows = ctx.session.execute(
        select(User.id, User.full_name)
        .where(User.id.in_(editors.union(signers).subquery().select()))
        .order_by(User.id)
    )
    return (NO_USER, *(Staff(i, name) for i, name in rows))


def _sites(where: Scope) -> tuple[SiteInfo, ...]:
    chosen = [where.site] if where.site is not None else where.study.sites
    return tuple(SiteInfo(s.code, s.name) for s in chosen)


def _versions_used(ctx: Context, where: Scope) -> dict[str, list[int]]:
    rows = ctx.session.execute(
        select(FormVersion.form_id, FormVersion.version)
        .join(FormRecord, FormRecord.form_version_id == FormVersion.id)
        .join(Subject, Subject.id == FormRecord.subject_id)
        .where(*_in_scope(where), _consented())
        .distinct()
        .order_by(FormVersion.form_id, FormVersion.version)
    )
    used: dict[str, list[int]] = {}
    for form_id, version in rows:
        used.setdefault(form_id, []).append(version)
    return used


def _manifest(ctx: Context, where: Scope, fmt: Format, lay: Layout) -> dict[str, Any]:
    included, left_out = subject_counts(ctx, where)
    user = ctx.actor.user
    return {
        "format": fmt.name,
        "created_at": ctx.now().isoformat(),
        "created_by": {
            "email": ctx.actor.email,
            "name": user.full_name if user is not None else "",
            "role": access.audit_context(ctx.session, ctx.actor, where.name)[0],
        },
        "study": where.study.slug,
        "study_title": where.study.title,
        "scope": "site" if where.site is not None else "study",
        "sites": [s.code for s in _sites(where)],
        "form_versions": {f.id: list(f.versions) for f in lay.forms},
        "form_versions_used": _versions_used(ctx, where),
        "consent_filter": {
            "rule": CONSENT_RULE,
            "subjects_included": included,
            "subjects_without_consent_left_out": left_out,
        },
        "identifiers": IDENTIFIER_RULE,
    }


# --- The export -------------------------------------------------------------------------------


def _trail(ctx: Context, where: Scope) -> Iterator[list[object]]:
    """The audit trail of the scope's sites, oldest first, streamed (its read is audited)."""
    codes = {s.code for s in _sites(where)}
    at = audit_review.CSV_COLUMNS.index("site_code")
    _count, rows = audit_review.export_trail(ctx, audit_review.TrailFilter(), leaves_site=True)
    return (row for row in rows if row[at] in codes)


@dataclass(frozen=True)
class Outcome:
    manifest: dict[str, Any]
    sha256: str
    size: int

    def described(self, file_name: str) -> dict[str, Any]:
        """The manifest with the file it describes: name, size and SHA-256 (kept beside it)."""
        return {**self.manifest, "file": {"name": file_name, "size": self.size,
                                          "sha256": self.sha256}}  # fmt: skip


def export(
    ctx: Context,
    where: Scope,
    fmt_name: str,
    out: IO[bytes],
    *,
    progress: Callable[[int], None] | None = None,
    job_id: int | None = None,
) -> Outcome:
    """Write the export of `where` (from `scope`, which checked access) to `out`, streamed;
    audited as `export.created` with who, scope, format, SHA-256 and counts. `progress` is
    told how many subjects are done after each batch."""
    scope_of(ctx, where.study, where.site)  # checked again: a job may run long after asking
    fmt = format_of(fmt_name)
    lay = layout(ctx, where.study)
    manifest = _manifest(ctx, where, fmt, lay)
    now = ctx.now()
    source = Source(
        lay, _sites(where), _staff(ctx, where) if fmt.needs_history else (),
        _subjects(ctx, where, lay, fmt.needs_history, progress), now,
        f"EDC.{where.study.slug}.{where.name}.{now:%Y%m%dT%H%M%S}",
        {str(k): str(v) for k, v in signing.MEANINGS.items()}, str(signing.STATEMENT),
    )  # fmt: skip
    if fmt.needs_trail:
        source.trail_columns, source.trail = audit_review.CSV_COLUMNS, _trail(ctx, where)
    hashed = Hashed(out)
    counts = fmt.writer(source, typed(IO[bytes], hashed), manifest)
    hashed.flush()
    audit.record(
        ctx.session, ctx.actor, CREATED, entity_type="export",
        entity_id=job_id if job_id is not None else f"{fmt.name}:{where.name}",
        site_code=where.name,
        new={"study": where.study.slug, "scope": manifest["scope"], "sites": manifest["sites"],
             "format": fmt.name, "sha256": hashed.sha256, "size": hashed.size, "counts": counts,
             "consent_filter": manifest["consent_filter"]},
    )  # fmt: skip
    return Outcome(manifest, hashed.sha256, hashed.size)
