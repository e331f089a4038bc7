"""The checks every part of a definition shares (known keys, required keys, kinds, ids,
multilingual texts), so each kind of mistake has one error code wherever it happens."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from forms_dsl.errors import ErrorCode

UNKNOWN_KEY = ErrorCode("E201", "unknown key `{key}` in {where}", "{hint}")
MISSING_KEY = ErrorCode("E202", "{where} needs `{key}`", "add `{key}:` ({example})")
WRONG_KIND = ErrorCode(
    "E203", "{key} must be {expected}, found {found}", "write {expected} here, e.g. {example}"
)
BAD_ID = ErrorCode(
    "E204",
    "`{value}` is not a valid id",
    "use lower-case letters, digits and underscores, starting with a letter (at most 64)",
)
MISSING_TRANSLATION = ErrorCode(
    "E209",
    "{what} has no {lang} text",
    "add `{lang}: …` — every text needs all the study's languages ({languages})",
)
UNKNOWN_LANGUAGE = ErrorCode(
    "E210",
    "`{lang}` is not a language of the study ({languages})",
    "remove it, or add it to the study's `languages`",
)


def suggest(value: str, options: Sequence[str], what: str = "") -> str:
    """A fix hint: the closest known word, else the list of known ones."""
    close = difflib.get_close_matches(value, list(options), n=1, cutoff=0.6)
    if close:
        return f"did you mean `{close[0]}`?"
    shown = ", ".join(f"`{o}`" for o in list(options)[:20])
    return f"use one of {shown}" if not what else f"{what}: {shown}"
