"""The casebook copy drawn as a PDF by weasyprint, in the reader's language.

The page is laid out by `templates/casebook/pdf.html` and `static/css/casebook-pdf.css` (read
from disk and handed to weasyprint, never fetched). Nothing is fetched while drawing either: the
fetcher refuses every address but data: URIs, and a refusal stops the drawing rather than
leave a hole in a copy an inspector trusts. Fonts come from the system (DejaVu) and are embedded.
Rendering needs an app context (translations) but no request.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any

import weasyprint
from flask_babel import force_locale, gettext, ngettext
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from weasyprint.urls import FatalURLFetchingError, URLFetcher

from edc.casebook_pdf.document import Document, document
from edc.i18n import _
from edc.settings import ROOT

if TYPE_CHECKING:
    from edc.services.casebook_pdf import CasebookCopy

TEMPLATES = ROOT / "edc" / "templates"
TEMPLATE = "casebook/pdf.html"
STYLESHEET = ROOT / "static" / "css" / "casebook-pdf.css"
#: Where the page counters go in the translated footer (characters no message holds).
_PAGE, _PAGES = "\ue000", "\ue001"


class ResourceRefused(ValueError):
    """The copy's HTML asked for something to be fetched (a file, a web address)."""


class _DataOnly(URLFetcher):
    """Fetches data: URIs only; anything else stops the drawing (`FatalURLFetchingError`)."""

    def fetch(self, url: str, headers: Any = None) -> Any:
        if not url.lower().startswith("data:"):
            raise FatalURLFetchingError(f"the casebook copy fetches nothing: {url[:120]}")
        return super().fetch(url, headers)


@cache
def _environment() -> Environment:
    """The copy's own Jinja environment: the portal's templates, autoescaped, translated by
    Flask-Babel like the pages; it needs no request and is not the web's (no url_for)."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]
    return env


@cache
def _stylesheet() -> weasyprint.CSS:
    """Parsed once per process: the print CSS does not change while the portal runs."""
    return weasyprint.CSS(string=STYLESHEET.read_text(encoding="utf-8"))


def css_string(text: str) -> str:
    """`text` as a CSS string: letters, digits and spaces as they are, anything else escaped, so
    no text (a study title, a translation) can end the string or the style. An escape ends with
    a space, which CSS takes as part of it: a space written after it stays."""
    return '"' + "".join(c if c.isalnum() or c == " " else f"\\{ord(c):x} " for c in text) + '"'


def page_style(doc: Document) -> str:
    """The running header and footer of every page, in the reader's words: the study and the
    subject, when and by whom the copy was made, and "page n of N" from CSS counters. Handed to
    weasyprint as a stylesheet of its own: no style element carries text into the HTML."""
    footer = _("Page %(page)s of %(pages)s", page=_PAGE, pages=_PAGES)
    counters = {_PAGE: "counter(page)", _PAGES: "counter(pages)"}
    parts = [p for p in re.split(f"({_PAGE}|{_PAGES})", footer) if p]
    numbered = " ".join(counters.get(p) or css_string(p) for p in parts)
    header = css_string(f"{doc.study} · {doc.subject}")
    return (
        f"@page {{ @top-left {{ content: {header}; }}"
        f" @bottom-left {{ content: {css_string(doc.generated)}; }}"
        f" @bottom-right {{ content: {numbered}; }} }}"
    )


def html(copy: CasebookCopy, lang: str) -> tuple[str, str]:
    """The copy as HTML in `lang` (what the PDF shows), and its page style (`page_style`)."""
    with force_locale(lang):
        doc = document(copy, lang)
        template = _environment().get_template(TEMPLATE)
        return template.render(doc=doc, lang=lang), page_style(doc)


def html_to_pdf(text: str, style: str = "") -> bytes:
    """Any HTML drawn with the copy's stylesheet (and `style`, CSS of the copy's own);
    `ResourceRefused` if it asks for a fetch."""
    page = weasyprint.HTML(string=text, url_fetcher=_DataOnly())
    sheets = [_stylesheet()]
    if style:
        sheets.append(weasyprint.CSS(string=style, url_fetcher=_DataOnly()))
    try:
        drawn = page.write_pdf(stylesheets=sheets)
    except FatalURLFetchingError as refused:  # a BaseException: `except Exception` misses it
        raise ResourceRefused(str(refused)) from None
    assert drawn is not None  # no target given: the bytes are returned
    return bytes(drawn)


def pdf(copy: CasebookCopy, lang: str) -> bytes:
    """The copy as PDF bytes in `lang`. Call inside an app context."""
    return html_to_pdf(*html(copy, lang))
