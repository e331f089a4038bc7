"""Registering subjects and reading their identity vault (site staff only, every read audited)."""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload

from edc import access, audit, crypto
from edc.access import Permission
from edc.context import Context
from edc.errors import Invalid
from edc.i18n import _
from edc.models.studies import Site
from edc.models.subjects import IdentityRevision, SiteCounter, Subject, SubjectIdentity
from edc.models.users import User

PAGE_SIZE = 50
#: At most this many possible duplicates are named (the registrar needs one to stop and look).
MAX_DUPLICATES = 10
NAME_AND_BIRTH_DATE = "name_and_birth_date"
HOSPITAL_NUMBER = "hospital_number"


class SubjectError(Invalid):
    """A refused registration, with a message for the person registering."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class DuplicateMatch:
    """A subject already at the site whose identity matches the one being registered."""

    study_code: str
    registered_on: dt.date  # on the site's calendar
    matched: tuple[str, ...]  # NAME_AND_BIRTH_DATE and/or HOSPITAL_NUMBER


class PossibleDuplicate(SubjectError):
    """The child may already be registered at this site: the registrar must look and confirm."""

    def __init__(self, matches: list[DuplicateMatch]) -> None:
        super().__init__(_("This child may already be registered at this site."))
        self.matches = matches


@dataclass(frozen=True)
class Guardian:
    name: str
    relationship: str = ""
    phone: str = ""
    email: str = ""
    #: Another address of theirs, where a remote consent's one-time code goes (optional).
    second_email: str = ""


@dataclass(frozen=True)
class Identity:
    """Direct identifiers: they stay in the vault and never leave the site."""

    family_name: str
    given_names: str
    date_of_birth: dt.date
    sex: str
    hospital_number: str = ""
    guardians: tuple[Guardian, ...] = field(default_factory=tuple)

    def to_json(self) -> str:
        data = asdict(self)
        data["date_of_birth"] = self.date_of_birth.isoformat()
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Identity:
        data = json.loads(text)
        data["date_of_birth"] = dt.date.fromisoformat(data["date_of_birth"])
        data["guardians"] = tuple(Guardian(**g) for g in data.get("guardians", ()))
        return cls(**data)


def study_code(prefix: str, site_code: str, number: int) -> str:
    """NB-FR01-0007: study prefix, site code without punctuation, per-site number."""
    return f"{prefix}-{re.sub(r'[^A-Za-z0-9]', '', site_code).upper()}-{number:04d}"


def _counter_row(session: Session, site_id: int) -> None:
    """The site's counter row exists from the first registration on."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(SiteCounter).values(site_id=site_id, last_number=0).on_conflict_do_nothing()
    )


def _take_turn(session: Session, site_id: int) -> None:
    """Registrations at a site take turns from here (the site's counter row, locked): the
    duplicate check then sees every child registered before, even a moment before."""
    _counter_row(session, site_id)
    session.execute(
        select(SiteCounter.site_id).where(SiteCounter.site_id == site_id).with_for_update()
    )


def _next_number(session: Session, site_id: int) -> int:
    """Take the site's next number; the row lock makes concurrent registrations wait in turn."""
    _counter_row(session, site_id)
    return session.execute(
        update(SiteCounter)
        .where(SiteCounter.site_id == site_id)
        .values(last_number=SiteCounter.last_number + 1)
        .returning(SiteCounter.last_number)
    ).scalar_one()


def site_today(site: Site, now: datetime) -> dt.date:
    """The date on the site's own calendar at `now` (UTC): what "today" means to its staff."""
    return site.local_time(now).date()


def acting_role(ctx: Context, permission: Permission, site_id: int) -> str:
    """The role in which the actor holds `permission` at the site, for the audit trail."""
    return access.acting_role(ctx.grants, permission, site_id)


