"""Stored study definitions and form versions: what is stored, what is refused, and the CLI."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

import forms_dsl
from edc.actor import Actor
from edc.extensions import db
from edc.models.audit import AuditEvent
from edc.models.definitions import FormVersion, StudyDefinition
from edc.models.studies import Study
from edc.models.users import User
from edc.services import definitions
from edc.services.definitions import DefinitionError
from edc.settings import ROOT
from edc.web import app_context

DEMO = ROOT / "studies" / "siopen-nb"
SLUG = "siopen-nb"
NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)

BIOPSY_FIELD = """\
      - id: biopsy_done
        type: choice
        choices: yes_no_unknown
        label: {en: Biopsy done, fr: Biopsie faite, de: Biopsie erfolgt, it: Biopsia, es: Biopsia}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The demo study cut down to two forms at version 1: stable however the demo grows."""
    copy = tmp_path / SLUG
    shutil.copytree(DEMO, copy)
    for form in (copy / "forms").glob("*.yaml"):
        if form.stem not in ("diagnosis", "response"):
            form.unlink()
    for form in ("diagnosis", "response"):
        path = copy / "forms" / f"{form}.yaml"
        path.write_text(re.sub(r"(?m)^version: \d+$", "version: 1", path.read_text()))
    study = copy / "study.yaml"
    text = re.sub(r"(?m)^consent:\n(?:  .*\n)+", "", study.read_text())  # names registration
    text = re.sub(r"(?m)^registry:\n(?:  .*\n)+", "", text)  # names the other forms too
    study.write_text(
        text[: text.index("events:")]
        + "events:\n"
        + "  - id: diagnosis\n    label: {en: D, fr: D, de: D, it: D, es: D}\n"
        + "    forms: [diagnosis]\n"
        + "  - id: response\n    label: {en: R, fr: R, de: R, it: R, es: R}\n"
        + "    repeating: true\n    forms: [response]\n"
    )
    return copy


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _bump(folder: Path, form_id: str, to: int) -> None:
    """Change the form and set its version to `to`."""
    path = folder / "forms" / f"{form_id}.yaml"
    text = path.read_text(encoding="utf-8")
    version = next(line for line in text.splitlines() if line.startswith("version:"))
    text = text.replace(version, f"version: {to}", 1).replace(
        "sections:", "# changed\nsections:", 1
    )
    path.write_text(text, encoding="utf-8")


def _change_without_bump(folder: Path, form_id: str) -> None:
    _edit(folder / "forms" / f"{form_id}.yaml", "sections:", "# an edit\nsections:")


def _load(study: Study, folder: Path) -> definitions.LoadOutcome:
    outcome = definitions.load_definition(app_context(Actor.cli()), study, folder, NOW)
    db.session.commit()
    return outcome


def _count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


_SINCE: list[int] = [0]


@pytest.fixture(autouse=True)
def _own_events_only() -> None:
    """Committed race tests leave their events (append-only): count only this test's."""
    _SINCE[0] = db.session.scalar(select(func.max(AuditEvent.seq))) or 0


def _actions(action: str) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == action, AuditEvent.seq > _SINCE[0])
    return list(db.session.scalars(query))


def test_first_load_stores_the_study_file_and_every_form_with_audit_events(make_study, folder):
    study = make_study(SLUG)
    outcome = _load(study, folder)
    assert outcome.study_stored
    assert sorted(str(v) for v in outcome.stored) == ["diagnosis v1", "response v1"]
    assert outcome.unchanged == []
    diagnosis = definitions.current_form_version(db.session, study.id, "diagnosis")
    file_bytes = (folder / "forms" / "diagnosis.yaml").read_bytes()
    assert diagnosis.yaml_text.encode("utf-8") == file_bytes
    assert diagnosis.sha256 == hashlib.sha256(file_bytes).hexdigest()
    assert diagnosis.loaded_by_id is None
    assert diagnosis.loaded_at == NOW
    definition = definitions.current_definition(db.session, study.id)
    assert definition.yaml_text == (folder / "study.yaml").read_text(encoding="utf-8")
    assert definition.form_versions == {"diagnosis": 1, "response": 1}
    assert diagnosis.definition_id == definition.id

    stored = _actions("definition.form_version_stored")
    assert sorted((e.new_value["form"], e.new_value["version"]) for e in stored) == [
        ("diagnosis", 1),
        ("response", 1),
    ]
    event = next(e for e in stored if e.new_value["form"] == "diagnosis")
    assert event.new_value["sha256"] == diagnosis.sha256
    assert (event.entity_type, event.entity_id) == ("form_version", str(diagnosis.id))
    assert event.actor_email.startswith("cli:")
    [study_event] = _actions("definition.study_stored")
    assert study_event.new_value["sha256"] == definition.sha256


