"""The pure libraries (forms_dsl, econsent.documents): importing all of one loads no web
framework, ORM or application code, and the linter refuses such an import in them. The kiosk,
the checker and tools load them alone."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from edc.settings import ROOT

FRAMEWORKS = ("flask", "sqlalchemy", "wtforms", "flask_babel", "babel", "edc", "app")
LIBRARIES = [
    # (package, folder, what else it may not load, what it must load to be the real thing)
    ("forms_dsl", "forms_dsl", ("econsent",), "yaml"),
    ("econsent.documents", "econsent/documents", (), "markdown_it"),
]


@pytest.mark.parametrize(("package", "_folder", "also", "needed"), LIBRARIES)
def test_importing_the_library_loads_no_framework(package, _folder, also, needed):
    code = (
        f"import json, pkgutil, importlib, sys, {package} as lib\n"
        f"for m in pkgutil.walk_packages(lib.__path__, '{package}.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = json.loads(done.stdout)
    assert needed in loaded
    assert [m for m in loaded if m.split(".")[0] in (*FRAMEWORKS, *also)] == []


@pytest.mark.parametrize(("_package", "folder", "_also", "_needed"), LIBRARIES)
def test_the_linter_bans_framework_imports(_package, folder, _also, _needed):
    # The probe goes to ruff on standard input, named as a file of the library (ruff applies
    # that folder's ruff.toml): a file written into the source tree would be imported by the
    # test above, or seen by test_layering, if they ran at the same time in another worker.
    probe = ROOT / folder / "_lint_probe.py"
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--stdin-filename", str(probe), "-"],
        input='"""Probe."""\n\nimport flask  # noqa: F401\n',
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "TID251" in done.stdout