def _plain(text: str) -> str:
    """Casefolded letters and digits only: accents, spaces, hyphens and apostrophes dropped."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c))


def _name_key(identity: Identity) -> str:
    return f"{_plain(identity.family_name)}|{_plain(identity.given_names)}|" + (
        identity.date_of_birth.isoformat()
    )


def blind_indexes(identity: Identity) -> tuple[str, str | None]:
    """The stored tokens of an identity: names with birth date, and hospital number (if any)."""
    number = _plain(identity.hospital_number)
    return (
        crypto.blind_index(NAME_AND_BIRTH_DATE, _name_key(identity)),
        crypto.blind_index(HOSPITAL_NUMBER, number) if number else None,
    )


def _set_indexes(vault: SubjectIdentity, identity: Identity) -> bool:
    """Store the identity's blind indexes (duplicates, search) on its vault row; whether they
    changed."""
    from edc.services.patient_search import search_indexes  # it reads this module

    name, number = blind_indexes(identity)
    tokens = {"name_index": name, "hospital_number_index": number, **search_indexes(identity)}
    changed = any(getattr(vault, column) != token for column, token in tokens.items())
    for column, token in tokens.items():
        setattr(vault, column, token)
    return changed


def find_duplicates(ctx: Context, site_id: int, identity: Identity) -> list[DuplicateMatch]:
    """Subjects at the site with the same names and birth date, or the same hospital number.

    Compared by blind index, so nothing is decrypted; the staff who may register at the site
    may see the matching study codes (the identities behind them stay in the vault).
    """
    session, actor = ctx.session, ctx.actor
    assert actor.user is not None
    ctx.require(Permission.SUBJECT_REGISTER, site_id)
    names = crypto.blind_indexes(NAME_AND_BIRTH_DATE, _name_key(identity))
    number = _plain(identity.hospital_number)
    numbers = crypto.blind_indexes(HOSPITAL_NUMBER, number) if number else []
    alike = [SubjectIdentity.name_index.in_(names)]
    if numbers:
        alike.append(SubjectIdentity.hospital_number_index.in_(numbers))
    site = session.get(Site, site_id)
    assert site is not None
    rows = session.execute(
        select(
            Subject.study_code,
            Subject.registered_at,
            SubjectIdentity.name_index,
            SubjectIdentity.hospital_number_index,
        )
        .join(SubjectIdentity, SubjectIdentity.subject_id == Subject.id)
        .where(Subject.site_id == site_id, or_(*alike))
        .order_by(Subject.number)
        .limit(MAX_DUPLICATES)
    )
    return [
        DuplicateMatch(
            study_code=code,
            registered_on=site_today(site, registered_at),
            matched=tuple(
                kind
                for kind, hit in (
                    (NAME_AND_BIRTH_DATE, name_index in names),
                    (HOSPITAL_NUMBER, number_index is not None and number_index in numbers),
                )
                if hit
            ),
        )
        for code, registered_at, name_index, number_index in rows
    ]


def registrable_sites(ctx: Context) -> list[Site]:
    session, actor = ctx.session, ctx.actor
    assert actor.user is not None
    query = access.scoped(
        select(Site).order_by(Site.code), session, actor.user, Permission.SUBJECT_REGISTER, Site.id
    )
    return list(session.scalars(query))


def register(
    ctx: Context,
    site_id: int,
    identity: Identity,
    now: datetime,
    *,
    confirm_duplicate: bool = False,
    seen: Collection[str] | None = None,
) -> Subject:
    """A new subject at a site the actor registers for, with a fresh pseudonymous code.

    A child who may already be registered at the site (same names and birth date, or same
    hospital number) raises `PossibleDuplicate` unless `confirm_duplicate`; when `seen` names the
    study codes the registrar was shown, a match outside them asks again. Registering anyway is
    recorded in the audit event, with the matches.
    """
    session, actor = ctx.session, ctx.actor
    assert actor.user is not None
    ctx.require(Permission.SUBJECT_REGISTER, site_id)
    site = session.get(Site, site_id)
    assert site is not None
    today = site_today(site, now)
    if identity.date_of_birth > today:
        raise SubjectError(_("The date of birth cannot be in the future."))
    role = acting_role(ctx, Permission.SUBJECT_REGISTER, site_id)
    _take_turn(session, site_id)
    matches = find_duplicates(ctx, site_id, identity)
    unseen = [m for m in matches if seen is not None and m.study_code not in seen]
    if matches and (not confirm_duplicate or unseen):
        audit.record(
            session, actor, "subject.duplicate_suspected", entity_type="subject",
            site_code=site.code, role=role, new={"matches": _matches_for_audit(matches)},
            durable=True,  # kept although the registration page answers with a refusal
        )  # fmt: skip
        raise PossibleDuplicate(matches)
    subject = _new_subject(ctx, site, today, now, role)
    registered: dict[str, Any] = {"study_code": subject.study_code, "site": site.code}
    if matches:
        registered["registered_despite_matches"] = _matches_for_audit(matches)
    audit.record(
        session, actor, "subject.registered", target=subject, site_code=site.code, role=role,
        new=registered,
    )  # fmt: skip
    _new_vault(ctx, subject, identity, site.code, now)
    session.flush()
    return subject


def _new_subject(ctx: Context, site: Site, today: dt.date, now: datetime, role: str) -> Subject:
    """The next subject of `site` (its number taken under the site's turn), status registered."""
    number = _next_number(ctx.session, site.id)
    subject = Subject(
        study_id=site.study_id,
        site_id=site.id,
        number=number,
        study_code=study_code(site.study.subject_prefix, site.code, number),
        registered_at=now,
        registered_by_id=ctx.actor.user_id,
        status="registered",
        status_date=today,
    )
    ctx.session.add(subject)
    return subject


def _new_vault(
    ctx: Context, subject: Subject, identity: Identity, site_code: str, now: datetime
) -> None:
    """The subject's identity, encrypted with its blind indexes; the trail names the fields."""
    vault = SubjectIdentity(
        subject=subject, ciphertext=crypto.encrypt(identity.to_json()), updated_at=now
    )
    _set_indexes(vault, identity)
    ctx.session.add(vault)
    audit.record(
        ctx.session,
        ctx.actor,
        "identity.created",
        target=vault,
        entity_type="subject_identity",
        entity_id=subject.study_code,
        site_code=site_code,
        new={"fields": sorted(asdict(identity))},  # which fields, never their values
    )


def _matches_for_audit(matches: list[DuplicateMatch]) -> list[dict[str, Any]]:
    return [{"study_code": m.study_code, "matched": list(m.matched)} for m in matches]


def visible(ctx: Context) -> Select[Any]:
    """Subjects the actor may see, without identities."""
    return visible_statement(select(Subject)).params(visible_params(ctx))


def visible_statement(query: Select[Any]) -> Select[Any]:
    """`query` (of subjects) kept to those `visible_params` allows: built once, run often."""
    return access.scoped_statement(query, Subject.site_id)


def visible_params(ctx: Context) -> dict[str, list[int]]:
    session, actor = ctx.session, ctx.actor
    assert actor.user is not None
    return access.scope_params(session, actor.user, Permission.SUBJECT_VIEW)


def subject_page(ctx: Context, page: int, search: str = "") -> tuple[list[Subject], int]:
    """One page of the subjects the actor may see; `search` matches part of the study code."""
    session = ctx.session
    query = visible(ctx)
    if search.strip():
        pattern = "%" + re.sub(r"([\\%_])", r"\\\1", search.strip().upper()) + "%"
        query = query.where(Subject.study_code.like(pattern, escape="\\"))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(joinedload(Subject.site))
        .order_by(Subject.site_id, Subject.number)
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    )
    return list(rows), total


