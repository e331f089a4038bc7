"""Re-consent: subjects who must consent again, as tasks on their site's to-do list.

Two reasons. A new version of a document approved with `reconsent: all_active` asks every
active subject whose consent in force is an older version of it to sign again (`new_version`);
a child reaching the age of majority must consent as an adult (`majority`). Either way the
consent before stays in force until the new one is sealed or its grace date passes
(`edc.services.consent_scope.limit`); after that CRF entry waits for the new consent.

Tasks are opened idempotently (one per subject, reason, document and version, kept so by a
unique constraint: parallel requests open it once) when site staff look at the to-do list or
the re-consent page after the version is in use at their site, when a minor's consent is
sealed, and when the majority page finds a child with none. Sealing a consent closes them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, exists, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from econsent import rules_record
from econsent.documents import ConsentLibrary, CountryRule, Document, Version
from econsent.documents.model import ALL_ACTIVE
from econsent.library import library_for
from econsent.models import ConsentSession, ReconsentTask
from edc import audit
from edc.access import Permission
from edc.context import Context
from edc.models.consent import ConsentScope
from edc.models.studies import Site
from edc.models.subjects import Subject
from edc.services import consent_scope, subject_status, subjects

NEW_VERSION, MAJORITY = "new_version", "majority"
#: Subjects still followed: the ones whose consent must stay current.
ACTIVE = (subject_status.REGISTERED, subject_status.ENROLLED)
#: Majority tasks show on the to-do list from this many days before their grace date.
NOTICE_DAYS = 90


@dataclass(frozen=True)
class Asked:
    """A version in use at a site whose approval asks active subjects to consent again."""

    document: Document
    version: Version
    grace_until: dt.date


def asked_at(library: ConsentLibrary, site: Site, today: dt.date) -> Iterator[Asked]:
    """The current version of each document, when its approval at the site asks re-consent;
    the grace runs from the first day the version could be used there."""
    for document in library.documents.values():
        version = document.version_for(site.country, site.code, today)
        approval = version.approval(site.country, site.code, today) if version else None
        if version is None or approval is None or approval.reconsent != ALL_ACTIVE:
            continue
        start = approval.in_use_from(version.effective)
        yield Asked(document, version, start + dt.timedelta(days=approval.grace_days))


def sync_sites(ctx: Context, sites: Iterable[Site]) -> int:
    """Open the missing `new_version` tasks at the sites where the actor runs consents (others
    are left for their own staff); how many were opened."""
    opened = 0
    for site in sites:
        if not ctx.holds(Permission.CONSENT_RUN, site.id):
            continue
        library = library_for(site.study.slug)
        if library is None:
            continue
        asked = list(asked_at(library, site, subjects.site_today(site, ctx.now())))
        if asked:  # the trail says which approvals the tasks were opened under
            rules_record.record_if_new(ctx, site.study.slug, library)
        for each in asked:
            opened += _open_for_version(ctx, site, each)
    return opened


def check_scope(ctx: Context, subject: Subject, scope: ConsentScope) -> None:
    """Before entry is judged: when a newer version of the consent's document is in use at the
    subject's site and its approval asks active subjects again, open the task and limit the
    consent to its grace date now, so that entry stops on time even if nobody at the site has
    opened the to-do list since (`consent_scope.register_scope_check`). Only for staff who run
    consents there; nothing is read when the study has no consent library."""
    if subject.status not in ACTIVE or not ctx.holds(Permission.CONSENT_RUN, subject.site_id):
        return
    library = library_for(subject.study.slug)
    if library is None:
        return
    today = subjects.site_today(subject.site, ctx.now())
    for asked in asked_at(library, subject.site, today):
        number = asked.version.number
        if asked.document.id != scope.document or not _older(scope.version, number):
            continue
        if scope.valid_until is not None and scope.valid_until <= asked.grace_until:
            continue  # limited already (the task is open, or a sooner limit applies)
        open_task(ctx, subject, NEW_VERSION, asked.document.id, number, asked.grace_until)


def _older(version: str, than: int) -> bool:
    return version.isdigit() and int(version) < than


def _open_for_version(ctx: Context, site: Site, asked: Asked) -> int:
    """One task per active subject of the site whose consent in force is an older version of
    the document, unless they have it already (one query when nothing is missing)."""
    document, number = asked.document.id, asked.version.number
    has_task = exists().where(
        ReconsentTask.subject_id == Subject.id,
        ReconsentTask.reason == NEW_VERSION,
        ReconsentTask.document == document,
        ReconsentTask.version == number,
    )
    rows = ctx.session.execute(
        select(Subject, ConsentScope.version)
        .join(ConsentScope, ConsentScope.subject_id == Subject.id)
        .where(
            Subject.site_id == site.id,
            Subject.status.in_(ACTIVE),
            ConsentScope.ended_at.is_(None),
            ConsentScope.document == document,
            ~has_task,
        )
        .order_by(Subject.id)
    ).all()
    opened = 0
    for subject, version in rows:
        if _older(version, number) and open_task(
            ctx, subject, NEW_VERSION, document, number, asked.grace_until
        ):
            opened += 1
    return opened


def task_key(subject: Subject, reason: str, document: str, version: int) -> str:
    """How the trail names a task: what makes it unique, readable without the table."""
    return f"{subject.study_code}/{reason}/{document}/{version}"


def open_task(
    ctx: Context, subject: Subject, reason: str, document: str, version: int, until: dt.date
) -> bool:
    """Open a task and limit the consent in force to `until` (never extend it); False when the
    subject has it already, or was given the new version meanwhile. Audited.

    The task is inserted under the audit trail's lock, which every writer takes before any
    row lock of its own (sealing takes it, then the subject's): parallel requests take turns
    without deadlock, the second finds the task (nothing written, nothing recorded), and a
    consent sealed meanwhile is seen below (or sees this task and closes it)."""
    if reason == MAJORITY and _has_open(ctx, subject, MAJORITY):
        return False
    inserted: list[int] = []

    def insert_once(conn: Connection) -> bool:
        dialect = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        task_id = conn.execute(
            dialect(ReconsentTask)
            .values(
                subject_id=subject.id,
                site_id=subject.site_id,
                reason=reason,
                document=document,
                version=version,
                grace_until=until,
                created_at=ctx.now(),
            )
            .on_conflict_do_nothing()
            .returning(ReconsentTask.id)
        ).scalar()
        inserted.extend([task_id] if task_id is not None else [])
        return task_id is not None

    audit.record(
        ctx.session, ctx.actor, "consent.reconsent_opened", entity_type="reconsent_task",
        entity_id=task_key(subject, reason, document, version), site_code=subject.site.code,
        new={"subject": subject.study_code, "reason": reason, "document": document,
             "version": version, "grace_until": until.isoformat()},
        keep_if=insert_once,
    )  # fmt: skip
    if not inserted:
        return False
    scope = consent_scope.current(ctx, subject)
    if reason == NEW_VERSION and not _outdated(scope, document, version):
        task = ctx.session.get(ReconsentTask, inserted[0])
        assert task is not None
        _close(ctx, subject, task, None, "already_signed")
        return False
    if scope is not None and (scope.valid_until is None or scope.valid_until > until):
        consent_scope.limit(ctx, subject, until, f"{reason}:{document}:{version}")
    return True


def _outdated(scope: ConsentScope | None, document: str, version: int) -> bool:
    return scope is not None and scope.document == document and _older(scope.version, version)


def _has_open(ctx: Context, subject: Subject, reason: str) -> bool:
    return (
        ctx.session.scalar(
            select(ReconsentTask.id)
            .where(
                ReconsentTask.subject_id == subject.id,
                ReconsentTask.reason == reason,
                ReconsentTask.closed_at.is_(None),
            )
            .limit(1)
        )
        is not None
    )


def close_for(ctx: Context, cs: ConsentSession) -> int:
    """The consent sealed in `cs` is in force: it replaces the older version, so it closes the
    subject's `new_version` tasks; an adult's own consent closes the `majority` task too. The
    tasks stay, closed, beside the consents they asked for. Audited; how many were closed."""
    reasons = [NEW_VERSION, MAJORITY] if cs.audience == "adult" else [NEW_VERSION]
    tasks = ctx.session.scalars(
        select(ReconsentTask).where(
            ReconsentTask.subject_id == cs.subject_id,
            ReconsentTask.closed_at.is_(None),
            ReconsentTask.reason.in_(reasons),
        )
    ).all()
    for task in tasks:
        _close(ctx, cs.subject, task, cs.id, f"econsent:{cs.id}")
    ctx.session.flush()
    return len(tasks)


def _close(
    ctx: Context, subject: Subject, task: ReconsentTask, session_id: int | None, by: str
) -> None:
    task.closed_at, task.closed_by_session_id = ctx.now(), session_id
    audit.record(
        ctx.session, ctx.actor, "consent.reconsent_closed", target=task,
        entity_id=task_key(subject, task.reason, task.document, task.version),
        site_code=subject.site.code,
        new={"subject": subject.study_code, "reason": task.reason, "document": task.document,
             "version": task.version, "by": by},
    )  # fmt: skip


def minor_rule(ctx: Context, cs: ConsentSession) -> tuple[CountryRule, dt.date] | None:
    """For a consent signed by a minor's parents: the country rule and the child's date of
    birth (an audited read of the vault), which say until when it counts. None for an adult's
    consent, or when the birth date cannot be read."""
    if cs.audience != "parent":
        return None
    subject, site = cs.subject, cs.subject.site
    library = library_for(subject.study.slug)
    today = subjects.site_today(site, ctx.now())
    rule = library.rules.rule_for(site.country, site.code, today) if library else None
    identity = subjects.read_identity(ctx, subject, purpose="consent_majority")
    if rule is None or identity is None or identity.date_of_birth is None:
        return None
    return rule, identity.date_of_birth


def open_majority(ctx: Context, subject: Subject, rule: CountryRule, until: dt.date) -> bool:
    """The task for a child to consent as an adult (the adult document of the rule), due at
    `until`, the last day the parents' consent counts."""
    document = rule.documents.get("adult", "")
    library = library_for(subject.study.slug)
    site = subject.site
    today = subjects.site_today(site, ctx.now())
    found = library.documents.get(document) if library else None
    current = found.version_for(site.country, site.code, today) if found else None
    return open_task(ctx, subject, MAJORITY, document, current.number if current else 0, until)
