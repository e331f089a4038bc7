"""The Exports page: a data manager exports the study or a site, an investigator only their
site; the job runs after the request, the page follows it, the file downloads (audited)."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import select

from edc import export_worker
from edc.access import Role
from edc.errors import Denied
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.registry import ExportJob
from edc.services import export_jobs, exports
from tests.edc.exports.conftest import ctx_of
from tests.factories import another_browser, csrf, login, make_user

#: Jobs whose request committed, waiting for the test to run them (no thread in tests).
_STARTED: list[int] = []


@pytest.fixture
def inline_jobs(monkeypatch):
    """Jobs started by a committed request run as soon as the request is done (`_ask`), in the
    test's own transaction; the list of those started."""
    started: list[int] = []

    def start(_app, job_id):
        started.append(job_id)
        _STARTED.append(job_id)

    monkeypatch.setattr(export_worker, "start", start)
    yield started
    _STARTED.clear()


def _ask(client, scope: str, fmt: str):
    response = client.post(
        "/exports", data={"scope": scope, "format": fmt, "csrf_token": csrf(client, "/exports")}
    )
    while _STARTED:
        export_worker.run_job(client.application, _STARTED.pop(0))
    return response


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_data_manager_exports_the_study_and_downloads_the_file(client, trial, inline_jobs):
    login(client, trial.data_manager)
    page = client.get("/exports").get_data(as_text=True)
    assert f'value="study:{trial.study.id}"' in page
    assert "all sites" in page
    asked = _ask(client, f"study:{trial.study.id}", "odm")
    assert asked.status_code == 303
    job_id = int(asked.headers["Location"].rsplit("/", 1)[-1])
    assert inline_jobs == [job_id]
    job = db.session.get(ExportJob, job_id)
    db.session.refresh(job)
    assert job.state == export_jobs.DONE
    assert (job.done_subjects, job.total_subjects) == (2, 2)
    shown = client.get(f"/exports/{job_id}").get_data(as_text=True)
    assert "Ready" in shown
    assert f"/exports/{job_id}/download" in shown
    download = client.get(f"/exports/{job_id}/download")
    assert download.status_code == 200
    body = download.get_data()
    download.close()  # the file streamed from disk
    assert hashlib.sha256(body).hexdigest() == job.file_sha256
    assert b"<ODM" in body[:400]
    assert "attachment" in download.headers["Content-Disposition"]
    assert len(_events(export_jobs.REQUESTED)) == 1
    assert len(_events("export.created")) == 1
    (downloaded,) = _events(export_jobs.DOWNLOADED)
    assert downloaded.actor_id == trial.data_manager.id
    assert downloaded.new_value["sha256"] == job.file_sha256


def test_an_investigator_exports_their_site_only(client, trial, inline_jobs):
    login(client, trial.data_manager)
    asked = _ask(client, f"study:{trial.study.id}", "csv")
    study_job = int(asked.headers["Location"].rsplit("/", 1)[-1])
    other = another_browser(client)
    login(other, make_user(roles=[(Role.INVESTIGATOR, trial.site)]))
    page = other.get("/exports").get_data(as_text=True)
    assert f"site:{trial.site.id}" in page
    assert f"study:{trial.study.id}" not in page
    assert f"site:{trial.other.id}" not in page
    assert _ask(other, f"study:{trial.study.id}", "csv").status_code == 422
    assert _ask(other, f"site:{trial.other.id}", "csv").status_code == 422
    assert other.get(f"/exports/{study_job}").status_code == 404
    assert other.get(f"/exports/{study_job}/download").status_code == 404
    asked = _ask(other, f"site:{trial.site.id}", "csv")
    assert asked.status_code == 303
    mine = other.get(asked.headers["Location"] + "/download")
    mine.close()
    assert mine.status_code == 200


def test_a_nurse_has_no_exports_page(client, trial):
    login(client, trial.nurse)
    assert client.get("/exports").status_code == 404
    assert "/exports" not in client.get("/").get_data(as_text=True)