def find(ctx: Context, code: str) -> Subject | None:
    """The subject by its study code, or None when it does not exist *or* is out of scope."""
    session = ctx.session
    return session.scalar(
        visible(ctx).options(joinedload(Subject.site)).where(Subject.study_code == code)
    )


def may_read_identity(ctx: Context, subject: Subject) -> bool:
    """Whether the actor may open the subject's identity (the vault's rule, site staff only)."""
    return ctx.holds(Permission.IDENTITY_VIEW, subject.site_id)


def may_correct_identity(ctx: Context, subject: Subject) -> bool:
    session, actor = ctx.session, ctx.actor
    assert actor.user is not None
    grants = access.grants(session, actor.user)
    return access.holds(grants, Permission.IDENTITY_EDIT, subject.site_id)


def read_identity(ctx: Context, subject: Subject, purpose: str = "display") -> Identity | None:
    """Decrypt the identity for site staff, recording the read and why; None for anyone else."""
    session = ctx.session
    if not may_read_identity(ctx, subject):
        return None
    vault = session.get(SubjectIdentity, subject.id)
    if vault is None:
        return None
    record_identity_read(ctx, subject, {"purpose": purpose})
    return Identity.from_json(crypto.decrypt(vault.ciphertext))


def record_identity_read(ctx: Context, subject: Subject, details: dict[str, object]) -> None:
    """One `identity.read` event, for the vault and for identifier items of forms alike."""
    session, actor = ctx.session, ctx.actor
    audit.record(
        session,
        actor,
        "identity.read",
        entity_type="subject_identity",
        entity_id=subject.study_code,
        site_code=subject.site.code,
        new=details,
        durable=True,  # kept even when the page that read it answers with an error
    )


