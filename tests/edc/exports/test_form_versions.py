"""A form changed during the study: records keep the version they were entered with, the export
has one set of columns for all versions and says which versions have each."""

from __future__ import annotations

import csv
import io
import zipfile

from lxml import etree  # type: ignore[import-untyped]

from edc.actor import Actor
from edc.extensions import db
from edc.models.base import utcnow
from edc.services import subjects
from edc.services.definitions import load_definition
from edc.web import app_context
from tests.edc.exports.conftest import VISIT, consent, ctx_of, run, save
from tests.edc.exports.test_odm_export import schema

VISIT_V2 = (
    VISIT.replace("version: 1", "version: 2", 1)
    .replace(
        "      - id: delta\n        type: decimal\n        label: {en: Change, fr: Variation}\n", ""
    )
    .replace(
        "      - id: mycn\n",
        "      - id: height\n        type: integer\n        label: {en: Height, fr: Taille}\n"
        "        unit: cm\n      - id: mycn\n",
    )
)


def test_columns_span_every_version_and_say_which_has_them(trial, tmp_path):
    (tmp_path / "exp-test" / "forms" / "visit.yaml").write_text(VISIT_V2)
    load_definition(app_context(Actor.cli()), trial.study, tmp_path / "exp-test", utcnow())
    db.session.commit()
    ctx = ctx_of(trial.app, trial.nurse)
    identity = subjects.Identity("Bernard", "Paul", trial.first.registered_at.date(), "male")
    late = subjects.register(ctx, trial.site.id, identity, ctx.now(), confirm_duplicate=True)
    consent(trial.app, trial.nurse, late, 1)
    save(trial.app, trial.nurse, late, "baseline", 1, "visit",
         {"visit_date": "2025-09-01", "height": "74", "weight": "9.5"})  # fmt: skip

    data, outcome = run(trial, trial.data_manager, "csv")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        visits = list(csv.DictReader(io.StringIO(archive.read("visit.csv").decode())))
        book = list(csv.DictReader(io.StringIO(archive.read("codebook.csv").decode())))
    by_code = {v["study_code"]: v for v in visits}
    assert by_code[trial.first.study_code]["form_version"] == "1"
    assert by_code[trial.first.study_code]["delta"] == "-3.250"
    assert by_code[trial.first.study_code]["height"] == ""
    assert by_code[late.study_code]["form_version"] == "2"
    assert by_code[late.study_code]["height"] == "74"
    versions = {r["column"]: r["form_versions"] for r in book if r["file"] == "visit.csv"}
    assert (versions["weight"], versions["delta"], versions["height"]) == ("1 2", "1", "2")
    assert outcome.manifest["form_versions"]["visit"] == [1, 2]
    assert outcome.manifest["form_versions_used"]["visit"] == [1, 2]

    odm = etree.fromstring(run(trial, trial.data_manager, "odm")[0])
    assert schema().validate(odm), schema().error_log
