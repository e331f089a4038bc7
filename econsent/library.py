"""Which consent library a study uses: its folder's `consent/`, loaded once per change.

The study folders ship with the portal (`studies/<slug>/`); a command or a test may point a
study at another folder with `use_folder`. The library is loaded again when a file of the folder
changes, so an approved new version is used without a restart."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from econsent.documents import ConsentLibrary, NoConsentFolder, load_consent
from edc.settings import ROOT

_folders: dict[str, Path] = {}


def use_folder(slug: str, folder: Path) -> None:
    """Read study `slug`'s consent documents from `folder` (its study folder)."""
    _folders[slug] = Path(folder)


def folder_for(slug: str) -> Path:
    return _folders.get(slug, ROOT / "studies" / slug)


def _stamp(folder: Path) -> tuple[tuple[str, int], ...]:
    consent = folder / "consent"
    if not consent.is_dir():
        return ()
    return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in consent.glob("*.yaml")))


@lru_cache(maxsize=8)
def _load(folder: Path, stamp: tuple[tuple[str, int], ...]) -> ConsentLibrary | None:
    if not stamp:
        return None
    try:
        return load_consent(folder)
    except NoConsentFolder:
        return None


def library_for(slug: str) -> ConsentLibrary | None:
    """The consent library of study `slug`, or None when it has no consent folder. A folder
    with errors raises (`flask forms check` lists them): a consent never runs on a broken one."""
    folder = folder_for(slug)
    return _load(folder, _stamp(folder))
