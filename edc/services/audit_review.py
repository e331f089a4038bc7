"""The clinical audit trail as reviewers read it: filtered, paginated, exported (checklist 24).

Investigators, nurses and monitors read the trail of their sites, data managers that of their
study (the sites where they hold `AUDIT_READ`). Only clinical events are shown: sign-ins, account
and role changes are the administrator's (`services/security.py`). Two rules keep identities in
the vault's hands: `identity.*` events show only at sites where the reader may open identities,
and the values of identifier items (`identifiers.field_ids`) are masked for everybody else, in
the page and in the CSV alike.

Events name their site by code (`audit_event.site_code`): the trail of a site is the events
carrying its code. Site codes are unique within a study.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    cast,
    false,
    func,
    null,
    or_,
    select,
    true,
)

import forms_dsl
from edc import access, audit
from edc.access import Permission
from edc.context import Context
from edc.errors import Invalid
from edc.i18n import _, _l
from edc.item_address import MAX_KEY, ItemAddress, RecordItem, field_of, record_suffix
from edc.models.audit import AuditEvent
from edc.models.crf import EventOccurrence, FormRecord
from edc.models.definitions import FormVersion
from edc.models.monitoring import DataLock, DataQuery, ESignature, ItemVerification
from edc.models.studies import Site
from edc.models.subjects import Subject
from edc.services import definitions, event_text, identifiers, subjects

PAGE_SIZE = 50
#: What the clinical trail holds: data, its review, subjects, visits, consent. Everything else
#: (sign-ins, accounts, roles, refusals, security exports) is the administrator's to read.
CLINICAL_PREFIXES = (
    "subject.",
    "identity.",
    "consent.",
    "event.",
    "record.",
    "item.",
    "check.",
    "crf.",
    "sdv.",
    "lock.",
    "signature.",
    "query.",
    "monitoring_visit.",
)
IDENTITY_PREFIX = "identity."
EXPORTED = "audit.exported"
#: Bounds of the filters (longer input is refused with a message, never cut silently).
MAX_USER, MAX_SUBJECT, MAX_ACTION = 254, 32, 64
_FORM_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")
_ACTION = re.compile(r"[a-z_]{1,32}\.[a-z_]{1,31}")
FILTER_LABELS = {
    "user": _l("User"),
    "subject": _l("Subject"),
    "form": _l("Form"),
    "item": _l("Item"),
    "action": _l("Event"),
}


def action_label(action: str) -> str:
    """The event's name in the reader's language."""
    return event_text.action_label(action)


def action_choices() -> list[tuple[str, str]]:
    """The clinical events a reader may filter on, by their names."""
    known = {a for a in event_text.ACTIONS if a.startswith(CLINICAL_PREFIXES)}
    return sorted(((a, action_label(a)) for a in known), key=lambda pair: pair[1])


@dataclass(frozen=True)
class TrailFilter:
    """What a reader narrows the trail to; days are the portal's days (its time zone)."""

    user: str = ""
    subject: str = ""
    form: str = ""
    item: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None

    def used(self) -> dict[str, str]:
        """The filters given, as an export's audit event records them."""
        shown = {
            "user": self.user,
            "subject": self.subject,
            "form": self.form,
            "item": self.item,
            "action": self.action,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        return {k: v for k, v in shown.items() if v}


def _too_long(name: str, limit: int) -> Invalid:
    return Invalid(
        _("%(filter)s: at most %(max)d characters.", filter=FILTER_LABELS[name], max=limit)
    )


def check_filter(f: TrailFilter) -> None:
    """Refuse (`Invalid`, with a message for the reader) a filter no event could match."""
    for name, limit in (("user", MAX_USER), ("subject", MAX_SUBJECT), ("form", 64)):
        if len(getattr(f, name)) > limit:
            raise _too_long(name, limit)
    if len(f.item) > MAX_KEY:
        raise _too_long("item", MAX_KEY)
    if len(f.action) > MAX_ACTION:
        raise _too_long("action", MAX_ACTION)
    if f.form and not _FORM_ID.fullmatch(f.form):
        raise Invalid(_("A form is named by its id: small letters, digits and _ (e.g. visit)."))
    if f.item and ItemAddress.of(f.item) is None:
        raise Invalid(_("An item is named by its key (e.g. weight, or doses-1-dose_mg)."))
    if f.action and not (_ACTION.fullmatch(f.action) and f.action.startswith(CLINICAL_PREFIXES)):
        raise Invalid(_("Choose an event from the list."))
    if f.since and f.until and f.since > f.until:
        raise Invalid(_("The first day comes after the last day: swap them."))


@dataclass(frozen=True)
class Scope:
    """The sites whose trail the actor reads, and those where they may see identities."""

    sites: tuple[Site, ...]
    identity_codes: frozenset[str]

    @property
    def codes(self) -> list[str]:
        return sorted({s.code for s in self.sites})

    def studies_of(self, code: str) -> set[int]:
        return {s.study_id for s in self.sites if s.code == code}


def reader_scope(ctx: Context) -> Scope:
    """The actor's `AUDIT_READ` sites (one query); no sites, no events."""
    grants = ctx.grants
    ids = access.site_ids_for(grants, Permission.AUDIT_READ)
    if not ids:
        return Scope((), frozenset())
    found = ctx.session.scalars(select(Site).where(Site.id.in_(ids)).order_by(Site.code))
    sites = tuple(found)
    identity_ids = access.site_ids_for(grants, Permission.IDENTITY_VIEW)
    return Scope(sites, frozenset(s.code for s in sites if s.id in identity_ids))


def in_scope(scope: Scope) -> ColumnElement[bool]:
    """Clinical events of the scope's sites; identity events only where identities are open."""
    return and_(
        AuditEvent.site_code.in_(scope.codes),
        or_(*(AuditEvent.action.startswith(p, autoescape=True) for p in CLINICAL_PREFIXES)),
        or_(
            ~AuditEvent.action.startswith(IDENTITY_PREFIX, autoescape=True),
            AuditEvent.site_code.in_(sorted(scope.identity_codes)),
        ),
    )


def _ids_as_text(column: Any, where: ColumnElement[bool]) -> Select[Any]:
    """Row ids as the trail stores them (`entity_id` is text)."""
    return select(cast(column, String)).where(where)


def about_subject(subject_id: int) -> ColumnElement[bool]:
    """Events of one subject: their own, and those of their visits, forms and review."""
    records = select(FormRecord.id).where(FormRecord.subject_id == subject_id)
    linked = {
        "event_occurrence": _ids_as_text(
            EventOccurrence.id, EventOccurrence.subject_id == subject_id
        ),
        "form_record": _ids_as_text(FormRecord.id, FormRecord.subject_id == subject_id),
        "data_query": _ids_as_text(DataQuery.id, DataQuery.subject_id == subject_id),
        "e_signature": _ids_as_text(ESignature.id, ESignature.subject_id == subject_id),
        "data_lock": _ids_as_text(DataLock.id, DataLock.subject_id == subject_id),
        "item_verification": _ids_as_text(
            ItemVerification.id, ItemVerification.record_id.in_(records)
        ),
    }
    return or_(
        and_(
            AuditEvent.entity_type.in_(("subject", "subject_identity")),
            AuditEvent.entity_id == str(subject_id),
        ),
        *(
            and_(AuditEvent.entity_type == kind, AuditEvent.entity_id.in_(ids))
            for kind, ids in linked.items()
        ),
    )


def _about_form(form_id: str) -> ColumnElement[bool]:
    records = _ids_as_text(FormRecord.id, FormRecord.form_id == form_id)
    return or_(
        and_(AuditEvent.entity_type == "form_record", AuditEvent.entity_id.in_(records)),
        AuditEvent.item_path.contains(f"/{form_id}@", autoescape=True),
    )


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of a day in `zone`, in UTC (what the trail stores)."""
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def narrowed(ctx: Context, scope: Scope, f: TrailFilter) -> Select[tuple[AuditEvent]]:
    """The trail of the scope narrowed by `f` (checked first). A subject the actor cannot see
    is refused like one that does not exist."""
    check_filter(f)
    found = select(AuditEvent).where(in_scope(scope))
    if f.user:
        found = found.where(
            AuditEvent.actor_email.contains(f.user.strip().lower(), autoescape=True)
        )
    if f.action:
        found = found.where(AuditEvent.action == f.action)
    if f.subject:
        subject = subjects.find(ctx, f.subject.strip())
        if subject is None or subject.site_id not in {s.id for s in scope.sites}:
            raise Invalid(_("No subject %(code)s at your sites.", code=f.subject.strip()))
        found = found.where(about_subject(subject.id))
    if f.form:
        found = found.where(_about_form(f.form))
    if f.item:
        suffix = record_suffix(ItemAddress.parse(f.item))
        found = found.where(AuditEvent.item_path.endswith(suffix, autoescape=True))
    zone = ZoneInfo(ctx.config.account_timezone)
    if f.since:
        found = found.where(AuditEvent.at >= day_start(f.since, zone))
    if f.until:
        found = found.where(AuditEvent.at < day_start(f.until + timedelta(days=1), zone))
    return found


# --- Rows a person reads: where, which subject and form, values (masked where they must be) --


@dataclass
class Shelf:
    """The study and form models that rows name, each read once (kept for a whole export).

    A stored version that no longer loads reads as None: its items are then masked (when in
    doubt, the vault's rule wins) and named by their keys."""

    ctx: Context
    _forms: dict[tuple[int, str, int], forms_dsl.Form | None] = field(default_factory=dict)
    _studies: dict[int, forms_dsl.Study | None] = field(default_factory=dict)

    def form(self, study_id: int, form_id: str, version: int) -> forms_dsl.Form | None:
        key = (study_id, form_id, version)
        if key not in self._forms:
            stored = self.ctx.session.scalar(
                select(FormVersion).where(
                    FormVersion.study_id == study_id,
                    FormVersion.form_id == form_id,
                    FormVersion.version == version,
                )
            )
            try:
                self._forms[key] = definitions.form_model(stored) if stored else None
            except definitions.DefinitionError:
                self._forms[key] = None
        return self._forms[key]

    def study(self, study_id: int) -> forms_dsl.Study | None:
        if study_id not in self._studies:
            try:
                self._studies[study_id] = definitions.study_model(self.ctx.session, study_id)
            except definitions.DefinitionError:
                self._studies[study_id] = None
        return self._studies[study_id]


def item_label(form: forms_dsl.Form | None, key: str, lang: str) -> str:
    """An item as its form names it: the field's label, after its section's title in a row."""
    address = ItemAddress.of(key)
    f = form.fields.get(address.field) if form is not None and address is not None else None
    if form is None or address is None or f is None:
        return key
    if address.group is None:
        return f.label.get(lang)
    section = next((s for s in form.sections if s.id == address.group), None)
    return f"{section.title.get(lang)} · {f.label.get(lang)}" if section else f.label.get(lang)


def event_label(study: forms_dsl.Study | None, event_id: str, lang: str) -> str:
    """A visit as the study names it (its id if the definition is gone)."""
    for event in study.events if study is not None else ():
        if event.id == event_id:
            return event.label.get(lang)
    return event_id


@dataclass(frozen=True)
class Place:
    """Where an event happened in the casebook: the CRF page's address and its names."""

    subject_code: str
    event_id: str = ""
    number: int = 0
    form_id: str = ""
    event_label: str = ""
    form_title: str = ""


@dataclass(frozen=True)
class TrailRow:
    """An event as a person reads it. `old` and `new` are stored values (the masked text in
    their place when hidden); `form` names the item's form, for showing its values."""

    seq: int
    at: datetime
    action: str
    code: str
    actor: str
    role: str
    site_code: str
    place: Place | None
    item: str
    item_label: str
    old: object
    new: object
    reason: str
    masked: bool = False
    form: forms_dsl.Form | None = None


def _numeric_ids(events: Iterable[AuditEvent], kinds: Iterable[str]) -> set[int]:
    wanted = set(kinds)
    return {int(e.entity_id) for e in events if e.entity_type in wanted and e.entity_id.isdigit()}


def record_places(
    ctx: Context, shelf: Shelf, record_ids: set[int], site_id: int | None = None
) -> dict[int, Place]:
    """Where records are, by id (one query): subject, visit and form, with their names (of
    the records at `site_id` only, when given)."""
    if not record_ids:
        return {}
    at_site = Subject.site_id == site_id if site_id is not None else true()
    rows = ctx.session.execute(
        select(FormRecord.id, Subject.study_code, Subject.study_id, EventOccurrence.event_id)
        .add_columns(EventOccurrence.number, FormRecord.form_id, FormVersion.version)
        .join(Subject, Subject.id == FormRecord.subject_id)
        .join(EventOccurrence, EventOccurrence.id == FormRecord.occurrence_id)
        .join(FormVersion, FormVersion.id == FormRecord.form_version_id)
        .where(FormRecord.id.in_(record_ids), at_site)
    )
    lang, found = ctx.language, {}
    for record_id, code, study_id, event_id, number, form_id, version in rows.tuples():
        form = shelf.form(study_id, form_id, version)
        title = form.title.get(lang) if form is not None else form_id
        label = event_label(shelf.study(study_id), event_id, lang)
        found[record_id] = Place(code, event_id, number, form_id, label, title)
    return found


#: Review rows whose events are placed by the record (or the subject) they belong to.
_REVIEW_ROWS: dict[str, Any] = {
    "item_verification": ItemVerification,
    "data_query": DataQuery,
    "e_signature": ESignature,
    "data_lock": DataLock,
}


def _review_links(
    ctx: Context, events: Sequence[AuditEvent]
) -> dict[tuple[str, int], tuple[int | None, int | None]]:
    """(entity type, id) → (record id, subject id) of the review rows the events name (one
    query per kind of row present)."""
    found: dict[tuple[str, int], tuple[int | None, int | None]] = {}
    for kind, model in _REVIEW_ROWS.items():
        ids = _numeric_ids(events, [kind])
        if not ids:
            continue
        record = getattr(model, "record_id", None)
        subject = getattr(model, "subject_id", None)
        rows = ctx.session.execute(
            select(model.id, record if record is not None else null())
            .add_columns(subject if subject is not None else null())
            .where(model.id.in_(ids))
        )
        found.update({(kind, i): (r, s) for i, r, s in rows.tuples()})
    return found


def _subject_codes(ctx: Context, subject_ids: set[int]) -> dict[int, str]:
    if not subject_ids:
        return {}
    found = ctx.session.execute(
        select(Subject.id, Subject.study_code).where(Subject.id.in_(subject_ids))
    )
    return {subject_id: code for subject_id, code in found.tuples()}


def _linked(
    e: AuditEvent, links: dict[tuple[str, int], tuple[int | None, int | None]]
) -> tuple[int | None, int | None]:
    """(record id, subject id) an event is about, as far as known."""
    if not e.entity_id.isdigit():
        return None, None
    n = int(e.entity_id)
    if e.entity_type == "form_record":
        return n, None
    if e.entity_type in ("subject", "subject_identity"):
        return None, n
    return links.get((e.entity_type, n), (None, None))


def places(ctx: Context, shelf: Shelf, events: Sequence[AuditEvent]) -> dict[int, Place]:
    """Where each event happened, by seq: its record's form, else its subject (a few queries
    for any number of events, and one for each study or form version not read yet)."""
    links = _review_links(ctx, events)
    about = {e.seq: _linked(e, links) for e in events}
    by_record = record_places(ctx, shelf, {r for r, _s in about.values() if r is not None})
    codes = _subject_codes(ctx, {s for _r, s in about.values() if s is not None})
    shown: dict[int, Place] = {}
    for seq, (record_id, subject_id) in about.items():
        if record_id is not None and record_id in by_record:
            shown[seq] = by_record[record_id]
        elif subject_id is not None and subject_id in codes:
            shown[seq] = Place(codes[subject_id])
    return shown


@dataclass
class Masker:
    """Whether an event's values belong to an identifier item the reader may not see, and the
    form its item belongs to."""

    scope: Scope
    shelf: Shelf

    def form_of(self, e: AuditEvent) -> tuple[forms_dsl.Form | None, RecordItem | None]:
        try:
            item = RecordItem.parse(e.item_path) if e.item_path else None
        except Invalid:
            return None, None
        studies = sorted(self.scope.studies_of(e.site_code))
        if item is None or not studies:
            return None, item
        return self.shelf.form(studies[0], item.form_id, item.version), item

    def hides(self, e: AuditEvent) -> bool:
        if not e.item_path or e.site_code in self.scope.identity_codes:
            return False
        try:
            item = RecordItem.parse(e.item_path)
        except Invalid:
            return True  # an address not understood: hidden rather than shown
        for study_id in self.scope.studies_of(e.site_code):
            form = self.shelf.form(study_id, item.form_id, item.version)
            if form is None or field_of(item.item.key) in identifiers.field_ids(form):
                return True
        return False


def trail_rows(ctx: Context, masker: Masker, events: Sequence[AuditEvent]) -> list[TrailRow]:
    """Events as rows a person reads (constant queries, and one per new form version)."""
    where = places(ctx, masker.shelf, events)
    mask = identifiers.masked_text()
    rows = []
    for e in events:
        hidden = masker.hides(e) and (e.old_value is not None or e.new_value is not None)
        form, item = masker.form_of(e)
        key = item.item.key if item is not None else ""
        rows.append(
            TrailRow(
                seq=e.seq,
                at=e.at,
                action=action_label(e.action),
                code=e.action,
                actor=e.actor_email or "",
                role=event_text.role_labels(e.role),
                site_code=e.site_code,
                place=where.get(e.seq),
                item=key,
                item_label=item_label(form, key, ctx.language) if key else "",
                old=mask if hidden and e.old_value is not None else e.old_value,
                new=mask if hidden and e.new_value is not None else e.new_value,
                reason=e.reason or "",
                masked=hidden,
                form=form,
            )
        )
    return rows


@dataclass(frozen=True)
class TrailPage:
    rows: list[TrailRow]
    total: int
    pages: int


def trail_page(ctx: Context, f: TrailFilter, page: int) -> TrailPage:
    """One page of the trail, newest first, and how many events match (constant queries)."""
    ctx.require(Permission.AUDIT_READ)
    scope = reader_scope(ctx)
    found = narrowed(ctx, scope, f)
    total = ctx.session.scalar(select(func.count()).select_from(found.subquery())) or 0
    events = list(
        ctx.session.scalars(
            found.order_by(AuditEvent.seq.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
        )
    )
    pages = max(1, -(-total // PAGE_SIZE))
    return TrailPage(trail_rows(ctx, Masker(scope, Shelf(ctx)), events), total, pages)


CSV_COLUMNS = [
    "seq",
    "at",
    "action",
    "actor_email",
    "role",
    "site_code",
    "subject",
    "event",
    "occurrence",
    "form",
    "entity_type",
    "entity_id",
    "item_path",
    "old_value",
    "new_value",
    "reason",
]


def _csv_row(e: AuditEvent, place: Place | None, hidden: bool) -> list[object]:
    mask = identifiers.masked_text()
    return [
        e.seq,
        e.at,
        e.action,
        e.actor_email,
        e.role,
        e.site_code,
        place.subject_code if place else "",
        place.event_id if place else "",
        place.number if place and place.number else "",
        place.form_id if place else "",
        e.entity_type,
        e.entity_id,
        e.item_path,
        mask if hidden and e.old_value is not None else e.old_value,
        mask if hidden and e.new_value is not None else e.new_value,
        e.reason,
    ]


#: Events read per round trip while a CSV streams (memory stays flat whatever the trail).
CSV_BATCH = 500


def export_trail(
    ctx: Context, f: TrailFilter, *, leaves_site: bool = False
) -> tuple[int, Iterator[list[object]]]:
    """The filtered trail, oldest first, as CSV rows (`CSV_COLUMNS`), and the export audited.
    `leaves_site`: for a file that leaves the site's hands (an export, a certified copy), the
    values of identifier items are masked whoever reads it.

    The rows are counted and capped at the newest matching event now, so the file holds exactly
    the rows its `audit.exported` event states (not that event, nor later ones). They are read
    while the response streams, in batches."""
    ctx.require(Permission.AUDIT_READ)
    scope = reader_scope(ctx)
    if leaves_site:
        scope = replace(scope, identity_codes=frozenset())
    found = narrowed(ctx, scope, f)
    matching = found.subquery()
    count, last = ctx.session.execute(select(func.count(), func.max(matching.c.seq))).one()
    audit.record(
        ctx.session,
        ctx.actor,
        EXPORTED,
        entity_type="audit_trail",
        entity_id="csv",
        new={"filters": f.used(), "rows": count, "sites": ", ".join(scope.codes)},
    )
    capped = found.where(AuditEvent.seq <= last) if last else found.where(false())
    masker = Masker(scope, Shelf(ctx))

    def stream() -> Iterator[list[object]]:
        result = ctx.session.scalars(
            capped.order_by(AuditEvent.seq).execution_options(yield_per=CSV_BATCH)
        )
        for batch in result.partitions():
            where = places(ctx, masker.shelf, batch)
            for e in batch:
                yield _csv_row(e, where.get(e.seq), masker.hides(e))

    return count, stream()