def test_a_second_identical_load_stores_nothing(make_study, folder):
    study = make_study(SLUG)
    _load(study, folder)
    events = _count(AuditEvent)
    outcome = _load(study, folder)
    assert not outcome.study_stored
    assert outcome.stored == []
    assert sorted(str(v) for v in outcome.unchanged) == ["diagnosis v1", "response v1"]
    assert (_count(FormVersion), _count(StudyDefinition)) == (2, 1)
    assert _count(AuditEvent) == events


def test_a_form_changed_without_a_new_version_refuses_the_whole_load(make_study, folder):
    study = make_study(SLUG)
    _load(study, folder)
    _change_without_bump(folder, "diagnosis")
    _bump(folder, "response", 2)  # a correct change, refused with the rest
    _edit(folder / "study.yaml", "# The demo", "# Edited. The demo")
    with pytest.raises(DefinitionError) as refused:
        definitions.load_definition(app_context(Actor.cli()), study, folder, NOW)
    [message] = refused.value.messages
    file, line, column, rest = message.split(":", 3)
    assert file.endswith("forms/diagnosis.yaml")
    assert (int(line), int(column)) == (2, 10)  # the value of `version:`
    assert "`diagnosis`" in rest
    assert "version 1 is already stored" in rest
    assert "increase `version:` to 2" in rest
    db.session.rollback()
    assert (_count(FormVersion), _count(StudyDefinition)) == (2, 1)
    assert definitions.current_form_version(db.session, study.id, "response").version == 1


def test_a_new_version_is_stored_and_the_old_one_kept(make_study, folder):
    study = make_study(SLUG)
    first = _load(study, folder)
    old = next(v for v in first.stored if v.form_id == "diagnosis")
    _bump(folder, "diagnosis", 2)
    outcome = _load(study, folder)
    assert [str(v) for v in outcome.stored] == ["diagnosis v2"]
    assert [str(v) for v in outcome.unchanged] == ["response v1"]
    assert not outcome.study_stored
    current = definitions.current_form_version(db.session, study.id, "diagnosis")
    assert current.version == 2
    assert "# changed" in current.yaml_text
    assert db.session.get(FormVersion, old.id).yaml_text == old.yaml_text
    assert [str(v) for v in definitions.form_versions(db.session, study.id)] == [
        "diagnosis v1",
        "diagnosis v2",
        "response v1",
    ]
    assert definitions.form_model(old).version == 1
    assert definitions.form_model(current).version == 2


def test_a_version_lower_than_the_stored_one_is_refused(make_study, folder):
    study = make_study(SLUG)
    _bump(folder, "diagnosis", 3)
    _load(study, folder)
    _bump(folder, "diagnosis", 2)
    with pytest.raises(DefinitionError) as refused:
        definitions.load_definition(app_context(Actor.cli()), study, folder, NOW)
    [message] = refused.value.messages
    assert "version 2, but version 3 is already stored" in message
    assert "increase `version:` to 4" in message


def test_a_broken_definition_is_refused_with_located_errors(make_study, folder):
    study = make_study(SLUG)
    _edit(folder / "forms" / "diagnosis.yaml", "decimals: 1", "decimals: one")
    with pytest.raises(DefinitionError) as refused:
        definitions.load_definition(app_context(Actor.cli()), study, folder, NOW)
    line = next(m for m in refused.value.messages if "E225" in m)
    path, lineno, column, _rest = line.split(":", 3)
    assert path.endswith("forms/diagnosis.yaml")
    assert int(lineno) > 1
    assert int(column) > 1
    db.session.rollback()
    assert _count(FormVersion) == 0


