"""The checks every part of a definition shares (known keys, required keys, kinds, ids,
multilingual texts), so each kind of mistake has one error code wherever it happens."""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from forms_dsl.errors import ErrorCode, Problems
from forms_dsl.source import Map, Node, Scalar, kind_of
from forms_dsl.text import EMPTY, Text

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


class Reader:
    """Reads the parts every definition shares; `problems` receives each mistake, located."""

    def __init__(self, languages: Sequence[str], problems: Problems) -> None:
        self.languages = tuple(languages)
        self.p = problems

    def keys(self, node: Map, allowed: Sequence[str], where: str) -> None:
        for key, _value in node:
            if key.value not in allowed:
                self.p.add(
                    UNKNOWN_KEY,
                    key.loc,
                    key=key.text,
                    where=where,
                    hint=suggest(str(key.value), allowed, "known keys"),
                )

    def need(self, node: Map, key: str, where: str, example: str) -> Node | None:
        value = node.get(key)
        if value is None:
            self.p.add(MISSING_KEY, node.loc, where=where, key=key, example=example)
        return value

    def text(self, node: Node | None, what: str) -> Text:
        """A multilingual text: `{en: …, fr: …}`; a plain string only for one-language studies."""
        if node is None:
            return EMPTY
        langs = self.languages
        if isinstance(node, Scalar) and isinstance(node.value, str) and len(langs) == 1:
            return Text(((langs[0], node.value),))
        if not isinstance(node, Map):
            example = "{" + ", ".join(f"{lang}: …" for lang in langs) + "}"
            self.p.add(
                WRONG_KIND,
                node.loc,
                key=what,
                expected="a text per language",
                found=kind_of(node),
                example=example,
            )
            return EMPTY
        items: list[tuple[str, str]] = []
        for key, value in node:
            lang = str(key.value)
            if lang not in langs:
                self.p.add(UNKNOWN_LANGUAGE, key.loc, lang=lang, languages=", ".join(langs))
                continue
            if not isinstance(value, Scalar) or value.value in (None, ""):
                self.p.add(
                    MISSING_TRANSLATION,
                    value.loc,
                    what=what,
                    lang=lang,
                    languages=", ".join(langs),
                )
                continue
            items.append((lang, str(value.text if not value.quoted else value.value)))
        present = {lang for lang, _ in items} | {str(k.value) for k, _v in node}
        for lang in langs:
            if lang not in present:
                self.p.add(
                    MISSING_TRANSLATION,
                    node.loc,
                    what=what,
                    lang=lang,
                    languages=", ".join(langs),
                )
        return Text(tuple(items))
