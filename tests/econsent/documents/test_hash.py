"""The hash stored with a signature: the same text always gives the same hash, any change to
what the signer sees gives another."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import pytest

from econsent.documents import load_consent, render_text, text_hash
from edc.settings import ROOT
from tests.econsent.documents.helpers import PARENT, library

DEMO = ROOT / "studies" / "siopen-nb"
PRINT_HASH = (
    "from econsent.documents import load_consent, render_text\n"
    "lib = load_consent('studies/siopen-nb')\n"
    "doc = lib.documents['parent_consent']\n"
    "print(render_text(doc, doc.versions[0], 'fr').hash)\n"
)


def _parent_hash(tmp_path, text=PARENT, lang="en"):
    doc = library(tmp_path, parent_consent=text).documents["parent_consent"]
    return text_hash(render_text(doc, doc.versions[0], lang))


def test_the_hash_is_the_same_in_another_process():
    doc = load_consent(DEMO).documents["parent_consent"]
    here = render_text(doc, doc.versions[0], "fr").hash
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    there = subprocess.run(
        [sys.executable, "-c", PRINT_HASH], cwd=ROOT, env=env, capture_output=True, text=True,
        check=True,
    ).stdout.strip()  # fmt: skip
    assert here == there
    assert len(here) == 64
    assert set(here) <= set("0123456789abcdef")


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("Why we **ask**.", "Why we **ask**!"),  # one character of a section
        ("title: {en: Purpose,", "title: {en: Purposes,"),  # a section title
        ("label: {en: Keep samples,", "label: {en: Keep sample,"),  # an optional item
        ('{id: "no", label: {en: "No"', '{id: "no", label: {en: "Nope"'),  # an answer
        ("Consent, fr:", "Consent., fr:"),  # the document title
    ],
)
def test_one_changed_character_changes_the_hash(tmp_path, before, after):
    assert before in PARENT
    first = _parent_hash(tmp_path / "a")
    assert _parent_hash(tmp_path / "b", PARENT.replace(before, after)) != first


def test_the_other_language_has_another_hash(tmp_path):
    assert _parent_hash(tmp_path / "a", lang="en") != _parent_hash(tmp_path / "b", lang="fr")


def test_which_answer_is_correct_is_not_shown_so_not_hashed(tmp_path):
    changed = PARENT.replace('correct: "yes"', 'correct: "no"')
    assert _parent_hash(tmp_path / "a") == _parent_hash(tmp_path / "b", changed)


def test_the_version_and_band_are_part_of_the_hash(tmp_path):
    doc = library(tmp_path).documents["parent_consent"]
    rendered = render_text(doc, doc.versions[0], "en")
    assert text_hash(replace(rendered, version=2)) != rendered.hash
    assert text_hash(replace(rendered, band="older")) != rendered.hash


def test_line_ends_and_unicode_forms_do_not_change_the_hash(tmp_path):
    doc = library(tmp_path).documents["parent_consent"]
    rendered = render_text(doc, doc.versions[0], "fr")
    option = rendered.options[0]  # "Garder les échantillons"
    decomposed = replace(
        rendered, options=(replace(option, html=option.html.replace("é", "e\u0301")),)
    )
    assert "e\u0301" in decomposed.options[0].html
    assert text_hash(decomposed) == rendered.hash
    crlf = replace(rendered, sections=tuple(
        replace(s, html=s.html.replace("\n", "\r\n")) for s in rendered.sections
    ))  # fmt: skip
    assert text_hash(crlf) == rendered.hash


def test_a_language_the_document_lacks_is_refused_not_replaced(tmp_path):
    doc = library(tmp_path).documents["parent_consent"]
    with pytest.raises(LookupError):
        render_text(doc, doc.versions[0], "de")
