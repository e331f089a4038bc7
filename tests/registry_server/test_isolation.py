"""The registry and the portal share nothing but HTTP: no module of the registry imports the
portal's packages, and none of the portal's imports the registry (checked on the source), so
the payload contract (docs/registry-payload.md) cannot be bypassed by a shared helper."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PORTAL = ("edc", "econsent", "forms_dsl", "app")
REGISTRY = ("registry_server",)


def _imported(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, module) of every import, dynamic imports of a constant name included."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module
        elif (
            isinstance(node, ast.Call)
            and ast.unparse(node.func) in ("importlib.import_module", "import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def _offending(sources: list[Path], forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sources
        for line, module in _imported(ast.parse(path.read_text(), str(path)))
        if module.split(".")[0] in forbidden
    ]


def _python_files(*names: str) -> list[Path]:
    found = []
    for name in names:
        if (ROOT / f"{name}.py").is_file():
            found.append(ROOT / f"{name}.py")
        found += sorted((ROOT / name).rglob("*.py")) if (ROOT / name).is_dir() else []
    return found


def test_the_registry_imports_nothing_of_the_portal() -> None:
    sources = _python_files(*REGISTRY)

    assert len(sources) >= 5
    assert _offending(sources, PORTAL) == []


def test_the_portal_imports_nothing_of_the_registry() -> None:
    sources = _python_files(*PORTAL)

    assert len(sources) > 50
    assert _offending(sources, REGISTRY) == []


def test_the_scan_sees_every_kind_of_import() -> None:
    tree = ast.parse(
        "import edc.x\nfrom econsent import y\nimportlib.import_module('forms_dsl.z')\n"
        "from . import local\n"
    )

    assert [module for _, module in _imported(tree)] == ["edc.x", "econsent", "forms_dsl.z"]
