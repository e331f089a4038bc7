"""Find a patient by study code, names, birth date or hospital number, without plaintext.

The identity vault is encrypted, so identifiers are searched through blind indexes: keyed
HMACs (edc.crypto.blind_index, a key derived from the vault secret, never stored with the data)
of each normalised value, kept on the vault row. A search computes the same tokens from what
was typed and compares them: an exact match on the normalised value, nothing else (no partial
names). The study code is pseudonymous and matched in clear (any part of it).

Only staff who may open identities at a site search it (`Permission.IDENTITY_VIEW`: nurses and
investigators; monitors only where the site opted in), and only their own sites. Every search
is audited with the fields searched, never the values; each identity shown is an
`identity.read`, as on the subject page.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from edc import access, audit, crypto, errors
from edc.access import Permission
from edc.context import Context
from edc.i18n import _
from edc.models.audit import AuditEvent
from edc.models.subjects import Subject, SubjectIdentity

if TYPE_CHECKING:
    from edc.services.subjects import Identity

#: At most this many patients are listed; beyond, the searcher is asked to refine the search.
MAX_RESULTS = 20
#: Input caps (characters): longer input is refused, never cut (a cut name matches nobody).
NAME_MAX = 100
HOSPITAL_NUMBER_MAX = 40
STUDY_CODE_MAX = 32
#: Searches allowed per person in a window: enough for a clinic, too few to sweep the vault.
SEARCHES_PER_WINDOW = 30
WINDOW = timedelta(minutes=5)
SEARCHED = "identity.searched"

#: Blind index kinds (the HMAC's domain separation) and the vault columns holding them.
FAMILY_NAME = "family_name"
FULL_NAME = "full_name"
DATE_OF_BIRTH = "date_of_birth"
HOSPITAL_NUMBER = "hospital_number"  # the duplicate check's own index, shared


def plain(text: str) -> str:
    """Casefolded letters and digits only: accents, spaces, hyphens and apostrophes dropped
    (the duplicate check's normalisation, so "Zéphyrine" finds "ZEPHYRINE", "FR-99 887" finds
    "fr99887")."""
    from edc.services.subjects import _plain

    return _plain(text)


def search_indexes(identity: Identity) -> dict[str, str | None]:
    """The search tokens of an identity, by vault column (None where there is nothing)."""
    family, given = plain(identity.family_name), plain(identity.given_names)
    return {
        "family_name_index": crypto.blind_index(FAMILY_NAME, family) if family else None,
        "full_name_index": crypto.blind_index(FULL_NAME, f"{family}|{given}") if family else None,
        "birth_date_index": crypto.blind_index(DATE_OF_BIRTH, identity.date_of_birth.isoformat()),
    }


@dataclass(frozen=True)
class Criteria:
    """What was typed; empty strings and None are not searched."""

    study_code: str = ""
    family_name: str = ""
    given_names: str = ""
    date_of_birth: dt.date | None = None
    hospital_number: str = ""

    def fields(self) -> list[str]:
        """The names of the fields searched: all the audit trail keeps of a search."""
        return [name for name, value in vars(self).items() if value not in ("", None)]


@dataclass(frozen=True)
class Found:
    """One patient found: pseudonymous facts, and the identity for those who may read it."""

    study_code: str
    site_code: str
    status: str
    status_date: dt.date
    family_name: str
    given_names: str
    date_of_birth: dt.date


@dataclass(frozen=True)
class Results:
    patients: list[Found]
    more: bool  # more patients match than are listed: refine the search


class SearchLimited(errors.Invalid):
    """Too many searches in a short time."""

    status = 429


def search_sites(ctx: Context) -> frozenset[int]:
    """The sites whose patients the actor may find (where they may open identities)."""
    return access.site_ids_for(ctx.grants, Permission.IDENTITY_VIEW)


def may_search(ctx: Context) -> bool:
    return bool(search_sites(ctx))


def _checked(criteria: Criteria) -> None:
    """Refuse empty, overlong or incomplete criteria (`errors.Invalid`, for the form)."""
    if not criteria.fields():
        raise errors.Invalid(_("Fill in at least one field."))
    if max(len(criteria.family_name), len(criteria.given_names)) > NAME_MAX:
        raise errors.Invalid(_("A name is at most %(n)d characters.", n=NAME_MAX))
    if len(criteria.hospital_number) > HOSPITAL_NUMBER_MAX:
        raise errors.Invalid(
            _("A hospital number is at most %(n)d characters.", n=HOSPITAL_NUMBER_MAX)
        )
    if len(criteria.study_code) > STUDY_CODE_MAX:
        raise errors.Invalid(_("A study code is at most %(n)d characters.", n=STUDY_CODE_MAX))
    if criteria.given_names.strip() and not plain(criteria.family_name):
        raise errors.Invalid(_("Give the family name with the given names."))


def _throttle(ctx: Context) -> None:
    """At most SEARCHES_PER_WINDOW searches per person per WINDOW (counted in the trail)."""
    assert ctx.actor.user_id is not None
    recent = ctx.session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.actor_id == ctx.actor.user_id,
            AuditEvent.at >= ctx.now() - WINDOW,
            AuditEvent.action == SEARCHED,
        )
    )
    if (recent or 0) >= SEARCHES_PER_WINDOW:
        raise SearchLimited(_("Too many searches in a short time: wait a few minutes."))


def _conditions(criteria: Criteria) -> list[Any]:
    """The WHERE conditions: each typed field, by its blind index (every key of a rotation)."""
    conditions: list[Any] = []
    code = criteria.study_code.strip().upper()
    if code:
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", code) + "%"
        conditions.append(Subject.study_code.like(pattern, escape="\\"))
    family, given = plain(criteria.family_name), plain(criteria.given_names)
    if family and given:
        tokens = crypto.blind_indexes(FULL_NAME, f"{family}|{given}")
        conditions.append(SubjectIdentity.full_name_index.in_(tokens))
    elif family:
        conditions.append(
            SubjectIdentity.family_name_index.in_(crypto.blind_indexes(FAMILY_NAME, family))
        )
    if criteria.date_of_birth is not None:
        born = criteria.date_of_birth.isoformat()
        conditions.append(
            SubjectIdentity.birth_date_index.in_(crypto.blind_indexes(DATE_OF_BIRTH, born))
        )
    number = plain(criteria.hospital_number)
    if number:
        tokens = crypto.blind_indexes(HOSPITAL_NUMBER, number)
        conditions.append(SubjectIdentity.hospital_number_index.in_(tokens))
    if not conditions:  # only punctuation was typed: it matches nobody, rather than everybody
        raise errors.Invalid(_("Fill in at least one field."))
    return conditions


def find_patients(ctx: Context, criteria: Criteria) -> Results:
    """The patients of the actor's sites matching every field given, at most MAX_RESULTS.

    Raises `errors.Denied` for anyone who may open no identity, `errors.Invalid` for criteria
    that cannot be searched, `SearchLimited` when searching too fast. Each search is recorded
    (fields, not values, and how many were found), even one that finds nobody.
    """
    from edc.services.subjects import Identity, record_identity_read

    sites = search_sites(ctx)
    if not sites:
        raise errors.Denied()
    _checked(criteria)
    _throttle(ctx)
    rows = list(
        ctx.session.execute(
            select(Subject, SubjectIdentity.ciphertext)
            .join(SubjectIdentity, SubjectIdentity.subject_id == Subject.id)
            .options(joinedload(Subject.site))
            .where(Subject.site_id.in_(sorted(sites)), *_conditions(criteria))
            .order_by(Subject.study_code)
            .limit(MAX_RESULTS + 1)
        ).tuples()
    )
    more, rows = len(rows) > MAX_RESULTS, rows[:MAX_RESULTS]
    fields = criteria.fields()
    audit.record(
        ctx.session, ctx.actor, SEARCHED, entity_type="subject_identity",
        new={"fields": fields, "found": len(rows), "more": more}, durable=True,
    )  # fmt: skip
    found = []
    for subject, ciphertext in rows:
        identity = Identity.from_json(crypto.decrypt(ciphertext))
        details: dict[str, object] = {"purpose": "search", "searched": fields}
        record_identity_read(ctx.session, ctx.actor, subject, details)
        found.append(_found(subject, identity))
    return Results(patients=found, more=more)


def _found(subject: Subject, identity: Identity) -> Found:
    return Found(
        study_code=subject.study_code,
        site_code=subject.site.code,
        status=subject.status,
        status_date=subject.status_date,
        family_name=identity.family_name,
        given_names=identity.given_names,
        date_of_birth=identity.date_of_birth,
    )
