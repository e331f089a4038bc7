"""The authors' reference lists every error code the library can report."""

from __future__ import annotations

from pathlib import Path

import forms_dsl  # noqa: F401  (imports every stage, so every code is registered)
from forms_dsl.errors import ErrorCode, reference

DOC = Path(__file__).resolve().parents[2] / "docs" / "forms-dsl.md"


def test_every_error_code_is_documented_with_its_message():
    text = DOC.read_text()
    missing = [line for line in reference().splitlines() if line not in text]
    assert missing == [], "regenerate the table in docs/forms-dsl.md §9 from errors.reference()"


def test_codes_are_unique_and_have_fix_hints():
    codes = ErrorCode.all()
    assert len(codes) >= 40
    assert all(code.fix for code in codes)
