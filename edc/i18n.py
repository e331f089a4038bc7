"""Translation helpers and locale selection (kiosk signer's choice → explicit choice → user →
browser)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import current_app, has_request_context, request, session
from flask_babel import get_locale, gettext, lazy_gettext, ngettext
from flask_login import current_user

from forms_dsl.dates import format_date

_ = gettext
_l = lazy_gettext
__all__ = [
    "_",
    "_l",
    "check_catalogs",
    "day_text",
    "language_names",
    "ngettext",
    "select_locale",
]


def day_text(day: dt.date) -> str:
    """A date for a message, as the reader's language writes it (31/12/2026, 31.12.2026): the
    same language `_` translates into."""
    return format_date(day, str(get_locale() or "en"))


# i18n: each language is named in itself so that a reader of any language can find their own.
LANGUAGE_NAMES = {
    "en": "English",
    "fr": "Français",
    "de": "Deutsch",
    "it": "Italiano",
    "es": "Español",
}


def language_names(codes: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(code, LANGUAGE_NAMES.get(code, code)) for code in codes]


def select_locale() -> str:
    languages: tuple[str, ...] = current_app.config["EDC_SETTINGS"].languages
    if not has_request_context():  # a command's messages: the first language
        return languages[0]
    # A consent kiosk shows the signer's language, whoever is signed in on the tablet.
    kiosk = session.get("kiosk_lang")
    if kiosk in languages:
        return kiosk
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    return request.accept_languages.best_match(languages) or languages[0]


def check_catalogs(translations: Path, languages: tuple[str, ...]) -> None:
    """Fail at start-up, not in front of a user, when a compiled catalog is missing."""
    missing = [
        lang
        for lang in languages
        if lang != "en" and not (translations / lang / "LC_MESSAGES" / "messages.mo").exists()
    ]
    if missing:
        raise RuntimeError(
            f"compiled translations missing for {', '.join(missing)}: "
            f"run `pybabel compile -d {translations}` (scripts/setup does this)"
        )
