"""The authors' guide lists every consent error code with its message."""

from __future__ import annotations

import econsent.documents  # noqa: F401  (registers every consent code)
from edc.settings import ROOT
from forms_dsl.errors import ErrorCode, reference


def test_every_consent_error_code_is_documented():
    guide = (ROOT / "docs" / "consent-documents.md").read_text()
    authors = (ROOT / "docs" / "forms-dsl.md").read_text()
    rows = [line for line in reference().splitlines() if line.startswith("| E9")]
    assert len(rows) == len([c for c in ErrorCode.all() if c.id.startswith("E9")]) >= 29
    assert [r for r in rows if r not in guide] == []
    assert [r for r in rows if r not in authors] == []
