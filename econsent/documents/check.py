"""A study's `consent/` folder → a checked `ConsentLibrary`, or every problem of every file.

The study's languages come from its study.yaml (every consent text needs all of them). A study
without a consent folder has nothing to check: `check_study` reports nothing and
`load_consent` says so with its own exception, so forms and demo seeding never depend on it."""

from __future__ import annotations

from pathlib import Path

from econsent.documents.codes import (
    NO_DOCUMENTS,
    NO_RULES,
    NOT_APPROVED,
    UNKNOWN_BAND,
    UNKNOWN_DOCUMENT,
    WRONG_AUDIENCE,
)
from econsent.documents.load import DocumentReader
from econsent.documents.model import ConsentLibrary, Document, RuleTable
from econsent.documents.places import COUNTRIES
from econsent.documents.rules import DocumentRef, RuleReader
from forms_dsl.errors import DslError, FormsDslError, Location, Problems
from forms_dsl.reader import suggest
from forms_dsl.source import Map, Scalar, Seq, parse_file

FOLDER = "consent"
RULES_FILE = "rules.yaml"


class NoConsentFolder(LookupError):
    """The study has no consent/ folder (not an error: e-consent is optional per study)."""


def _display(path: Path) -> str:
    """Paths in messages as forms_dsl shows them: relative to the working directory if inside."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def study_languages(study_folder: Path) -> tuple[str, ...] | None:
    """The `languages` of study.yaml, or None when it cannot be read (the forms check says
    why; the consent check does not repeat it)."""
    try:
        root = parse_file(study_folder / "study.yaml", _display(study_folder / "study.yaml"))
    except FormsDslError:
        return None
    node = root.get("languages") if isinstance(root, Map) else None
    if not isinstance(node, Seq):
        return None
    langs = tuple(str(i.value) for i in node if isinstance(i, Scalar) and isinstance(i.value, str))
    return langs or None


def load_consent(
    study_folder: Path | str, languages: tuple[str, ...] | None = None
) -> ConsentLibrary:
    """Load and check `<study>/consent/`; raises FormsDslError with every problem found (warnings
    are kept on the library), or NoConsentFolder."""
    root = Path(study_folder)
    folder = root / FOLDER
    if not folder.is_dir():
        raise NoConsentFolder(str(folder))
    problems = Problems()
    langs = languages or study_languages(root) or ("en",)
    documents = _documents(folder, langs, problems)
    rules, refs = _rules(folder, problems, has_documents=bool(documents))
    if not documents:
        problems.add(NO_DOCUMENTS, Location(_display(folder), 1, 1), folder=_display(folder))
    if documents and rules is not None:
        broken = {path.stem for path in folder.glob("*.yaml")} - set(documents)
        _cross_check([r for r in refs if r.document not in broken], documents, problems)
    problems.raise_if_errors()
    assert rules is not None
    return ConsentLibrary(langs, documents, rules, tuple(problems.warnings))


def check_study(study_folder: Path | str) -> list[DslError]:
    """Every problem (errors and warnings) of a study's consent folder; none without one. This
    is what `flask forms check` runs besides the forms."""
    root = Path(study_folder)
    languages = study_languages(root)
    if languages is None or not (root / FOLDER).is_dir():
        return []
    try:
        library = load_consent(root, languages)
    except FormsDslError as err:
        return list(err.errors)
    return list(library.warnings)


def _documents(folder: Path, langs: tuple[str, ...], problems: Problems) -> dict[str, Document]:
    documents: dict[str, Document] = {}
    for path in sorted(folder.glob("*.yaml")):
        if path.name == RULES_FILE:
            continue
        display = _display(path)
        try:
            node = parse_file(path, display)
        except FormsDslError as err:
            problems.extend(err.errors)
            continue
        document = DocumentReader(display, langs, problems).read(node, path)
        if document is not None:
            documents[document.id] = document
    return documents


def _rules(
    folder: Path, problems: Problems, has_documents: bool
) -> tuple[RuleTable | None, list[DocumentRef]]:
    path = folder / RULES_FILE
    display = _display(path)
    if not path.exists():
        if has_documents:
            problems.add(NO_RULES, Location(_display(folder), 1, 1), folder=_display(folder))
        return None, []
    try:
        node = parse_file(path, display)
    except FormsDslError as err:
        problems.extend(err.errors)
        return None, []
    reader = RuleReader(problems)
    text = path.read_text(encoding="utf-8")
    return reader.read(node, text, display), reader.refs


def _cross_check(refs: list[DocumentRef], documents: dict[str, Document], p: Problems) -> None:
    """Every document the rules name exists, is for the right reader, has the band named, and
    is approved somewhere in the place (a warning: approval may come later)."""
    for ref in refs:
        document = documents.get(ref.document)
        if document is None:
            hint = suggest(ref.document, sorted(documents), "documents")
            p.add(UNKNOWN_DOCUMENT, ref.loc, value=ref.document, hint=hint)
            continue
        if document.audience != ref.role:
            role = "an assent band's document" if ref.role == "child" else f"`{ref.role}`"
            p.add(
                WRONG_AUDIENCE,
                ref.loc,
                role=role,
                expected=ref.role,
                document=document.id,
                found=document.audience,
            )
            continue
        for version in document.versions:
            if ref.role == "child" and ref.band not in version.bands:
                hint = suggest(ref.band or "", version.bands, "bands")
                p.add(
                    UNKNOWN_BAND,
                    ref.loc,
                    document=document.id,
                    band=ref.band,
                    version=version.number,
                    hint=hint,
                )
        country = ref.place[:2]
        approved = any(a.country == country for v in document.versions for a in v.approvals)
        if not approved and country in COUNTRIES:
            p.add(NOT_APPROVED, ref.loc, place=ref.place, document=document.id)
