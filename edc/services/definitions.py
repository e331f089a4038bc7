"""Storing study definitions, so every record points at the exact form version it was entered with.

A load checks the whole study folder with forms_dsl, then stores study.yaml (when its text changed)
and each form version not stored yet. A form whose text changed without a higher `version:` is
refused, and so is a version lower than one already stored: a stored version never changes meaning.
Refusals are collected for every form, and nothing is stored unless the whole load is accepted.

`form_model` rebuilds the forms_dsl `Form` of a stored version with the public forms_dsl API only.
A form depends on study-level settings (languages, shared choice lists, context) that only
`load_study` reads, and `load_study` needs every form that study.yaml's events name. So each stored
study.yaml keeps the form versions it was checked with (`StudyDefinition.form_versions`): their
stored texts, written to a temporary folder, make a folder known to load. The study rebuilt from it
is kept in memory per study.yaml hash, and the form is built from its own stored text with
`load_form_text`, memoised by that text. Both caches are keyed by content, so they are never stale.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import and_, false, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

import forms_dsl
from edc import audit
from edc.context import Context
from edc.models.definitions import FormVersion, StudyDefinition
from edc.models.studies import Study

MAX_VERSION = 2**31 - 1  # what an integer column holds on every database


class DefinitionError(Exception):
    """A refused load: every problem, each located as `file:line:column: message (fix)`."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class CheckedFolder:
    """A study folder that passed forms_dsl, with the exact texts it was checked from."""

    folder: Path
    study: forms_dsl.Study
    warnings: tuple[str, ...]
    study_file: str
    study_text: str
    form_files: dict[str, str]  # form id → file as shown in messages
    form_texts: dict[str, str]  # form id → the file's text, exactly


@dataclass(frozen=True)
class FormOutcome:
    form_version: FormVersion
    stored: bool  # False: the same text was stored before


@dataclass(frozen=True)
class LoadOutcome:
    definition: StudyDefinition
    study_stored: bool
    forms: tuple[FormOutcome, ...]
    warnings: tuple[str, ...]

    @property
    def stored(self) -> list[FormVersion]:
        return [f.form_version for f in self.forms if f.stored]

    @property
    def unchanged(self) -> list[FormVersion]:
        return [f.form_version for f in self.forms if not f.stored]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_texts(folder: Path) -> tuple[str, dict[str, str]]:
    """study.yaml and forms/*.yaml as forms_dsl reads them, decoded without newline changes."""
    study = (folder / "study.yaml").read_bytes().decode("utf-8")
    forms = {
        path.stem: path.read_bytes().decode("utf-8")
        for path in sorted((folder / "forms").glob("*.yaml"))
    }
    return study, forms


def read_folder(folder: Path) -> CheckedFolder:
    """Check a study folder with forms_dsl; raises DefinitionError with every located problem.

    The texts are read before and after the check: equal reads mean the stored texts are the
    ones that were checked, even if someone edits the folder meanwhile.
    """
    folder = Path(folder)
    try:
        before: tuple[str, dict[str, str]] | None = _read_texts(folder)
    except (OSError, UnicodeDecodeError):
        before = None  # forms_dsl names the unreadable file below
    try:
        result = forms_dsl.load_study(folder)
    except forms_dsl.FormsDslError as err:
        raise DefinitionError(
            [f"{e} [warning]" if e.is_warning else str(e) for e in err.errors]
        ) from err
    study = result.value
    assert isinstance(study, forms_dsl.Study)
    try:
        after = _read_texts(folder)
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError([f"{folder}: cannot read the files again: {exc}"]) from exc
    if before != after or set(after[1]) != set(study.forms):
        raise DefinitionError([f"{folder}: the files changed while they were checked (load again)"])
    study_text, texts = after
    return CheckedFolder(
        folder=folder,
        study=study,
        warnings=tuple(f"{w} [warning]" for w in result.warnings),
        study_file=_display(folder / "study.yaml"),
        study_text=study_text,
        form_files={form_id: form.file for form_id, form in study.forms.items()},
        form_texts=texts,
    )