def test_a_folder_of_another_study_is_refused(make_study):
    study = make_study("another-study")
    with pytest.raises(DefinitionError) as refused:
        definitions.load_definition(app_context(Actor.cli()), study, DEMO, NOW)
    [message] = refused.value.messages
    assert message.split(":", 3)[0].endswith("study.yaml")
    assert "defines study `siopen-nb`, not `another-study`" in message


def test_the_stored_form_model_evaluates(make_study, folder):
    study = make_study(SLUG)
    _load(study, folder)
    form = definitions.form_model(
        definitions.current_form_version(db.session, study.id, "diagnosis")
    )
    assert form.id == "diagnosis"
    assert form.languages == ("en", "fr", "de", "it", "es")
    birth = {"date_of_birth": dt.date(2024, 1, 15)}
    result = forms_dsl.evaluate(
        form, {"diagnosis_date": "2025-03-01"}, context=birth, today=dt.date(2026, 1, 1)
    )
    assert result.values["age_months"] == 13
    before_birth = forms_dsl.evaluate(
        form, {"diagnosis_date": "2023-03-01"}, context=birth, today=dt.date(2026, 1, 1)
    )
    assert "The diagnosis cannot be before birth." in [
        issue.message for issue in before_birth.issues_for("diagnosis_date")
    ]


def test_a_stored_text_changed_behind_the_application_is_noticed(make_study, folder):
    study = make_study(SLUG)
    _load(study, folder)
    version = definitions.current_form_version(db.session, study.id, "response")
    db.session.execute(
        update(FormVersion)
        .where(FormVersion.id == version.id)
        .values(yaml_text=version.yaml_text.replace("INRC", "XXXX"))
    )
    db.session.expire_all()
    with pytest.raises(DefinitionError, match="does not match its sha256"):
        definitions.form_model(db.session.get(FormVersion, version.id))


def test_a_study_file_change_that_changes_a_stored_form_is_refused(make_study, folder):
    study = make_study(SLUG)
    _edit(
        folder / "forms" / "response.yaml",
        "      - id: assessment_date",
        BIOPSY_FIELD + "      - id: assessment_date",
    )
    _load(study, folder)
    _edit(folder / "study.yaml", "en: Unknown,", "en: Not known,")
    with pytest.raises(DefinitionError) as refused:
        definitions.load_definition(app_context(Actor.cli()), study, folder, NOW)
    [message] = refused.value.messages
    assert message.split(":", 3)[0].endswith("study.yaml")
    assert "form `response` version 1" in message
    assert "increase `version:` to 2" in message
    db.session.rollback()
    assert _count(StudyDefinition) == 1


def test_a_study_file_change_that_leaves_the_forms_alone_is_stored(make_study, folder):
    study = make_study(SLUG)
    first = _load(study, folder)
    _edit(folder / "study.yaml", "  date_of_birth: date", "  date_of_birth: date\n  weight: number")
    _edit(folder / "study.yaml", "en: Unknown,", "en: Not known,")  # a list no form uses
    outcome = _load(study, folder)
    assert outcome.study_stored
    assert outcome.stored == []
    assert outcome.definition.id != first.definition.id
    diagnosis = definitions.current_form_version(db.session, study.id, "diagnosis")
    assert (
        diagnosis.definition_id == first.definition.id
    )  # still the study file it was checked with
    assert "weight" not in definitions.form_model(diagnosis).context
    _bump(folder, "diagnosis", 2)
    newer = _load(study, folder).stored[0]
    assert newer.definition_id == outcome.definition.id
    assert "weight" in definitions.form_model(newer).context


# --- command line -----------------------------------------------------------------------------


