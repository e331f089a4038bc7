"""Runs export jobs outside the request that asked for them: in a thread started as soon as
that request has committed (the page then follows its progress), or from `flask export run-jobs`
for jobs a restart left waiting.

A job runs as the person who asked for it, in its own session; its progress is written in
short transactions of their own, so the page sees it while the export's long read goes on
(on PostgreSQL; see `_progress`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace

from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from edc.actor import Actor
from edc.context import Context
from edc.extensions import db
from edc.models.registry import ExportJob
from edc.models.users import User
from edc.services import export_jobs
from edc.web import app_context

log = logging.getLogger(__name__)


def start_after_commit(app: Flask, job_id: int) -> None:
    """Start the job once this request's transaction has committed (never if it rolls back).

    Tied to the commit itself, not to the response being closed: a server may skip closing a
    response whose client went away early (the development server does, on a reset)."""

    def started(_session: Session) -> None:
        start(app, job_id)

    event.listen(db.session(), "after_commit", started, once=True)


def start(app: Flask, job_id: int) -> None:
    """Run the job in a background thread (called once the request that queued it is done)."""
    log.info("export job %s: starting", job_id)
    threading.Thread(
        target=run_job, args=(app, job_id), name=f"export-job-{job_id}", daemon=True
    ).start()


def _requester(job_id: int) -> Context | None:
    job = db.session.get(ExportJob, job_id)
    user = db.session.get(User, job.requested_by_id) if job and job.requested_by_id else None
    if user is None:
        return None
    return app_context(Actor(user=user, user_agent="export job"))


def _progress(ctx: Context, job_id: int) -> Callable[[int], None] | None:
    """Progress written in short transactions of a second connection. Not on SQLite: there
    every transaction takes the write lock (edc.extensions), the export's included, so a
    second writer would wait for the export to end; the page then shows the job running
    until it is done."""
    engine = db.engine
    if engine is None or engine.dialect.name == "sqlite":
        return None

    def tell(done: int) -> None:
        with Session(engine) as session:
            export_jobs.record_progress(replace(ctx, session=session), job_id, done)
            session.commit()

    return tell


def run_job(app: Flask, job_id: int, *, again: bool = False) -> str:
    """Claim and run one job; its final state (or why it did not run)."""
    with app.app_context():
        try:
            ctx = _requester(job_id)
            if ctx is None or not export_jobs.claim(ctx, job_id, again=again):
                db.session.rollback()
                log.info("export job %s: not waiting", job_id)
                return "not waiting"
            db.session.commit()
            log.info("export job %s: running", job_id)
            try:
                export_jobs.run(ctx, job_id, _progress(ctx, job_id))
                db.session.commit()
                log.info("export job %s: done", job_id)
                return export_jobs.DONE
            except Exception as exc:  # a failed job says so on the page; the log has why
                db.session.rollback()
                log.exception("export job %s failed", job_id)
                export_jobs.fail(ctx, job_id, f"{type(exc).__name__}: {exc}")
                db.session.commit()
                return export_jobs.FAILED
        finally:
            db.session.remove()
