"""The demo study's consent folder checks clean, is complete in its five languages, and a text
missing in any one of them is an error."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from econsent.documents import check_study, load_consent, render_text
from econsent.documents.check import study_languages
from edc.settings import ROOT

DEMO = ROOT / "studies" / "siopen-nb"
LANGUAGES = ("en", "fr", "de", "it", "es")


def test_the_demo_consent_folder_checks_clean():
    assert check_study(DEMO) == []


def test_the_demo_ships_parent_child_and_adult_documents_in_the_study_languages():
    assert study_languages(DEMO) == LANGUAGES
    library = load_consent(DEMO)
    audiences = {doc.audience for doc in library.documents.values()}
    assert audiences == {"parent", "child", "adult"}
    assert library.documents["child_assent"].versions[0].bands == ("younger", "older")
    for document in library.documents.values():
        version = document.versions[-1]
        for reading in version.readings:
            for lang in LANGUAGES:
                rendered = render_text(document, version, lang, reading.band)
                assert rendered.sections
                assert all(s.html.strip() for s in rendered.sections)


def test_the_parent_sheet_is_a_full_information_sheet_in_every_language():
    library = load_consent(DEMO)
    parent = library.documents["parent_consent"]
    version = parent.versions[0]
    for lang in LANGUAGES:
        rendered = render_text(parent, version, lang)
        text = " ".join(re.sub(r"<[^>]+>", " ", s.html) for s in rendered.sections)
        assert len(text.split()) > 1_900, lang  # about five printed pages
        assert {o.id for o in rendered.options} == {
            "registry_transfer", "biobank_storage", "future_research", "genetic_analysis",
            "recontact",
        }  # fmt: skip
        assert 2 <= len(rendered.questions) <= 3


def test_the_demo_approvals_are_marked_as_made_up():
    for document in load_consent(DEMO).documents.values():
        for version in document.versions:
            assert {a.country for a in version.approvals} == {"FR", "IT", "ES"}
            assert all(a.reference.startswith("DEMO-") for a in version.approvals)


def _drop_language(text: str, lang: str) -> str:
    """The text without the first `lang:` block scalar of a section body."""
    lines = text.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip() == f"{lang}: |")
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = start + 1
    while end < len(lines) and (
        not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > indent
    ):
        end += 1
    return "".join(lines[:start] + lines[end:])


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("document", ["parent_consent", "child_assent", "adult_consent"])
def test_a_text_missing_in_any_language_is_an_error(tmp_path: Path, document: str, lang: str):
    copy = tmp_path / "siopen-nb"
    shutil.copytree(DEMO / "consent", copy / "consent")
    shutil.copy(DEMO / "study.yaml", copy / "study.yaml")
    path = copy / "consent" / f"{document}.yaml"
    path.write_text(_drop_language(path.read_text(), lang))
    found = [p for p in check_study(copy) if not p.is_warning]
    assert [p.code.id for p in found] == ["E209"]
    assert found[0].location.file.endswith(f"consent/{document}.yaml")
    assert f"has no {lang} text" in found[0].message


def test_a_study_without_a_consent_folder_has_nothing_to_check(tmp_path: Path):
    shutil.copy(DEMO / "study.yaml", tmp_path / "study.yaml")
    assert check_study(tmp_path) == []
