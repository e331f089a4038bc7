"""The text a signer sees, rendered for one language, and its hash.

A signature binds to `text_hash(rendered)`: sha256 over a canonical form of everything shown —
document, version, language, audience and band, titles, each section's HTML, the optional
items' labels and the comprehension questions with their answers (not which one is correct,
which is never shown). The canonical form is JSON with sorted keys and no spaces, texts in
Unicode NFC with `\\n` line ends: the same text gives the same hash on every run and machine,
and one changed character gives another."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass

from econsent.documents import markdown
from econsent.documents.model import Document, Pick, Version
from forms_dsl.text import Text


@dataclass(frozen=True)
class RenderedSection:
    id: str
    title: str  # plain text: escape it when showing it
    html: str  # safe HTML (see econsent.documents.markdown)


@dataclass(frozen=True)
class RenderedItem:
    """An optional item or an answer: its id and its label as safe inline HTML."""

    id: str
    html: str


@dataclass(frozen=True)
class RenderedQuestion:
    id: str
    html: str
    answers: tuple[RenderedItem, ...]


@dataclass(frozen=True)
class RenderedText:
    document: str
    version: int
    language: str
    audience: str
    band: str | None
    title: str
    sections: tuple[RenderedSection, ...]
    options: tuple[RenderedItem, ...]
    questions: tuple[RenderedQuestion, ...]

    @property
    def hash(self) -> str:
        return text_hash(self)


def _in(text: Text, language: str, what: str) -> str:
    """The text in exactly `language`: a consent is never shown in another language instead."""
    values = dict(text.items)
    if language not in values:
        raise LookupError(f"{what} has no {language} text")
    return values[language]


def render_text(
    document: Document, version: Version, language: str, band: str | None = None
) -> RenderedText:
    """What a reader of `document` (its `band` for a child's assent) sees in `language`."""
    reading = version.reading(band)
    title = _in(reading.title or document.title, language, "the title")
    return RenderedText(
        document=document.id,
        version=version.number,
        language=language,
        audience=document.audience,
        band=band,
        title=title,
        sections=tuple(
            RenderedSection(
                s.id,
                _in(s.title, language, f"section {s.id}"),
                markdown.render(_in(s.body, language, f"section {s.id}")),
            )
            for s in reading.sections
        ),
        options=tuple(
            RenderedItem(o.id, markdown.render_inline(_in(o.label, language, o.id)))
            for o in reading.options
        ),
        questions=tuple(
            RenderedQuestion(
                q.id,
                markdown.render_inline(_in(q.prompt, language, q.id)),
                tuple(
                    RenderedItem(a.id, markdown.render_inline(_in(a.label, language, q.id)))
                    for a in q.answers
                ),
            )
            for q in reading.questions
        ),
    )


def render_pick(pick: Pick, language: str) -> RenderedText:
    return render_text(pick.document, pick.version, language, pick.band)


def _clean(text: str) -> str:
    return unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))


def canonical(rendered: RenderedText) -> bytes:
    """The bytes that are hashed (see the module's docstring)."""
    form = {
        "document": rendered.document,
        "version": rendered.version,
        "language": rendered.language,
        "audience": rendered.audience,
        "band": rendered.band,
        "title": _clean(rendered.title),
        "sections": [[s.id, _clean(s.title), _clean(s.html)] for s in rendered.sections],
        "options": [[o.id, _clean(o.html)] for o in rendered.options],
        "questions": [
            [q.id, _clean(q.html), [[a.id, _clean(a.html)] for a in q.answers]]
            for q in rendered.questions
        ],
    }
    text = json.dumps(form, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return text.encode("utf-8")


def text_hash(rendered: RenderedText) -> str:
    """sha256 of the canonical form, as 64 lower-case hex digits."""
    return hashlib.sha256(canonical(rendered)).hexdigest()
