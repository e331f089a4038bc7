"""`flask registry push` (send what is due, then stop), `flask registry worker` (keep sending,
for a service manager to run) and `flask registry status STUDY`."""

from __future__ import annotations

import signal
import time
from types import FrameType

import click
from flask.cli import AppGroup
from sqlalchemy import select

from edc.actor import Actor
from edc.extensions import db
from edc.models.studies import Study
from edc.registry import outbox, worker
from edc.web import app_context

registry_cli = AppGroup("registry", help="Send locked records to the registry (FHIR R4).")

WORKER = Actor(user=None, user_agent="flask registry worker", label="cli:registry-worker")


def _one_pass(limit: int) -> worker.PassResult:
    try:
        result = worker.push_once(app_context(WORKER), limit=limit)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    for error in result.errors:
        click.echo(f"  failed: {error}", err=True)
    return result


@registry_cli.command("push")
@click.option("--limit", default=worker.PASS_SIZE, show_default=True, help="Rows per pass.")
def registry_push(limit: int) -> None:
    """Send everything due now, pass after pass, until nothing due is left (or a pass fails)."""
    total = worker.PassResult()
    while True:
        result = _one_pass(limit)
        for name in ("bundles", "sent", "failed", "parked", "withheld", "cancelled"):
            setattr(total, name, getattr(total, name) + getattr(result, name))
        if result.worked == 0 or result.failed or result.parked:
            break
    click.echo(
        f"{total.bundles} bundles sent ({total.sent} items); {total.failed} to retry, "
        f"{total.parked} parked, {total.withheld} withheld, {total.cancelled} cancelled"
    )
    if total.failed or total.parked:
        raise SystemExit(1)


@registry_cli.command("worker")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between idle passes.")
@click.option("--limit", default=worker.PASS_SIZE, show_default=True, help="Rows per pass.")
def registry_worker(interval: float, limit: int) -> None:
    """Keep sending until stopped (SIGTERM or Ctrl-C ends it after the pass in progress)."""
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    click.echo("registry worker started")
    while not stopping:
        result = _one_pass(limit)
        if result.bundles or result.failed or result.parked:
            click.echo(
                f"{result.bundles} bundles sent, {result.failed} to retry, {result.parked} parked"
            )
        if result.worked == 0 or result.failed:
            for _tick in range(max(1, int(interval * 10))):
                if stopping:
                    break
                time.sleep(0.1)
        db.session.remove()
    click.echo("registry worker stopped")


@registry_cli.command("status")
@click.argument("study_slug")
def registry_status(study_slug: str) -> None:
    """How many items are pending, sent, parked, withheld and cancelled."""
    study = db.session.scalar(select(Study).where(Study.slug == study_slug))
    if study is None:
        raise click.ClickException(f"no study {study_slug}")
    counts: dict[str, int] = dict.fromkeys(outbox.STATES, 0)
    counts.update(outbox.state_counts(app_context(Actor.cli()), study))
    click.echo(", ".join(f"{state}: {count}" for state, count in counts.items()))
