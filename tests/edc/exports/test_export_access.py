"""Who may export what (a data manager the study, an investigator their own site only), the
`export.created` audit event, and `flask export` acting as a named account."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest
from sqlalchemy import select

from edc.errors import Denied, Invalid, NotFound
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.services import event_text, exports
from tests.edc.exports.conftest import ctx_of, run


def _created() -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == exports.CREATED).order_by(AuditEvent.seq)
        )
    )


@pytest.mark.parametrize(
    ("who", "site"),
    [
        ("nurse", "FR-01"),  # enters data, never exports
        ("nurse", None),
        ("other_investigator", "FR-01"),  # an investigator of another site
        ("investigator", None),  # an investigator never exports the whole study
        ("investigator", "IT-02"),
    ],
)
def test_refused_exports_look_like_a_missing_study(trial, who, site):
    ctx = ctx_of(trial.app, getattr(trial, who))
    with pytest.raises(Denied):
        exports.scope(ctx, trial.study.slug, site)


def test_an_unknown_study_site_or_format_is_refused(trial):
    ctx = ctx_of(trial.app, trial.data_manager)
    with pytest.raises(NotFound):
        exports.scope(ctx, "no-such-study")
    with pytest.raises(NotFound):
        exports.scope(ctx, trial.study.slug, "XX-99")
    with pytest.raises(Invalid):
        exports.export(ctx, exports.scope(ctx, trial.study.slug), "xls", io.BytesIO())


def test_a_data_manager_exports_the_study_or_one_site(trial):
    data, _ = run(trial, trial.data_manager, "csv")
    assert trial.third.study_code.encode() in zipfile.ZipFile(io.BytesIO(data)).read("visit.csv")
    _site_only, outcome = run(trial, trial.data_manager, "csv", site="IT-02")
    assert outcome.manifest["sites"] == ["IT-02"]


def test_every_export_is_audited_with_who_scope_format_hash_and_counts(trial):
    data, outcome = run(trial, trial.investigator, "odm", site="FR-01")
    (event,) = _created()
    assert event.actor_id == trial.investigator.id
    assert event.role == "investigator"
    assert event.site_code == "FR-01"
    assert event.new_value["format"] == "odm"
    assert event.new_value["scope"] == "site"
    assert event.new_value["sha256"] == hashlib.sha256(data).hexdigest() == outcome.sha256
    assert event.new_value["size"] == len(data)
    assert event.new_value["counts"] == {"subjects": 1, "forms": 2}
    assert event.new_value["consent_filter"]["subjects_included"] == 1
    assert exports.CREATED in event_text.ACTIONS


def test_flask_export_writes_the_file_as_the_named_account(trial, tmp_path):
    out = tmp_path / "study.zip"
    runner = trial.app.test_cli_runner()
    result = runner.invoke(
        args=[
            "export",
            "csv",
            trial.study.slug,
            "--out",
            str(out),
            "--as",
            trial.data_manager.email,
        ]
    )
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert hashlib.sha256(data).hexdigest() in result.output
    assert "visit.csv" in zipfile.ZipFile(out).namelist()
    (event,) = _created()
    assert event.actor_email == trial.data_manager.email
    assert not list(tmp_path.glob(".*partial"))
    beside = json.loads((tmp_path / "study.zip.manifest.json").read_text())
    assert beside["file"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert beside["created_by"]["email"] == trial.data_manager.email


def test_flask_export_refuses_a_nurse_and_leaves_no_file(trial, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "site.xml"
    runner = trial.app.test_cli_runner()
    result = runner.invoke(
        args=["export", "odm", trial.study.slug, "--out", str(out), "--site", "FR-01",
              "--as", trial.nurse.email]
    )  # fmt: skip
    assert result.exit_code != 0
    assert "refused" in result.output
    assert not out.exists()
    assert not list(folder.iterdir())
    assert _created() == []
