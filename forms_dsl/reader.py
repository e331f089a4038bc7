"""The checks every part of a definition shares (known keys, required keys, kinds, ids, flags,
whole numbers, multilingual texts), so each kind of mistake has one error code and one wording
wherever it happens: forms, study.yaml, decision tables, and any importer feeding the builder.

The `expect_*` helpers return the node narrowed to the kind asked for, or None after reporting
the mistake; an absent node (None) is returned as None without a report, because whether a key
is required is the caller's `need`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from forms_dsl.errors import ErrorCode, Problems, closest
from forms_dsl.source import Map, Node, Scalar, Seq, kind_of
from forms_dsl.text import EMPTY, Text

ID_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
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
BAD_NUMBER_OPTION = ErrorCode("E225", "`{key}` must be {expected}, found {found}", "{fix}")


def suggest(value: str, options: Sequence[str], what: str = "") -> str:
    """A fix hint: the closest known word, else the list of known ones."""
    close = closest(value, options)
    if close is not None:
        return f"did you mean `{close}`?"
    shown = ", ".join(f"`{o}`" for o in list(options)[:20])
    return f"use one of {shown}" if not what else f"{what}: {shown}"


def describe(node: Node) -> str:
    """Like `kind_of`, but names an empty mapping or list as such (where entries are needed)."""
    if isinstance(node, Map) and not node.entries:
        return "an empty mapping"
    if isinstance(node, Seq) and not node.items:
        return "an empty list"
    return kind_of(node)


class Reader:
    """Reads the parts every definition shares; `problems` receives each mistake, located."""

    #: Name an empty mapping or list as such in E203 ("found an empty list").
    describe_empty: ClassVar[bool] = False

    def __init__(self, languages: Sequence[str], problems: Problems) -> None:
        self.languages = tuple(languages)
        self.p = problems

    # -- kinds --------------------------------------------------------------------------------

    def wrong_kind(
        self, node: Node, what: str, expected: str, example: str, found: str | None = None
    ) -> None:
        """E203: `what` (as shown, e.g. "a section" or "`fields`") is not `expected`."""
        self.p.add(
            WRONG_KIND,
            node.loc,
            key=what,
            expected=expected,
            found=found or (describe(node) if self.describe_empty else kind_of(node)),
            example=example,
        )

    def expect_map(self, node: Node | None, what: str, example: str) -> Map | None:
        if node is None or isinstance(node, Map):
            return node
        self.wrong_kind(node, what, "a mapping", example)
        return None

    def expect_seq(self, node: Node | None, what: str, example: str) -> Seq | None:
        if node is None or isinstance(node, Seq):
            return node
        self.wrong_kind(node, what, "a list", example)
        return None

    def expect_word(self, node: Node | None, what: str, example: str) -> Scalar | None:
        """A scalar holding non-empty text (an id, a type name, a unit, a pattern)."""
        if node is None:
            return None
        if isinstance(node, Scalar) and isinstance(node.value, str) and node.value != "":
            return node
        self.wrong_kind(node, what, "text", example)
        return None

    # -- values -------------------------------------------------------------------------------

    def ident(self, node: Node | None, key: str) -> str | None:
        """An id: lower-case letters, digits and underscores, starting with a letter (E204)."""
        word = self.expect_word(node, f"`{key}`", "`id: tumour_size`")
        if word is None:
            return None
        value = str(word.value)
        if not ID_RE.fullmatch(value):
            self.p.add(BAD_ID, word.loc, value=value)
            return None
        return value

    def flag(self, node: Node | None, key: str) -> bool:
        """`key: true` or `key: false`; absent means false."""
        if node is None:
            return False
        if isinstance(node, Scalar) and isinstance(node.value, bool):
            return node.value
        self.wrong_kind(node, f"`{key}`", "true or false", f"`{key}: true`")
        return False

    def whole(self, node: Node, key: str, low: int, high: int) -> int | None:
        """A whole number from `low` to `high` (E225 otherwise)."""
        if isinstance(node, Scalar) and type(node.value) is int and low <= node.value <= high:
            return node.value
        self.p.add(
            BAD_NUMBER_OPTION,
            node.loc,
            key=key,
            expected=f"a whole number from {low} to {high}",
            found=node.text if isinstance(node, Scalar) else kind_of(node),
            fix=f"write e.g. `{key}: {low if low > 0 else 1}`",
        )
        return None

    # -- keys and texts -----------------------------------------------------------------------

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
            self.wrong_kind(node, what, "a text per language", example)
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
