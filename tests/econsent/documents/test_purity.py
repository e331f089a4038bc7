"""econsent.documents is a pure library: the kiosk, the checker and tools load it without Flask,
the database or the application."""

from __future__ import annotations

import json
import subprocess
import sys

from edc.settings import ROOT

FORBIDDEN = ("flask", "sqlalchemy", "wtforms", "flask_babel", "babel", "edc", "app")


def test_importing_the_library_loads_no_framework():
    code = (
        "import json, pkgutil, importlib, sys, econsent.documents as d\n"
        "for m in pkgutil.walk_packages(d.__path__, 'econsent.documents.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = json.loads(done.stdout)
    assert "markdown_it" in loaded
    assert [m for m in loaded if m.split(".")[0] in FORBIDDEN] == []


def test_the_linter_bans_framework_imports():
    probe = ROOT / "econsent" / "documents" / "_lint_probe.py"
    probe.write_text('"""Probe."""\n\nimport flask  # noqa: F401\n')
    try:
        done = subprocess.run(
            [sys.executable, "-m", "ruff", "check", "--no-cache", str(probe)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    finally:
        probe.unlink()
    assert done.returncode != 0
    assert "TID251" in done.stdout