def _cli(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def test_cli_load_adds_the_study_and_prints_each_form(app, folder):
    result = _cli(app, "studies", "load", str(folder))
    assert result.exit_code == 0, result.output
    study = db.session.scalar(select(Study).where(Study.slug == SLUG))
    assert study.title == "SIOPEN neuroblastoma registry (demo)"
    diagnosis = definitions.current_form_version(db.session, study.id, "diagnosis")
    assert f"stored diagnosis v1 (sha256 {diagnosis.sha256})" in result.output
    assert "stored response v1" in result.output
    assert "added study siopen-nb" in result.output

    again = _cli(app, "studies", "load", str(folder))
    assert again.exit_code == 0, again.output
    assert f"unchanged diagnosis v1 (sha256 {diagnosis.sha256})" in again.output
    assert "unchanged siopen-nb study.yaml" in again.output
    assert "added study" not in again.output


def test_cli_load_refuses_an_unbumped_change_and_exits_1(app, folder):
    assert _cli(app, "studies", "load", str(folder)).exit_code == 0
    _change_without_bump(folder, "response")
    result = _cli(app, "studies", "load", str(folder))
    assert result.exit_code == 1
    assert "form `response` changed, but version 1 is already stored" in result.output
    assert "nothing stored" in result.output
    assert _count(FormVersion) == 2


def test_cli_load_prints_located_errors_of_a_broken_definition(app, folder):
    _edit(folder / "forms" / "diagnosis.yaml", "decimals: 1", "decimals: one")
    result = _cli(app, "studies", "load", str(folder))
    assert result.exit_code == 1
    assert any(
        "forms/diagnosis.yaml:" in line and "E225" in line for line in result.output.splitlines()
    )
    assert db.session.scalar(select(Study).where(Study.slug == SLUG)) is None


def test_cli_versions_lists_every_stored_version(app, folder):
    assert _cli(app, "studies", "load", str(folder)).exit_code == 0
    _bump(folder, "diagnosis", 2)
    assert _cli(app, "studies", "load", str(folder)).exit_code == 0
    result = _cli(app, "studies", "versions", SLUG)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[:2] for line in lines] == [
        ["diagnosis", "v1"],
        ["diagnosis", "v2"],
        ["response", "v1"],
    ]
    assert [line.endswith("current") for line in lines] == [False, True, True]
    assert "command line" in lines[0]
    assert _cli(app, "studies", "versions", "no-such-study").exit_code == 1


def test_demo_seed_stores_the_demo_definition(app):
    result = _cli(app, "demo", "seed")
    assert result.exit_code == 0, result.output
    study = db.session.scalar(select(Study).where(Study.slug == SLUG))
    demo = forms_dsl.load_study(DEMO).value
    assert sorted(str(v) for v in definitions.form_versions(db.session, study.id)) == sorted(
        f"{form.id} v{form.version}" for form in demo.forms.values()
    )
    assert db.session.scalar(select(func.count()).select_from(User)) >= 5


def test_demo_seed_registers_thirty_subjects_in_varied_states(app):
    from edc.models.crf import FormRecord
    from edc.models.subjects import Subject

    assert _cli(app, "demo", "seed").exit_code == 0
    assert db.session.scalar(select(func.count()).select_from(Subject)) == 30
    statuses = dict(
        db.session.execute(
            select(FormRecord.status, func.count())
            .where(FormRecord.form_id == "diagnosis")
            .group_by(FormRecord.status)
        ).all()
    )
    assert statuses.get("complete", 0) >= 15
    assert statuses.get("in_progress", 0) >= 3
    sites = db.session.scalars(select(Subject.site_id).distinct()).all()
    assert len(sites) == 3
    from edc.models.consent import ConsentScope

    consented = db.session.scalars(select(ConsentScope.subject_id)).all()
    started = db.session.scalars(select(FormRecord.subject_id).distinct()).all()
    assert sorted(consented) == sorted(started)  # every child with data has a consent in force
    responses = dict(
        db.session.execute(
            select(FormRecord.status, func.count())
            .where(FormRecord.form_id == "response")
            .group_by(FormRecord.status)
        ).all()
    )
    assert responses.get("complete", 0) >= 8  # INRC overall responses to show
    assert responses.get("in_progress", 0) >= 3
    from edc.services import casebook
    from tests.factories import site_reader

    classified = [
        view.decision.outputs
        for subject in db.session.scalars(select(Subject))
        for view in casebook.decision_support(site_reader(subject.site), subject, masked=False)
        if view.table.id == "inrc_response" and view.decision.classifiable
    ]
    assert len({tuple(sorted(o.items())) for o in classified}) >= 3  # varied overall responses