#: The identity fields duplicates are recognised by.
MATCHED_FIELDS = frozenset({"family_name", "given_names", "date_of_birth", "hospital_number"})


def _check_duplicates(
    ctx: Context,
    subject: Subject,
    identity: Identity,
    confirm_duplicate: bool,
    seen: Collection[str] | None,
) -> None:
    """Refuse, unless confirmed after seeing them, an identity matching other children of the
    site; the suspicion is recorded even though the page answers with a refusal."""
    session, actor = ctx.session, ctx.actor
    matches = [
        m
        for m in find_duplicates(ctx, subject.site_id, identity)
        if m.study_code != subject.study_code
    ]
    unseen = [m for m in matches if seen is not None and m.study_code not in seen]
    if matches and (not confirm_duplicate or unseen):
        audit.record(
            session, actor, "subject.duplicate_suspected", entity_type="subject",
            entity_id=subject.study_code, site_code=subject.site.code,
            new={"matches": _matches_for_audit(matches), "on": "identity correction"},
            durable=True,
        )  # fmt: skip
        raise PossibleDuplicate(matches)


def correct_identity(
    ctx: Context,
    subject: Subject,
    identity: Identity,
    reason: str,
    now: datetime,
    *,
    confirm_duplicate: bool = False,
    seen: Collection[str] | None = None,
) -> list[str]:
    """Replace the identity, keeping the old one encrypted as a revision; the changed fields.

    Like a CRF correction it needs a reason, and the audit event names what changed (never the
    values, which stay in the vault). Nothing is written when nothing changed. A correction that
    makes the child look like another child of the site (names and birth date, or hospital
    number) raises `PossibleDuplicate` unless confirmed, as a registration does.
    """
    session, actor = ctx.session, ctx.actor
    assert actor.user is not None
    ctx.require(Permission.IDENTITY_EDIT, subject.site_id)
    if identity.date_of_birth > site_today(subject.site, now):
        raise SubjectError(_("The date of birth cannot be in the future."))
    if not reason.strip():
        raise SubjectError(_("Give a reason for the correction."))
    vault = session.get(SubjectIdentity, subject.id)
    assert vault is not None
    old = Identity.from_json(crypto.decrypt(vault.ciphertext))
    changed = [k for k, v in asdict(identity).items() if asdict(old).get(k) != v]
    if not changed:
        return []
    if set(changed) & MATCHED_FIELDS:
        _check_duplicates(ctx, subject, identity, confirm_duplicate, seen)
    number = len(_identity_revisions(session, subject)) + 1
    revision = IdentityRevision(
        subject_id=subject.id, revision=number, ciphertext=vault.ciphertext, replaced_at=now,
        replaced_by_id=actor.user_id, reason=reason.strip(),
    )  # fmt: skip
    session.add(revision)
    vault.ciphertext = crypto.encrypt(identity.to_json())
    vault.updated_at = now
    _set_indexes(vault, identity)
    audit.record(session, actor, "identity.revision_kept", target=revision)
    audit.record(
        session,
        actor,
        "identity.corrected",
        target=vault,
        entity_type="subject_identity",
        entity_id=subject.study_code,
        site_code=subject.site.code,
        new={"fields": changed, "revision": number},  # which fields, never their values
        reason=reason.strip(),
    )
    session.flush()
    if "date_of_birth" in changed:  # stored ages and what they decide follow in this transaction
        from edc.services import derived  # derived reads entries, which read this module

        cause = audit.latest_seq(session, derived.CAUSE, "subject_identity", subject.study_code)
        derived.recompute(ctx, subject, cause, now, birth=identity.date_of_birth)
    return changed


