"""What the export builders are handed: the study's forms merged across versions (`Layout`) and
each subject's data as plain values (`SubjectData`), read by `edc.services.exports`.

Builders never touch the database: the service reads subjects in bounded batches and hands
them over one by one, so a builder's memory holds one subject at a time whatever the study size.
Identifier items (`identifier: true`, and the calculations reading them) are left out of the
layout here, once: a builder writes only the columns and items the layout names, so nothing the
layout drops can reach a file, even if a caller passed it in a subject's values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import forms_dsl
from forms_dsl.model import FieldType, Section
from forms_dsl.text import Text


@dataclass(frozen=True)
class FieldSpec:
    """One stored field of a form, as its latest version defines it, with the versions having it."""

    field: forms_dsl.Field
    versions: tuple[int, ...]

    @property
    def id(self) -> str:
        return self.field.id


@dataclass(frozen=True)
class SectionSpec:
    id: str
    title: Text
    repeating: bool
    fields: tuple[FieldSpec, ...]


@dataclass(frozen=True)
class FormSpec:
    """A form merged across its stored versions: the latest version's order, then fields that
    only older versions had (their data stay exportable)."""

    id: str
    title: Text
    versions: tuple[int, ...]
    sections: tuple[SectionSpec, ...]

    @property
    def fields(self) -> dict[str, tuple[SectionSpec, FieldSpec]]:
        return {f.id: (s, f) for s in self.sections for f in s.fields}

    @property
    def flat(self) -> tuple[FieldSpec, ...]:
        """The fields of the non-repeating sections, in order (one row per record)."""
        return tuple(f for s in self.sections if not s.repeating for f in s.fields)


@dataclass(frozen=True)
class Layout:
    slug: str
    title: Text
    languages: tuple[str, ...]
    events: tuple[forms_dsl.Event, ...]
    forms: tuple[FormSpec, ...]
    #: Each stored version of each form as defined (the FHIR export maps answers with it).
    versions: Mapping[tuple[str, int], forms_dsl.Form] = field(default_factory=dict)

    def form(self, form_id: str) -> FormSpec | None:
        return next((f for f in self.forms if f.id == form_id), None)


def merged_form(
    versions: Sequence[forms_dsl.Form], dropped: Callable[[forms_dsl.Form], frozenset[str]]
) -> FormSpec:
    """One form's versions (any order) merged; `dropped(form)` names the identifier fields of a
    version, left out whichever version marked them."""
    ordered = sorted(versions, key=lambda f: f.version, reverse=True)
    gone = frozenset().union(*(dropped(f) for f in ordered))
    having: dict[str, list[int]] = {}
    for form in ordered:
        for f in form:
            having.setdefault(f.id, []).append(form.version)
    sections: dict[str, tuple[Section, list[forms_dsl.Field]]] = {}
    seen: set[str] = set()
    for form in ordered:  # latest first: its definition and its order win
        for section in form.sections:
            _, kept = sections.setdefault(section.id, (section, []))
            for f in section.fields:
                if f.id not in seen and f.id not in gone and f.stores_value:
                    seen.add(f.id)
                    kept.append(f)
    return FormSpec(
        ordered[0].id,
        ordered[0].title,
        tuple(sorted(f.version for f in ordered)),
        tuple(
            SectionSpec(
                s.id,
                s.title,
                s.repeat is not None,
                tuple(FieldSpec(f, tuple(sorted(having[f.id]))) for f in kept),
            )
            for s, kept in sections.values()
        ),
    )


def choice_codes(spec: FieldSpec) -> tuple[tuple[str, Text], ...]:
    """The codes (and labels) of a choice or multichoice field; () for other types."""
    choices = spec.field.choices
    if spec.field.type not in (FieldType.CHOICE, FieldType.MULTICHOICE) or choices is None:
        return ()
    return tuple((c.code, c.label) for c in choices.choices)


# --- The data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One change of an item, from the audit trail: the value it got, who, where, when, why."""

    key: str  # the item's key in its record (`weight`, `doses-3-dose_mg`)
    action: str  # item.created, item.changed, item.deleted, item.derived
    value: object
    at: datetime
    user_id: int | None
    site_code: str
    reason: str
    seq: int


@dataclass(frozen=True)
class Signed:
    """A valid (not invalidated) e-signature: who, with which meaning, when, at which site."""

    signer_id: int
    meaning: str
    at: datetime
    site_code: str


@dataclass(frozen=True)
class RecordData:
    event_id: str
    occurrence: int
    form_id: str
    version: int
    status: str
    values: Mapping[str, object]  # item key → stored JSON value
    changes: tuple[Change, ...] = ()
    signature: Signed | None = None


@dataclass(frozen=True)
class ConsentData:
    """The subject's consent in force, else their last one: what was signed and what stands."""

    reference: str
    document: str
    version: str
    language: str
    since: datetime
    state: str  # in_force, withdrawn (all further collection), ended (superseded), lapsed
    end_reason: str  # superseded, withdrawn… (ended only)
    valid_until: date | None
    options: Mapping[str, bool]  # each optional item as it stands now (withdrawals applied)


@dataclass(frozen=True)
class SubjectData:
    study_code: str
    site_code: str
    records: tuple[RecordData, ...]
    #: Signatures of a whole visit, by (event, occurrence); of the whole casebook.
    visit_signatures: Mapping[tuple[str, int], Signed] = field(default_factory=dict)
    signature: Signed | None = None
    #: Where the child stands in the study (`edc.services.subject_status`).
    status: str = ""
    consent: ConsentData | None = None


@dataclass(frozen=True)
class SiteInfo:
    code: str
    name: str


@dataclass(frozen=True)
class Staff:
    id: int
    name: str


@dataclass
class Source:
    """Everything one export reads: the layout, sites and staff named, and the subjects (an
    iterator the service fills batch by batch)."""

    layout: Layout
    sites: tuple[SiteInfo, ...]
    staff: tuple[Staff, ...]
    subjects: Iterable[SubjectData]
    created_at: datetime
    file_id: str
    signature_meanings: Mapping[str, str] = field(default_factory=dict)  # code → English text
    signature_statement: str = ""
    #: The audit trail of the scope, as CSV rows (a certified copy only; read while written).
    trail_columns: Sequence[str] = ()
    trail: Iterable[Sequence[object]] = ()