def _display(path: Path) -> str:
    """A path as forms_dsl shows it in messages: relative to the working directory if inside."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


_TOP_KEY = r"^{key}[ \t]*:[ \t]*"


def _key_place(text: str, key: str) -> tuple[int, int]:
    """Line and column of a top-level `key:` value (block style), else the file's start."""
    match = re.search(_TOP_KEY.format(key=re.escape(key)), text, re.MULTILINE)
    if match is None:
        return 1, 1
    line = text.count("\n", 0, match.start()) + 1
    return line, match.end() - match.start() + 1


def _located(file: str, text: str, key: str, message: str, fix: str) -> str:
    line, column = _key_place(text, key)
    return f"{file}:{line}:{column}: {message} ({fix})"


def find_or_create_study(ctx: Context, checked: CheckedFolder) -> tuple[Study, bool]:
    """The portal's study for a checked folder (True: just added, with its English title)."""
    session, actor = ctx.session, ctx.actor
    study = session.scalar(select(Study).where(Study.slug == checked.study.slug))
    if study is not None:
        return study, False
    title = checked.study.title.get("en")[:200]
    study = Study(slug=checked.study.slug, title=title)
    session.add(study)
    audit.record(
        session,
        actor,
        "study.created",
        target=study,
        new={"slug": study.slug, "title": title, "from": str(checked.folder)},
    )
    session.flush()
    return study, True


def load_definition(ctx: Context, study: Study, folder: Path, now: datetime) -> LoadOutcome:
    """Check `folder` and store what is new of it for `study` (see `store_definition`)."""
    return store_definition(ctx, study, read_folder(folder), now)


def store_definition(
    ctx: Context, study: Study, checked: CheckedFolder, now: datetime
) -> LoadOutcome:
    """Store study.yaml if its text changed and every new form version; all or nothing.

    Refused (DefinitionError, nothing stored): another study's folder, a form text changed
    without a higher version, a version lower than the highest stored, or an unchanged form whose
    meaning a changed study.yaml alters (e.g. a shared choice list it uses).
    """
    session = ctx.session
    if checked.study.slug != study.slug:
        raise DefinitionError(
            [
                _located(
                    checked.study_file,
                    checked.study_text,
                    "study",
                    f"this folder defines study `{checked.study.slug}`, not `{study.slug}`",
                    f"load it for study `{checked.study.slug}`, or set `study: {study.slug}`",
                )
            ]
        )
    latest = current_definition(session, study.id)
    study_hash = sha256(checked.study_text)
    study_changed = latest is None or latest.sha256 != study_hash
    plan, problems = _plan(session, study, checked, study_hash)
    if problems:
        raise DefinitionError(problems)

    definition = (
        _study_definition(ctx, study, checked, study_hash, now) if study_changed else latest
    )
    assert definition is not None
    outcomes: list[FormOutcome] = []
    for form_id, existing in plan:
        if existing is not None:
            outcomes.append(FormOutcome(existing, stored=False))
            continue
        stored = _form_version(ctx, study, definition, checked, form_id, now)
        outcomes.append(FormOutcome(stored, stored=True))
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent load stored the same version first
        raise DefinitionError(
            [f"{checked.folder}: another load stored these versions at the same time (load again)"]
        ) from exc
    return LoadOutcome(definition, study_changed, tuple(outcomes), checked.warnings)


def _study_definition(
    ctx: Context, study: Study, checked: CheckedFolder, study_hash: str, now: datetime
) -> StudyDefinition:
    """A new stored study.yaml (its text changed), audited."""
    definition = StudyDefinition(
        study_id=study.id,
        sha256=study_hash,
        yaml_text=checked.study_text,
        form_versions={form_id: form.version for form_id, form in checked.study.forms.items()},
        loaded_at=now,
        loaded_by_id=ctx.actor.user_id,
    )
    ctx.session.add(definition)
    audit.record(
        ctx.session,
        ctx.actor,
        "definition.study_stored",
        target=definition,
        new={"study": study.slug, "sha256": study_hash, "form_versions": definition.form_versions},
    )
    return definition