def _identity_revisions(session: Session, subject: Subject) -> list[IdentityRevision]:
    """The identities a subject had before each correction, oldest first (still encrypted)."""
    return list(
        session.scalars(
            select(IdentityRevision)
            .where(IdentityRevision.subject_id == subject.id)
            .order_by(IdentityRevision.revision)
        )
    )


@dataclass(frozen=True)
class Correction:
    """One correction of an identity as site staff see it: what was there before, and why."""

    revision: int
    at: datetime
    by: str
    reason: str
    before: Identity


def identity_history(ctx: Context, subject: Subject) -> list[Correction]:
    """The corrections of an identity with the values they replaced; reading them is audited."""
    session, actor = ctx.session, ctx.actor
    assert actor.user is not None
    if not may_read_identity(ctx, subject):
        return []
    revisions = _identity_revisions(session, subject)
    if revisions:
        audit.record(
            session, actor, "identity.read", entity_type="subject_identity",
            entity_id=subject.study_code, site_code=subject.site.code,
            new={"purpose": "history", "revisions": len(revisions)}, durable=True,
        )  # fmt: skip
    ids = {r.replaced_by_id for r in revisions if r.replaced_by_id is not None}
    rows = session.execute(select(User.id, User.email).where(User.id.in_(ids))).all() if ids else []
    authors: dict[int, str] = {user_id: email for user_id, email in rows}
    return [
        Correction(
            revision=r.revision,
            at=r.replaced_at,
            by=authors.get(r.replaced_by_id or 0, ""),
            reason=r.reason,
            before=Identity.from_json(crypto.decrypt(r.ciphertext)),
        )
        for r in revisions
    ]


def rotate_vault(ctx: Context) -> int:
    """Re-encrypt every identity and kept revision with the current key; returns the count.

    The blind indexes are recomputed too: their key derives from the vault key.
    """
    session, actor = ctx.session, ctx.actor
    count = 0
    for vault in session.scalars(select(SubjectIdentity)):
        vault.ciphertext = crypto.rotate(vault.ciphertext)
        _set_indexes(vault, Identity.from_json(crypto.decrypt(vault.ciphertext)))
        audit.record(session, actor, "identity.reencrypted", target=vault)
        count += 1
    for revision in session.scalars(select(IdentityRevision)):
        revision.ciphertext = crypto.rotate(revision.ciphertext)
        audit.record(session, actor, "identity.reencrypted", target=revision)
        count += 1
    session.flush()
    return count


def reindex_vault(ctx: Context) -> int:
    """Recompute the blind indexes of every identity (after an upgrade from before they
    existed, or a restore); returns how many changed. Each change is audited, no value shown."""
    session, actor = ctx.session, ctx.actor
    count = 0
    query = select(SubjectIdentity).order_by(SubjectIdentity.subject_id)
    for vault in session.scalars(query.execution_options(populate_existing=True)):
        if _set_indexes(vault, Identity.from_json(crypto.decrypt(vault.ciphertext))):
            audit.record(session, actor, "identity.reindexed", target=vault)
            count += 1
    session.flush()
    return count
