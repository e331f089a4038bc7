"""Every user-visible string is translated into each shipped language, and the reader's is used."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from edc.settings import LANGUAGES, ROOT
from tests.factories import another_browser, csrf, login

TRANSLATIONS = ROOT / "translations"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def _catalog(lang: str):
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return read_po(fh, locale=lang)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_is_complete_without_fuzzy_entries_and_compiles(lang, tmp_path):
    catalog = _catalog(lang)
    missing, fuzzy, broken = [], [], []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(strings):
            missing.append(ids[0])
        if message.fuzzy:
            fuzzy.append(ids[0])
        wanted = set(PLACEHOLDER.findall(ids[0]))
        if any(set(PLACEHOLDER.findall(s)) != wanted for s in strings if s):
            broken.append(ids[0])
    assert (missing, fuzzy, broken) == ([], [], [])
    with open(tmp_path / "messages.mo", "wb") as out:
        write_mo(out, catalog)


def test_catalogs_hold_every_string_of_the_code(tmp_path):
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F",
            str(ROOT / "babel.cfg"), "-k", "_l", "-k", "lazy_gettext", "-o", str(pot),
            str(ROOT / "edc"), str(ROOT / "app.py"),
        ],
        check=True,
        cwd=ROOT,
    )  # fmt: skip
    with open(pot, "rb") as fh:
        in_code = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}
    for lang in LANGUAGES:
        in_catalog = {m.id if isinstance(m.id, str) else m.id[0] for m in _catalog(lang) if m.id}
        assert in_code - in_catalog == set(), f"run pybabel update: {lang} lacks strings"


def test_french_is_chosen_from_the_browser_and_from_the_switcher(client, make_user):
    assert 'lang="fr"' in client.get(
        "/login", headers={"Accept-Language": "fr-FR,fr;q=0.9"}
    ).get_data(as_text=True)
    login(client, make_user())
    token = csrf(client, "/")
    client.post("/language", data={"lang": "de", "next": "/", "csrf_token": token})
    page = client.get("/", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert 'lang="de"' in page
    sign_out = _catalog("de").get("Sign out").string
    assert sign_out
    assert sign_out != "Sign out"
    assert f">{sign_out}</button>" in page


def test_an_unknown_language_is_ignored(client):
    token = csrf(client, "/login")
    client.post("/language", data={"lang": "xx", "next": "/login", "csrf_token": token})
    assert 'lang="en"' in client.get("/login").get_data(as_text=True)


def test_every_shipped_language_has_a_compiled_catalog():
    for lang in LANGUAGES:
        if lang != "en":
            assert (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo").exists(), lang


def test_no_template_text_escapes_translation():
    """Visible words in templates sit inside _() — a cheap guard against hard-coded English."""
    offenders = []
    for path in Path(ROOT / "edc" / "templates").rglob("*.html"):
        text = re.sub(r"{[{%#].*?[}%#]}", "", path.read_text(), flags=re.S)
        text = re.sub(r"<[^>]+>", " ", text)
        for word in re.findall(r"[A-Za-z]{4,}", text):
            offenders.append(f"{path.name}: {word}")
    assert offenders == []


def test_the_chosen_language_follows_the_user_to_another_device(client, app, make_user):
    user = make_user()
    login(client, user)
    client.post("/language", data={"lang": "it", "next": "/", "csrf_token": csrf(client, "/")})
    elsewhere = another_browser(client)
    login(elsewhere, user)
    assert 'lang="it"' in elsewhere.get("/").get_data(as_text=True)