def _form_version(
    ctx: Context,
    study: Study,
    definition: StudyDefinition,
    checked: CheckedFolder,
    form_id: str,
    now: datetime,
) -> FormVersion:
    """A new stored form version with the exact text of its file, audited."""
    text = checked.form_texts[form_id]
    form_version = FormVersion(
        study_id=study.id,
        definition=definition,
        form_id=form_id,
        version=checked.study.forms[form_id].version,
        sha256=sha256(text),
        yaml_text=text,
        loaded_at=now,
        loaded_by_id=ctx.actor.user_id,
    )
    ctx.session.add(form_version)
    audit.record(
        ctx.session,
        ctx.actor,
        "definition.form_version_stored",
        target=form_version,
        new={
            "study": study.slug,
            "form": form_id,
            "version": form_version.version,
            "sha256": form_version.sha256,
        },
    )
    return form_version


def _plan(
    session: Session, study: Study, checked: CheckedFolder, study_hash: str
) -> tuple[list[tuple[str, FormVersion | None]], list[str]]:
    """Each form with its stored twin (None: to store), and every reason to refuse the load."""
    plan: list[tuple[str, FormVersion | None]] = []
    problems: list[str] = []
    for form_id, form in sorted(checked.study.forms.items()):
        text, file = checked.form_texts[form_id], checked.form_files[form_id]
        highest = current_form_version(session, study.id, form_id)
        existing = session.scalar(
            select(FormVersion).where(
                FormVersion.study_id == study.id,
                FormVersion.form_id == form_id,
                FormVersion.version == form.version,
            )
        )
        bump = f"increase `version:` to {(highest.version if highest else form.version) + 1}"
        if form.version > MAX_VERSION:
            problems.append(
                _located(file, text, "version", f"version {form.version} is too large", bump)
            )
        elif highest is not None and form.version < highest.version:
            problems.append(
                _located(
                    file,
                    text,
                    "version",
                    f"form `{form_id}` has version {form.version}, but version "
                    f"{highest.version} is already stored and versions only go up",
                    f"use the current text of version {highest.version}, or {bump} for a new one",
                )
            )
        elif existing is not None and existing.sha256 != sha256(text):
            problems.append(
                _located(
                    file,
                    text,
                    "version",
                    f"form `{form_id}` changed, but version {form.version} is already stored "
                    f"with other content (sha256 {existing.sha256[:12]}…)",
                    f"{bump}: stored records keep the version they were entered with",
                )
            )
        elif (
            existing is not None
            and existing.definition.sha256 != study_hash
            and not _same_meaning(form_model(existing), _compile(form_id, text, checked.study))
        ):
            problems.append(
                _located(
                    checked.study_file,
                    checked.study_text,
                    "study",
                    f"the changes to study.yaml (languages, shared choice lists or context) "
                    f"change form `{form_id}` version {form.version}, which is already stored",
                    f"in {file}, {bump}",
                )
            )
        plan.append((form_id, existing))
    return plan, problems


def _same_meaning(stored: forms_dsl.Form, now: forms_dsl.Form) -> bool:
    """Equal models, but for context values added or removed: a form cannot use a value it lacks
    (that fails the check), and one it does not use changes nothing."""
    both = stored.context.keys() & now.context.keys()
    return replace(stored, context={}) == replace(now, context={}) and all(
        stored.context[name] == now.context[name] for name in both
    )


def current_definition(session: Session, study_id: int) -> StudyDefinition | None:
    """The latest stored study.yaml of a study."""
    return session.scalar(
        select(StudyDefinition)
        .where(StudyDefinition.study_id == study_id)
        .order_by(StudyDefinition.id.desc())
        .limit(1)
    )


def current_form_version(session: Session, study_id: int, form_id: str) -> FormVersion | None:
    """The highest stored version of a form: the one new records are entered with."""
    return session.scalar(
        select(FormVersion)
        .where(FormVersion.study_id == study_id, FormVersion.form_id == form_id)
        .order_by(FormVersion.version.desc())
        .limit(1)
    )


