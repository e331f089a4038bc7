"""Consent documents and country rules: a pure library (forms_dsl helpers and markdown-it-py
only; no Flask, no database).

`load_consent(study_folder)` reads `<study>/consent/` (documents with dated, approved versions
and texts per language and reader; `rules.yaml`, who signs what per country) into a frozen
`ConsentLibrary`, or raises `FormsDslError` listing every located problem; `check_study` is the
same check as a list, for `flask forms check`. `render_text` / `render_pick` give what a signer
sees, as safe HTML, and `text_hash` the hash a signature stores."""

from econsent.documents.check import NoConsentFolder, check_study, load_consent
from econsent.documents.model import (
    AUDIENCES,
    OPTIONAL_ITEMS,
    PARENT_EXCEPTIONS,
    Approval,
    AssentBand,
    ConsentLibrary,
    CountryRule,
    Document,
    OptionalItem,
    Pick,
    Question,
    Reading,
    RuleTable,
    Section,
    Version,
    age_on,
)
from econsent.documents.render import RenderedText, render_pick, render_text, text_hash

__all__ = [
    "AUDIENCES",
    "OPTIONAL_ITEMS",
    "PARENT_EXCEPTIONS",
    "Approval",
    "AssentBand",
    "ConsentLibrary",
    "CountryRule",
    "Document",
    "NoConsentFolder",
    "OptionalItem",
    "Pick",
    "Question",
    "Reading",
    "RenderedText",
    "RuleTable",
    "Section",
    "Version",
    "age_on",
    "check_study",
    "load_consent",
    "render_pick",
    "render_text",
    "text_hash",
]
