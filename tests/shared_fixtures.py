"""The public test files beside the project (`../shared/fixtures`: official FHIR examples and
StructureDefinitions, ODM files, REDCap dictionaries, XLSForms, with their licences). Tests read
them there, never copies. CI always has the folder; a clone without it skips just the tests that
need it, saying so, and those skips are the only ones CI allows (tests/conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: EDC_SHARED_FIXTURES overrides where the folder is.
SHARED = Path(os.environ.get("EDC_SHARED_FIXTURES") or ROOT.parent / "shared" / "fixtures")
#: Every skip for a missing shared file starts with this (the only skip CI allows).
REASON = "shared test files not found"


def shared(*parts: str) -> Path:
    return SHARED.joinpath(*parts)


def needs(*parts: str) -> pytest.MarkDecorator:
    """Skip the test, saying why, when the shared file or folder it reads is missing."""
    path = shared(*parts)
    return pytest.mark.skipif(not path.exists(), reason=f"{REASON}: {path} (EDC_SHARED_FIXTURES)")
