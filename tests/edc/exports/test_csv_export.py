"""The tidy CSV export: one file per form grain, exact values, choices as 0/1 columns, repeats
keyed by row id, identifier items dropped, formula-safe cells, a complete codebook."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile

from tests.edc.exports.conftest import CONTACT, FORMULA, REFERRER, run, withdraw


def _files(data: bytes) -> dict[str, str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name).decode("utf-8") for name in archive.namelist()}


def _table(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_holds_each_form_grain_with_exact_values(trial):
    data, outcome = run(trial, trial.data_manager, "csv")
    files = _files(data)
    assert set(files) == {
        "visit.csv", "visit__doses.csv", "notes.csv", "consent.csv", "codebook.csv",
        "manifest.json",
    }  # fmt: skip
    visits = _table(files["visit.csv"])
    assert [v["study_code"] for v in visits] == [trial.first.study_code, trial.third.study_code]
    first = visits[0]
    assert first["site_code"] == "FR-01"
    assert first["event"] == "baseline"
    assert first["occurrence"] == "1"
    assert first["form_version"] == "1"
    assert first["status"] == "complete"
    assert first["weight"] == "12.75"  # the current value, exactly as stored
    assert first["delta"] == "-3.250"  # a negative number is a number, not a formula
    assert first["visit_date"] == "2025-06-02"
    assert first["mycn"] == "amplified"
    assert first["surgery"] == "1"
    assert (first["symptoms___fever"], first["symptoms___pain"], first["symptoms___other"]) == (
        "1", "1", "0",
    )  # fmt: skip
    assert first["age"] == "16"
    assert first["comment"] == "'" + FORMULA  # shown as text by spreadsheets
    assert visits[1]["symptoms___fever"] == ""  # no answer: no box ticked nor unticked
    doses = _table(files["visit__doses.csv"])
    assert [(d["row"], d["drug"], d["dose_mg"]) for d in doses] == [
        ("0", "Cisplatin", "10"), ("1", "'-Etoposide", "20"),
    ]  # fmt: skip
    assert outcome.manifest["counts"]["rows"]["visit__doses.csv"] == 2


def test_identifier_items_and_the_unconsented_subject_never_appear(trial):
    data, outcome = run(trial, trial.data_manager, "csv")
    files = _files(data)
    everything = "".join(files.values())
    for secret in (REFERRER, CONTACT, trial.unconsented.study_code):
        assert secret.lower() not in everything.lower()
    columns = {row["column"] for row in _table(files["codebook.csv"])}
    assert not {"referrer", "referrer_again", "contact"} & columns  # nor the calc copying one
    rule = outcome.manifest["consent_filter"]
    assert rule["subjects_included"] == 2
    assert rule["subjects_without_consent_left_out"] == 1


def test_codebook_describes_every_column_of_every_file(trial):
    files = _files(run(trial, trial.data_manager, "csv")[0])
    book = _table(files["codebook.csv"])
    described = {(row["file"], row["column"]) for row in book}
    for name, text in files.items():
        if name.endswith(".csv") and name != "codebook.csv":
            header = next(csv.reader(io.StringIO(text)))
            assert {(name, column) for column in header} <= described, name
    weight = next(r for r in book if r["column"] == "weight")
    assert (weight["label"], weight["unit"], weight["min"], weight["max"]) == (
        "Weight", "kg", "0", "200",
    )  # fmt: skip
    assert weight["type"] == "decimal"
    assert weight["form_versions"] == "1"
    mycn = next(r for r in book if r["column"] == "mycn")
    assert mycn["choices"] == "amplified=Amplified | not_amplified=Not amplified"
    fever = next(r for r in book if r["column"] == "symptoms___fever")
    assert fever["label"] == "Symptoms: Fever"
    assert fever["choices"] == "1=Checked | 0=Unchecked"


def test_manifest_names_who_what_and_the_file_hashes(trial):
    data, outcome = run(trial, trial.data_manager, "csv")
    files = _files(data)
    manifest = json.loads(files["manifest.json"])
    assert manifest["created_by"]["email"] == trial.data_manager.email
    assert manifest["study"] == "exp-test"
    assert manifest["scope"] == "study"
    assert manifest["sites"] == ["FR-01", "IT-02"]
    assert manifest["form_versions"] == {"visit": [1], "notes": [1]}
    assert "withdrawal" in manifest["consent_filter"]["rule"]
    import hashlib

    listed = {f["name"]: f["sha256"] for f in manifest["files"]}
    for name, sha in listed.items():
        assert hashlib.sha256(files[name].encode()).hexdigest() == sha
    assert hashlib.sha256(data).hexdigest() == outcome.sha256


def test_the_consent_file_says_what_each_subject_granted_as_it_stands_now(trial):
    """A statistician sees which subjects' data may go where: the registry option withdrawn at
    the second site reads 0, the first site's still 1."""
    withdraw(trial.app, trial.other_nurse, trial.third, "option", "registry_transfer")
    data, outcome = run(trial, trial.data_manager, "csv")
    rows = _table(_files(data)["consent.csv"])
    assert [(r["study_code"], r["site_code"], r["option"], r["granted"]) for r in rows] == [
        (trial.first.study_code, "FR-01", "registry_transfer", "1"),
        (trial.third.study_code, "IT-02", "registry_transfer", "0"),
    ]
    first = rows[0]
    assert (first["document"], first["version"], first["language"]) == ("parent_consent", "1", "fr")
    assert first["state"] == "in_force"
    assert first["signed_at"].startswith(str(dt.date.today().year))
    assert outcome.manifest["counts"]["rows"]["consent.csv"] == 2
    assert trial.unconsented.study_code not in _files(data)["consent.csv"]


def test_a_withdrawal_of_all_further_collection_reads_withdrawn_with_nothing_granted(trial):
    withdraw(trial.app, trial.nurse, trial.first, "all_collection")
    rows = _table(_files(run(trial, trial.data_manager, "csv")[0])["consent.csv"])
    first = next(r for r in rows if r["study_code"] == trial.first.study_code)
    assert (first["state"], first["option"], first["granted"]) == (
        "withdrawn", "registry_transfer", "0",
    )  # fmt: skip
    third = next(r for r in rows if r["study_code"] == trial.third.study_code)
    assert third["state"] == "in_force"