def test_the_page_polls_while_the_job_waits_and_bounds_waiting_jobs(client, trial, monkeypatch):
    monkeypatch.setattr(export_worker, "start", lambda app, job_id: None)  # no worker
    login(client, trial.data_manager)
    urls = [_ask(client, f"site:{trial.site.id}", "csv").headers["Location"] for _ in range(3)]
    refused = _ask(client, f"site:{trial.site.id}", "csv")
    assert refused.status_code == 409
    assert "Wait until one of your exports is finished" in refused.get_data(as_text=True)
    fragment = client.get(urls[0], headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in fragment
    assert "Waiting to start" in fragment
    assert "<html" not in fragment
    assert client.get(urls[0] + "/download").status_code == 404  # not ready


def test_flask_export_run_jobs_runs_what_a_restart_left_waiting(trial):
    ctx = ctx_of(trial.app, trial.data_manager)
    job = export_jobs.request_export(ctx, f"site:{trial.other.id}", "odm")
    db.session.commit()
    result = trial.app.test_cli_runner().invoke(args=["export", "run-jobs"])
    assert result.exit_code == 0, result.output
    assert f"job {job.id}: done" in result.output
    job = db.session.get(ExportJob, job.id)
    assert job.state == export_jobs.DONE
    assert job.manifest["sites"] == ["IT-02"]
    assert job.manifest["file"]["sha256"] == job.file_sha256
    again = trial.app.test_cli_runner().invoke(args=["export", "run-jobs"])
    assert "no export job waiting" in again.output


def test_a_job_whose_asker_lost_the_right_fails_and_says_so(client, trial, monkeypatch):
    ctx = ctx_of(trial.app, trial.investigator)
    job = export_jobs.request_export(ctx, f"site:{trial.site.id}", "csv")
    db.session.commit()
    monkeypatch.setattr(exports, "scope_of", _refuse)
    assert export_worker.run_job(trial.app, job.id) == export_jobs.FAILED
    job = db.session.get(ExportJob, job.id)
    assert job.state == export_jobs.FAILED
    assert "Denied" in job.error
    assert _events("export.created") == []


def _refuse(*_args, **_kwargs):
    raise Denied()


def test_a_running_job_reports_its_progress_batch_by_batch(trial, monkeypatch):
    monkeypatch.setattr(exports, "BATCH", 1)
    ctx = ctx_of(trial.app, trial.data_manager)
    job = export_jobs.request_export(ctx, f"study:{trial.study.id}", "csv")
    assert export_jobs.claim(ctx, job.id)
    seen: list[int] = []

    def progress(done: int) -> None:
        seen.append(done)
        export_jobs.record_progress(ctx, job.id, done)

    export_jobs.run(ctx, job.id, progress)
    assert seen == [1, 2]  # two subjects with consent, one batch each
    (view,) = export_jobs.shown(ctx, [job])
    assert (view.done_subjects, view.total_subjects, view.percent) == (2, 2, 100)


def test_flask_export_purge_removes_files_past_their_retention_and_the_page_says_so(
    client, trial, inline_jobs
):
    login(client, trial.data_manager)
    old_id = int(_ask(client, f"study:{trial.study.id}", "csv").headers["Location"].rsplit("/")[-1])
    new_id = int(_ask(client, f"study:{trial.study.id}", "odm").headers["Location"].rsplit("/")[-1])
    old, new = db.session.get(ExportJob, old_id), db.session.get(ExportJob, new_id)
    db.session.refresh(old)
    db.session.refresh(new)
    folder = export_jobs.folder(ctx_of(trial.app, trial.data_manager))
    old_file = folder / old.file_name
    assert old_file.is_file()
    old.finished_at = old.finished_at - dt.timedelta(days=31)  # finished a month ago
    db.session.commit()

    result = trial.app.test_cli_runner().invoke(args=["export", "purge"])
    assert result.exit_code == 0, result.output
    assert f"1 export files removed (jobs {old_id})" in result.output
    db.session.expire_all()
    old, new = db.session.get(ExportJob, old_id), db.session.get(ExportJob, new_id)
    assert (old.state, old.file_name) == (export_jobs.EXPIRED, "")
    assert not old_file.exists()
    assert new.state == export_jobs.DONE  # a day old at most: kept
    assert (folder / new.file_name).is_file()
    assert old.manifest["file"]["sha256"] == old.file_sha256  # the record of it stays
    (purged,) = _events(export_jobs.PURGED)
    assert purged.new_value == {"jobs": [old_id], "kept_days": 30}

    page = client.get(f"/exports/{old_id}").get_data(as_text=True)
    assert "Expired" in page
    assert "removed at the end of its retention period" in page
    assert f"/exports/{old_id}/download" not in page
    assert client.get(f"/exports/{old_id}/download").status_code == 404
    assert "Expired" in client.get("/exports").get_data(as_text=True)
    again = trial.app.test_cli_runner().invoke(args=["export", "purge", "--days", "1"])
    assert "0 export files removed" in again.output


def test_only_the_operator_purges_export_files(trial):
    with pytest.raises(Denied):
        export_jobs.purge(ctx_of(trial.app, trial.data_manager))
