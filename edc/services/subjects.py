"""Registering subjects and reading their identity vault (site staff only, every read audited)."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload

from edc import access, audit, crypto
from edc.access import Permission
from edc.actor import Actor
from edc.i18n import _
from edc.models.studies import Site
from edc.models.subjects import IdentityRevision, SiteCounter, Subject, SubjectIdentity
from edc.models.users import User

PAGE_SIZE = 50


class SubjectError(Exception):
    """A refused registration, with a message for the person registering."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Guardian:
    name: str
    relationship: str = ""
    phone: str = ""
    email: str = ""


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


def _next_number(session: Session, site_id: int) -> int:
    """Take the site's next number; the row lock makes concurrent registrations wait in turn."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(
        insert(SiteCounter).values(site_id=site_id, last_number=0).on_conflict_do_nothing()
    )
    return session.execute(
        update(SiteCounter)
        .where(SiteCounter.site_id == site_id)
        .values(last_number=SiteCounter.last_number + 1)
        .returning(SiteCounter.last_number)
    ).scalar_one()


def registrable_sites(session: Session, actor: Actor) -> list[Site]:
    assert actor.user is not None
    query = access.scoped(
        select(Site).order_by(Site.code), session, actor.user, Permission.SUBJECT_REGISTER, Site.id
    )
    return list(session.scalars(query))


def register(
    session: Session, actor: Actor, site_id: int, identity: Identity, now: datetime
) -> Subject:
    """A new subject at a site the actor registers for, with a fresh pseudonymous code."""
    assert actor.user is not None
    access.require(session, actor.user, Permission.SUBJECT_REGISTER, site_id)
    if identity.date_of_birth > now.date():
        raise SubjectError(_("The date of birth cannot be in the future."))
    site = session.get(Site, site_id)
    assert site is not None
    number = _next_number(session, site_id)
    subject = Subject(
        study_id=site.study_id,
        site_id=site_id,
        number=number,
        study_code=study_code(site.study.subject_prefix, site.code, number),
        registered_at=now,
        registered_by_id=actor.user_id,
    )
    session.add(subject)
    audit.record(
        session,
        actor,
        "subject.registered",
        target=subject,
        site_code=site.code,
        new={"study_code": subject.study_code, "site": site.code},
    )
    vault = SubjectIdentity(
        subject=subject, ciphertext=crypto.encrypt(identity.to_json()), updated_at=now
    )
    session.add(vault)
    audit.record(
        session,
        actor,
        "identity.created",
        target=vault,
        entity_type="subject_identity",
        entity_id=subject.study_code,
        site_code=site.code,
        new={"fields": sorted(asdict(identity))},  # which fields, never their values
    )
    session.flush()
    return subject


def visible(session: Session, actor: Actor) -> Select[Any]:
    """Subjects the actor may see, without identities."""
    return visible_statement(select(Subject)).params(visible_params(session, actor))


def visible_statement(query: Select[Any]) -> Select[Any]:
    """`query` (of subjects) kept to those `visible_params` allows: built once, run often."""
    return access.scoped_statement(query, Subject.site_id)


def visible_params(session: Session, actor: Actor) -> dict[str, list[int]]:
    assert actor.user is not None
    return access.scope_params(session, actor.user, Permission.SUBJECT_VIEW)


def subject_page(
    session: Session, actor: Actor, page: int, search: str = ""
) -> tuple[list[Subject], int]:
    """One page of the subjects the actor may see; `search` matches part of the study code."""
    query = visible(session, actor)
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


def find(session: Session, actor: Actor, code: str) -> Subject | None:
    """The subject by its study code, or None when it does not exist *or* is out of scope."""
    return session.scalar(
        visible(session, actor).options(joinedload(Subject.site)).where(Subject.study_code == code)
    )


def may_read_identity(
    session: Session, actor: Actor, subject: Subject, grants: list[access.Grant] | None = None
) -> bool:
    assert actor.user is not None
    if grants is None:
        grants = access.grants(session, actor.user)
    return access.holds(grants, Permission.IDENTITY_VIEW, subject.site_id)


def may_correct_identity(session: Session, actor: Actor, subject: Subject) -> bool:
    assert actor.user is not None
    grants = access.grants(session, actor.user)
    return access.holds(grants, Permission.IDENTITY_EDIT, subject.site_id)


def read_identity(
    session: Session,
    actor: Actor,
    subject: Subject,
    purpose: str = "display",
    grants: list[access.Grant] | None = None,
) -> Identity | None:
    """Decrypt the identity for site staff, recording the read and why; None for anyone else."""
    if not may_read_identity(session, actor, subject, grants):
        return None
    vault = session.get(SubjectIdentity, subject.id)
    if vault is None:
        return None
    audit.record(
        session,
        actor,
        "identity.read",
        entity_type="subject_identity",
        entity_id=subject.study_code,
        site_code=subject.site.code,
        new={"purpose": purpose},
        durable=True,  # kept even when the page that read it answers with an error
    )
    return Identity.from_json(crypto.decrypt(vault.ciphertext))


def correct_identity(
    session: Session, actor: Actor, subject: Subject, identity: Identity, reason: str, now: datetime
) -> list[str]:
    """Replace the identity, keeping the old one encrypted as a revision; the changed fields.

    Like a CRF correction it needs a reason, and the audit event names what changed (never the
    values, which stay in the vault). Nothing is written when nothing changed.
    """
    assert actor.user is not None
    access.require(session, actor.user, Permission.IDENTITY_EDIT, subject.site_id)
    if identity.date_of_birth > now.date():
        raise SubjectError(_("The date of birth cannot be in the future."))
    if not reason.strip():
        raise SubjectError(_("Give a reason for the correction."))
    vault = session.get(SubjectIdentity, subject.id)
    assert vault is not None
    old = Identity.from_json(crypto.decrypt(vault.ciphertext))
    changed = [k for k, v in asdict(identity).items() if asdict(old).get(k) != v]
    if not changed:
        return []
    number = len(identity_revisions(session, subject)) + 1
    revision = IdentityRevision(
        subject_id=subject.id, revision=number, ciphertext=vault.ciphertext, replaced_at=now,
        replaced_by_id=actor.user_id, reason=reason.strip(),
    )  # fmt: skip
    session.add(revision)
    vault.ciphertext = crypto.encrypt(identity.to_json())
    vault.updated_at = now
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
        derived.recompute(session, actor, subject, cause, now, birth=identity.date_of_birth)
    return changed


def identity_revisions(session: Session, subject: Subject) -> list[IdentityRevision]:
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


def identity_history(session: Session, actor: Actor, subject: Subject) -> list[Correction]:
    """The corrections of an identity with the values they replaced; reading them is audited."""
    assert actor.user is not None
    if not may_read_identity(session, actor, subject):
        return []
    revisions = identity_revisions(session, subject)
    if revisions:
        audit.record(
            session, actor, "identity.read", entity_type="subject_identity",
            entity_id=subject.study_code, site_code=subject.site.code,
            new={"purpose": "history", "revisions": len(revisions)}, durable=True,
        )  # fmt: skip
    ids = {r.replaced_by_id for r in revisions if r.replaced_by_id is not None}
    rows = session.execute(select(User.id, User.email).where(User.id.in_(ids))) if ids else []
    authors = {user_id: email for user_id, email in rows}
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


def rotate_vault(session: Session, actor: Actor) -> int:
    """Re-encrypt every identity and kept revision with the current key; returns the count."""
    count = 0
    for vault in session.scalars(select(SubjectIdentity)):
        vault.ciphertext = crypto.rotate(vault.ciphertext)
        audit.record(session, actor, "identity.reencrypted", target=vault)
        count += 1
    for revision in session.scalars(select(IdentityRevision)):
        revision.ciphertext = crypto.rotate(revision.ciphertext)
        audit.record(session, actor, "identity.reencrypted", target=revision)
        count += 1
    session.flush()
    return count
