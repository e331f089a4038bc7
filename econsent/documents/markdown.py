"""Consent texts are Markdown written by study staff and approved by ethics committees; the
signer's tablet shows them as HTML. Rendering is safe by construction: raw HTML is not
recognised (a `<script>` comes out as visible, escaped text), images are off (nothing is
fetched from elsewhere while a parent reads), and a link is made only for http, https and mailto
addresses (a `javascript:` link stays plain text). The result may therefore be marked safe by
the view that shows it; nothing else an author typed may be.

The checker uses `problems()` to tell the author, before anyone signs, about raw HTML and
refused links, which would otherwise show as odd literal text."""

from __future__ import annotations

from collections.abc import Iterator

from markdown_it import MarkdownIt
from markdown_it.token import Token

ALLOWED_SCHEMES = ("http://", "https://", "mailto:")


def allowed_link(url: str) -> bool:
    return url.strip().lower().startswith(ALLOWED_SCHEMES)


class _SafeMarkdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:
        return allowed_link(url)


class _AnyLink(MarkdownIt):
    """Parses links of every scheme, so the checker can name the refused ones."""

    def validateLink(self, url: str) -> bool:
        return True


def _configure(md: MarkdownIt) -> MarkdownIt:
    return md.enable("table").disable("image")


_RENDER = _configure(_SafeMarkdown("commonmark", {"html": False}))
_INSPECT = _configure(_AnyLink("commonmark", {"html": True}))


def _walk(tokens: list[Token]) -> Iterator[tuple[Token, int]]:
    """Every token with the 0-based source line of its block."""
    for token in tokens:
        line = token.map[0] if token.map else 0
        yield token, line
        for child in token.children or ():
            yield child, line


def _rel(tokens: list[Token]) -> list[Token]:
    for token, _line in _walk(tokens):
        if token.type == "link_open":
            token.attrSet("rel", "noopener noreferrer")
    return tokens


def render(text: str) -> str:
    """Markdown → HTML for a block of text (sections)."""
    tokens = _rel(_RENDER.parse(text))
    return str(_RENDER.renderer.render(tokens, _RENDER.options, {}))


def render_inline(text: str) -> str:
    """Markdown → HTML without a paragraph around it (option labels, questions, answers)."""
    tokens = _rel(_RENDER.parseInline(text))
    return str(_RENDER.renderer.render(tokens, _RENDER.options, {}))


def problems(text: str) -> list[tuple[str, str, int]]:
    """(kind, what, 1-based line in the text where its paragraph starts): "html" for raw HTML
    (once per line), "link" for each link that will not be made (not http, https or mailto)."""
    found: list[tuple[str, str, int]] = []
    for token, line in _walk(_INSPECT.parse(text)):
        if token.type in ("html_block", "html_inline"):
            found.append(("html", token.content.strip().splitlines()[0][:60], line + 1))
        elif token.type == "link_open":
            href = str(token.attrGet("href") or "")
            if not allowed_link(href):
                found.append(("link", href[:60], line + 1))
    # Raw HTML once per line: `<b>x</b>` is one mistake, not two.
    kept: dict[tuple[str, str | int, int], tuple[str, str, int]] = {}
    for kind, what, line in found:
        kept.setdefault((kind, what if kind == "link" else 0, line), (kind, what, line))
    return list(kept.values())