def form_versions(session: Session, study_id: int) -> list[FormVersion]:
    """Every stored version of every form of a study, by form and version."""
    return list(
        session.scalars(
            select(FormVersion)
            .where(FormVersion.study_id == study_id)
            .order_by(FormVersion.form_id, FormVersion.version)
        )
    )


# --- Rebuilding a stored version's forms_dsl model -------------------------------------------

_studies: dict[str, forms_dsl.Study] = {}  # study.yaml sha256 → the study rebuilt from it
_hashed: dict[str, str] = {}  # stored text → its sha256, computed once per distinct text
_HASHED_MAX = 512


def _verified(text: str, expected: str, what: str) -> str:
    """The text, if it still matches its stored hash.

    Every use compares the text loaded now: a text equal to one hashed before has that hash, so
    only a text not seen yet is hashed (a dict lookup compares the bytes, far cheaper than sha256).
    """
    digest = _hashed.get(text)
    if digest is None:
        digest = sha256(text)
        if len(_hashed) >= _HASHED_MAX:
            _hashed.clear()
        _hashed[text] = digest
    if digest != expected:
        raise DefinitionError([f"the stored text of {what} does not match its sha256"])
    return text


def study_of(definition: StudyDefinition) -> forms_dsl.Study:
    """The stored study.yaml loaded with the stored forms it was checked with, once per text."""
    study_text = _verified(definition.yaml_text, definition.sha256, "study.yaml")
    study = _studies.get(definition.sha256)
    if study is not None:
        return study
    session = object_session(definition)
    assert session is not None, "form_model needs rows attached to a session"
    wanted = [
        and_(FormVersion.form_id == form_id, FormVersion.version == version)
        for form_id, version in definition.form_versions.items()
    ]
    rows = session.scalars(
        select(FormVersion).where(
            FormVersion.study_id == definition.study_id, or_(false(), *wanted)
        )
    )
    with tempfile.TemporaryDirectory(prefix="edc-definition-") as tmp:
        root = Path(tmp)
        (root / "forms").mkdir()
        (root / "study.yaml").write_bytes(study_text.encode("utf-8"))
        for row in rows:
            text = _verified(row.yaml_text, row.sha256, str(row))
            (root / "forms" / f"{row.form_id}.yaml").write_bytes(text.encode("utf-8"))
        try:
            loaded = forms_dsl.load_study(root).value
        except forms_dsl.FormsDslError as err:  # e.g. a stricter forms_dsl than when stored
            raise DefinitionError([str(e) for e in err.errors if not e.is_warning]) from err
    assert isinstance(loaded, forms_dsl.Study)
    _studies[definition.sha256] = loaded
    return loaded


def _compile(form_id: str, text: str, study: forms_dsl.Study) -> forms_dsl.Form:
    """A form text built with its study's languages, shared lists and context."""
    try:
        form = forms_dsl.load_form_text(
            text, f"forms/{form_id}.yaml", study.languages, study.choice_lists, study.context
        ).value
    except forms_dsl.FormsDslError as err:
        raise DefinitionError([str(e) for e in err.errors if not e.is_warning]) from err
    assert isinstance(form, forms_dsl.Form)
    return form


@lru_cache(maxsize=256)
def _cached_form(form_id: str, text: str, study_sha256: str) -> forms_dsl.Form:
    return _compile(form_id, text, _studies[study_sha256])


def form_model(form_version: FormVersion) -> forms_dsl.Form:
    """The forms_dsl Form of a stored version, as it was checked when stored (shared: read only).

    Its messages and locations name the file `forms/<form id>.yaml`. Raises DefinitionError if a
    stored text no longer matches its hash or no longer loads.
    """
    text = _verified(form_version.yaml_text, form_version.sha256, str(form_version))
    definition = form_version.definition
    study_of(definition)
    return _cached_form(form_version.form_id, text, definition.sha256)


def study_model(session: Session, study_id: int) -> forms_dsl.Study | None:
    """The study's current definition (events, languages, forms) as forms_dsl sees it."""
    definition = current_definition(session, study_id)
    return study_of(definition) if definition is not None else None
