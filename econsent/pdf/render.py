"""The consent copy as a PDF/A-3b: the approved text, the signatures and the choices printed in
the signer's language, the evidence attached as JSON (PDF/A-3 allows embedded files).

Rendering needs an app context (translations, the app's Jinja globals) but no request. Fonts
come from the system (DejaVu, Debian fonts-dejavu-core) and are embedded, as PDF/A requires;
no URL is ever fetched: the signature images are data: URIs and anything else is refused.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import weasyprint
from flask import Flask, current_app
from flask_babel import force_locale, gettext
from jinja2 import BaseLoader, ChoiceLoader, Environment, FileSystemLoader
from weasyprint.urls import FatalURLFetchingError, URLFetcher

from econsent.pdf.evidence import ConsentEvidence, evidence_json

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
TEMPLATE = "econsent/pdf/consent.html"
STYLESHEET = TEMPLATES / "econsent" / "pdf" / "consent.css"
EVIDENCE_NAME = "evidence.json"


class ExternalResourceRefused(ValueError):
    """The HTML asked for something other than a data: URI (a file, a web address)."""


def _environment(app: Flask) -> Environment:
    """The app's Jinja environment (its gettext, filters, autoescaping) that also finds the
    econsent templates, made once per app."""
    env: Environment | None = app.extensions.get("econsent_pdf_jinja")
    if env is None:
        loaders: list[BaseLoader] = [FileSystemLoader(str(TEMPLATES))]
        if app.jinja_env.loader is not None:
            loaders.append(app.jinja_env.loader)
        env = app.jinja_env.overlay(loader=ChoiceLoader(loaders))
        app.extensions["econsent_pdf_jinja"] = env
    return env


@cache
def _stylesheet() -> weasyprint.CSS:
    """Parsed once per process: the print CSS never changes while the app runs."""
    return weasyprint.CSS(string=STYLESHEET.read_text(encoding="utf-8"))


def _data_only() -> URLFetcher:
    """Only data: URIs may be embedded: the copy never depends on a network or file read, and
    a refused one stops the rendering instead of leaving a hole in the copy."""
    return URLFetcher(allowed_protocols=("data",), fail_on_errors=True)


def render_html(evidence: ConsentEvidence) -> str:
    """The copy as HTML in the signer's language (what the PDF shows)."""
    env = _environment(current_app._get_current_object())  # type: ignore[attr-defined]
    with force_locale(evidence.document.language):
        return env.get_template(TEMPLATE).render(ev=evidence)


def html_to_pdfa(html: str, evidence_bytes: bytes | None = None) -> bytes:
    """Any HTML as a PDF/A-3b, optionally with the evidence attached (the benchmark renders
    the same HTML with and without the rest of the pipeline)."""
    attachments = []
    if evidence_bytes is not None:
        attachments.append(
            weasyprint.Attachment(
                string=evidence_bytes,
                name=EVIDENCE_NAME,
                description="Consent evidence: signatures, choices and audit events",
                relationship="Data",
            )
        )
    document = weasyprint.HTML(string=html, url_fetcher=_data_only())
    try:
        pdf = document.write_pdf(
            stylesheets=[_stylesheet()],
            pdf_variant="pdf/a-3b",
            attachments=attachments,
            uncompressed_pdf=False,
        )
    except FatalURLFetchingError as exc:  # a BaseException: would pass `except Exception`
        raise ExternalResourceRefused(str(exc)) from None
    assert pdf is not None  # no target given: the bytes are returned
    return pdf


def seal_reason(evidence: ConsentEvidence) -> str:
    """The reason a PDF reader shows beside the seal, in the signer's language."""
    with force_locale(evidence.document.language):
        return gettext(
            "Sealed copy of the signed consent: %(title)s, version %(version)s",
            title=evidence.document.title,
            version=evidence.document.version,
        )


def render_pdf(evidence: ConsentEvidence) -> bytes:
    """The unsealed copy: PDF/A-3b with `evidence.json` attached. Call inside an app context."""
    return html_to_pdfa(render_html(evidence), evidence_json(evidence))
