"""`flask export csv|odm|fhir|certified STUDY --out PATH [--site CODE] --as EMAIL`, and
`flask export run-jobs`, `flask export purge`.

An export is a read of clinical data: it runs as a named account, with that account's access
(a data manager for the study, an investigator for their own site), so that its audit event
says who took the data. The file is written beside PATH and moved into place once complete:
PATH never holds half an export. The manifest (who, when, scope, form versions, consent
filter, counts, and the file's SHA-256) is written beside it as PATH.manifest.json.
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import timedelta
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from edc import export_worker
from edc.actor import Actor
from edc.errors import DomainError
from edc.extensions import db
from edc.models.users import User
from edc.services import export_jobs, exports, users
from edc.web import app_context

#: The manifest is also written beside the file, with the file's own SHA-256 and size.
MANIFEST_SUFFIX = ".manifest.json"
export_cli = AppGroup(
    "export", help="Export study data: CSV with codebook, CDISC ODM 1.3.2, FHIR R4."
)


def _actor(email: str) -> Actor:
    user = db.session.scalar(select(User).where(User.email == users.normalise_email(email)))
    if user is None or not user.is_active:
        raise click.ClickException(f"no active account with e-mail {email}")
    return Actor(user=user, user_agent=f"flask-cli ({getpass.getuser()})")


def run_export(fmt: str, study: str, out: Path, site: str | None, email: str) -> None:
    """Export `study` (or one site) in format `fmt` to `out`, as the account `email`."""
    if out.exists():
        raise click.ClickException(f"{out} exists: choose another path")
    ctx = app_context(_actor(email))
    partial = out.with_name(f".{out.name}.partial")
    try:
        where = exports.scope(ctx, study, site)
        with partial.open("xb") as handle:
            outcome = exports.export(ctx, where, fmt, handle)
        os.replace(partial, out)
    except DomainError as refused:
        db.session.rollback()
        partial.unlink(missing_ok=True)
        raise click.ClickException(f"refused: {refused}") from refused
    except BaseException:
        db.session.rollback()
        partial.unlink(missing_ok=True)
        raise
    db.session.commit()
    beside = out.with_name(out.name + MANIFEST_SUFFIX)
    beside.write_text(json.dumps(outcome.described(out.name), indent=2, ensure_ascii=False))
    counts = outcome.manifest.get("counts", {})
    click.echo(f"wrote {out} ({outcome.size} bytes, sha256 {outcome.sha256})")
    click.echo(f"manifest: {beside}")
    click.echo(f"subjects: {counts.get('subjects', 0)}")


def add_format_command(name: str) -> None:
    """`flask export <name> ...` for a registered format (csv, odm; FHIR adds its own)."""
    fmt = exports.format_of(name)

    @export_cli.command(name, help=f"Export a study's data as {name} (.{fmt.extension}).")
    @click.argument("study")
    @click.option("--out", "out", required=True, type=click.Path(path_type=Path, dir_okay=False))
    @click.option("--site", help="One site's code (an investigator: their own site).")
    @click.option("--as", "email", required=True, help="The account exporting (audited).")
    def command(study: str, out: Path, site: str | None, email: str) -> None:
        run_export(name, study, out, site, email)


for _name in ("csv", "odm", "fhir", "certified"):
    add_format_command(_name)


@export_cli.command("run-jobs")
def run_jobs() -> None:
    """Run the export jobs left queued or running (e.g. by a restart), oldest first, each as
    the person who asked for it. Run it while no portal process is running exports."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    waiting = export_jobs.waiting(app_context(Actor.cli()))
    db.session.rollback()
    for job_id, _requester in waiting:
        state = export_worker.run_job(app, job_id, again=True)
        click.echo(f"job {job_id}: {state}")
    if not waiting:
        click.echo("no export job waiting")


@export_cli.command("purge")
@click.option(
    "--days", type=click.IntRange(min=1), default=None,
    help="Keep files this many days (default: EDC_EXPORT_KEEP_DAYS, 30).",
)  # fmt: skip
def purge(days: int | None) -> None:
    """Remove the files of the Exports page's jobs finished longer ago than the retention
    period (the jobs, manifests and the audit trail stay). Run it daily, e.g. from cron."""
    keep = timedelta(days=days) if days is not None else None
    purged = export_jobs.purge(app_context(Actor.cli()), keep)
    db.session.commit()
    named = f" (jobs {', '.join(str(i) for i in purged)})" if purged else ""
    click.echo(f"{len(purged)} export files removed{named}")
