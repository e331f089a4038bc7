"""Export jobs asked for from the web: queued by a data manager (study or site) or an
investigator (their own site), run in the background as the person who asked (their access
checked again when it runs), followed on the page, and downloaded by anyone who may export
that scope (each download audited as `export.downloaded`).

Files live in the export folder (settings `export_dir`, else `<instance>/exports`) under a name
made here from the job's id and a random part: never a name or path a client gave.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import or_, select

from edc import access, audit
from edc.access import Permission
from edc.context import Context
from edc.errors import Conflict, Denied, Invalid, NotFound
from edc.i18n import _
from edc.models.registry import ExportJob
from edc.models.studies import Site, Study
from edc.models.users import User
from edc.services import exports

REQUESTED, DOWNLOADED = "export.requested", "export.downloaded"
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
#: A done job whose file was removed after the retention period (the job and manifest stay).
EXPIRED = "expired"
PURGED = "export.purged"
#: Jobs one person may have waiting or running at once: a click cannot queue unbounded work.
MAX_ACTIVE = 3
#: Jobs a page lists (the latest).
LISTED = 20
#: Formats offered on the page (a registered format joins once it is listed here).
WEB_FORMATS = ("csv", "odm", "fhir", "certified")


@dataclass(frozen=True)
class Choice:
    """A scope the actor may export: `key` is what the page posts (`study:<id>`, `site:<id>`)."""

    key: str
    study: Study
    site: Site | None

    @property
    def label(self) -> str:
        if self.site is None:
            return _("%(study)s: all sites", study=self.study.title)
        return f"{self.study.title}: {self.site}"


def choices(ctx: Context) -> list[Choice]:
    """The study-wide and site scopes the actor may export, studies first."""
    grants = ctx.grants
    site_ids = access.site_ids_for(grants, Permission.DATA_EXPORT)
    sites = ctx.session.scalars(
        select(Site).where(Site.id.in_(sorted(site_ids))).order_by(Site.study_id, Site.code)
    ).all()
    found: list[Choice] = []
    seen: set[int] = set()
    for site in sites:
        study = site.study
        if study.id not in seen and access.holds_study(grants, Permission.DATA_EXPORT, study.id):
            seen.add(study.id)
            found.append(Choice(f"study:{study.id}", study, None))
        found.append(Choice(f"site:{site.id}", study, site))
    return found


def _chosen(ctx: Context, key: str) -> Choice:
    choice = next((c for c in choices(ctx) if c.key == key), None)
    if choice is None:
        raise Invalid(_("Choose what to export."))
    return choice


def request_export(ctx: Context, key: str, fmt: str) -> ExportJob:
    """Queue an export of a scope the actor may export (`choices`), in a web format; audited.
    Refused while the actor already has MAX_ACTIVE jobs waiting or running."""
    ctx.require(Permission.DATA_EXPORT)
    if fmt not in WEB_FORMATS:
        raise Invalid(_("Choose a format."))
    choice = _chosen(ctx, key)
    where = exports.scope_of(ctx, choice.study, choice.site)
    active = ctx.session.scalars(
        select(ExportJob.id).where(
            ExportJob.requested_by_id == ctx.actor.user_id,
            ExportJob.state.in_((QUEUED, RUNNING)),
        )
    ).all()
    if len(active) >= MAX_ACTIVE:
        raise Conflict(_("Wait until one of your exports is finished before asking for another."))
    included, _left_out = exports.subject_counts(ctx, where)
    job = ExportJob(
        study_id=where.study.id,
        site_id=where.site.id if where.site else None,
        format=fmt,
        requested_by_id=ctx.actor.user_id,
        requested_at=ctx.now(),
        total_subjects=included,
    )
    ctx.session.add(job)
    ctx.session.flush()
    audit.record(
        ctx.session,
        ctx.actor,
        REQUESTED,
        entity_type="export",
        entity_id=job.id,
        site_code=where.name,
        new={"study": where.study.slug, "format": fmt},
    )
    return job


def _scope_of_job(ctx: Context, job: ExportJob) -> exports.Scope:
    study = ctx.session.get(Study, job.study_id)
    site = ctx.session.get(Site, job.site_id) if job.site_id is not None else None
    if study is None:
        raise NotFound()
    return exports.scope_of(ctx, study, site)


def job(ctx: Context, job_id: int) -> ExportJob:
    """A job, for someone who may export its scope now (anyone else: NotFound)."""
    found = ctx.session.get(ExportJob, job_id)
    if found is None:
        raise NotFound()
    try:
        _scope_of_job(ctx, found)
    except Denied:
        raise NotFound() from None
    return found


def listed(ctx: Context) -> list[ExportJob]:
    """The latest jobs of the scopes the actor may export, newest first."""
    grants = ctx.grants
    site_ids = sorted(access.site_ids_for(grants, Permission.DATA_EXPORT))
    studies = sorted(
        {c.study.id for c in choices(ctx) if c.site is None}
    )  # study-wide jobs: only a data manager of the study sees them
    return list(
        ctx.session.scalars(
            select(ExportJob)
            .where(or_(ExportJob.study_id.in_(studies), ExportJob.site_id.in_(site_ids)))
            .order_by(ExportJob.id.desc())
            .limit(LISTED)
        )
    )


@dataclass(frozen=True)
class JobView:
    """A job as the page shows it."""

    id: int
    format: str
    scope: str  # the study's title, and the site when one
    state: str
    done_subjects: int
    total_subjects: int
    requested_at: datetime
    requested_by: str
    finished_at: datetime | None
    file_size: int
    file_sha256: str

    @property
    def working(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    @property
    def percent(self) -> int:
        if self.state == DONE:
            return 100
        return (
            min(100, 100 * self.done_subjects // self.total_subjects) if self.total_subjects else 0
        )


def shown(ctx: Context, jobs: list[ExportJob]) -> list[JobView]:
    """The jobs with their study, site and requester named (three statements in all)."""
    studies = {s.id: s for s in ctx.session.scalars(
        select(Study).where(Study.id.in_({j.study_id for j in jobs})))}  # fmt: skip
    sites = {s.id: s for s in ctx.session.scalars(
        select(Site).where(Site.id.in_({j.site_id for j in jobs if j.site_id})))}  # fmt: skip
    names = dict(ctx.session.execute(
        select(User.id, User.full_name).where(User.id.in_({j.requested_by_id for j in jobs}))
    ).tuples().all())  # fmt: skip
    views = []
    for j in jobs:
        study, site = studies[j.study_id], sites.get(j.site_id or 0)
        scope = Choice("", study, site).label
        views.append(
            JobView(
                j.id,
                j.format,
                scope,
                j.state,
                j.done_subjects,
                j.total_subjects,
                j.requested_at,
                names.get(j.requested_by_id or 0, ""),
                j.finished_at,
                j.file_size,
                j.file_sha256,
            )
        )
    return views


def folder(ctx: Context) -> Path:
    settings = ctx.config
    return settings.export_dir or settings.instance_path / "exports"


def _file_name(found: ExportJob) -> str:
    extension = exports.format_of(found.format).extension
    return f"export-{found.id}-{secrets.token_hex(8)}.{extension}"


def claim(ctx: Context, job_id: int, *, again: bool = False) -> bool:
    """Mark a queued job running (`again`: also one left running by a restart); False if it
    is not waiting (another worker took it). The caller commits before running it."""
    states = (QUEUED, RUNNING) if again else (QUEUED,)
    found = ctx.session.get(ExportJob, job_id, with_for_update=True)
    if found is None or found.state not in states:
        return False
    found.state, found.started_at, found.done_subjects = RUNNING, ctx.now(), 0
    ctx.session.flush()
    return True


def run(ctx: Context, job_id: int, progress: Callable[[int], None] | None = None) -> ExportJob:
    """Run a claimed job as the person who asked for it (their access checked again now):
    the file is written under a partial name and moved into place once complete."""
    found = ctx.session.get(ExportJob, job_id)
    if found is None or found.state != RUNNING:
        raise Conflict()
    if ctx.actor.user_id is None or ctx.actor.user_id != found.requested_by_id:
        raise Denied()
    where = _scope_of_job(ctx, found)
    target = folder(ctx)
    target.mkdir(parents=True, exist_ok=True)
    name = _file_name(found)
    partial = target / f".{name}.partial"
    try:
        with partial.open("xb") as handle:
            outcome = exports.export(
                ctx, where, found.format, handle, progress=progress, job_id=found.id
            )
        partial.replace(target / name)
    finally:
        partial.unlink(missing_ok=True)
    found.state, found.file_name, found.finished_at = DONE, name, ctx.now()
    found.file_sha256, found.file_size = outcome.sha256, outcome.size
    found.done_subjects = int(outcome.manifest.get("counts", {}).get("subjects", 0))
    found.manifest = outcome.described(name)
    ctx.session.flush()
    return found


def record_progress(ctx: Context, job_id: int, done: int) -> None:
    """How many subjects a running job has written (in its own short transaction, which the
    caller commits: the page reads it while the export's transaction goes on)."""
    found = ctx.session.get(ExportJob, job_id)
    if found is not None and found.state == RUNNING:
        found.done_subjects = done
        ctx.session.flush()


def fail(ctx: Context, job_id: int, error: str) -> None:
    """Mark a job failed, with what went wrong (for the operator; the page says it failed)."""
    found = ctx.session.get(ExportJob, job_id)
    if found is not None:
        found.state, found.error, found.finished_at = FAILED, error[:2000], ctx.now()
        ctx.session.flush()


def waiting(ctx: Context) -> list[tuple[int, int | None]]:
    """(job, requester) of every job queued or left running, oldest first: for the operator's
    `flask export run-jobs` after a restart (no one else asks)."""
    if not ctx.actor.is_cli:
        raise Denied()
    rows = ctx.session.execute(
        select(ExportJob.id, ExportJob.requested_by_id)
        .where(ExportJob.state.in_((QUEUED, RUNNING)))
        .order_by(ExportJob.id)
    )
    return [(i, u) for i, u in rows]


@dataclass(frozen=True)
class Download:
    path: Path
    name: str  # as the browser saves it
    size: int


def download(ctx: Context, job_id: int) -> Download:
    """A finished job's file, for someone who may export its scope now; audited."""
    found = job(ctx, job_id)
    path = folder(ctx) / found.file_name
    if found.state != DONE or not found.file_name or path.name != found.file_name:
        raise NotFound()
    if not path.is_file():
        raise NotFound()
    where = _scope_of_job(ctx, found)
    audit.record(
        ctx.session,
        ctx.actor,
        DOWNLOADED,
        entity_type="export",
        entity_id=found.id,
        site_code=where.name,
        new={"format": found.format, "sha256": found.file_sha256, "size": found.file_size},
    )
    stamp = (found.finished_at or found.requested_at).strftime("%Y%m%d-%H%M")
    extension = exports.format_of(found.format).extension
    part = where.site.code if where.site is not None else "all-sites"
    return Download(path, f"{where.study.slug}-{part}-{stamp}.{extension}", found.file_size)


def purge(ctx: Context, keep: timedelta | None = None) -> list[int]:
    """Remove the files of exports finished more than `keep` ago (by default the setting
    `EDC_EXPORT_KEEP_DAYS`) and mark their jobs expired; the jobs purged. A file is a copy of
    data the portal still holds: copies should not pile up on the server (storage limitation).
    The job, its manifest and SHA-256, and every download stay on record. For the operator
    (`flask export purge`, e.g. daily)."""
    if not ctx.actor.is_cli:
        raise Denied()
    keep = keep if keep is not None else timedelta(days=ctx.config.export_keep_days)
    jobs = list(
        ctx.session.scalars(
            select(ExportJob)
            .where(ExportJob.state == DONE, ExportJob.finished_at < ctx.now() - keep)
            .order_by(ExportJob.id)
            .with_for_update()
        )
    )
    base = folder(ctx)
    for found in jobs:
        if found.file_name and Path(found.file_name).name == found.file_name:
            (base / found.file_name).unlink(missing_ok=True)
        found.state, found.file_name = EXPIRED, ""
    if jobs:
        audit.record(
            ctx.session, ctx.actor, PURGED, entity_type="export", entity_id="files",
            new={"jobs": [j.id for j in jobs], "kept_days": keep.days},
        )  # fmt: skip
    ctx.session.flush()
    return [j.id for j in jobs]
