"""The layering rules, checked on the source so a change that breaks them fails here.

- Services (edc/services/) know nothing of Flask: no Flask/werkzeug import, no `abort`; they
  raise `edc.errors` and a view's error handler answers.
- Views (edc/views/) build no query and read no model: they parse, call a service, render.
- Permission sets are computed only in edc/access.py (`ROLE_PERMISSIONS` is read nowhere else).
- Form rendering (edc/forms_bridge.py) imports no service.
- No function is longer than 60 lines.
- A public service that works in the database takes the request context first: no public
  service function takes a bare `session` or `actor` (who acts, and their scope, travel in
  `ctx`), apart from the readers named below.

The allow-lists name today's exceptions, each with what removes it; shrink them, never grow them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB_PACKAGES = ("flask", "flask_login", "flask_babel", "flask_wtf", "werkzeug")
QUERY_CALLS = ("select", "execute", "scalars", "scalar", "query")
MAX_LINES = 60

#: Services still importing Flask or calling `abort` (module path relative to the root).
SERVICE_EXCEPTIONS: set[str] = set()
#: Views still building queries or reading models.
VIEW_EXCEPTIONS: set[str] = set()
#: Modules other than edc/access.py still reading `ROLE_PERMISSIONS`.
PERMISSION_EXCEPTIONS: set[str] = set()
#: Rendering modules (no service import) still importing one, with what they import.
RENDERING_EXCEPTIONS: dict[str, set[str]] = {}
#: Functions over the limit today ("module:function"), each removed when it is split.
LONG_FUNCTIONS: set[str] = set()
#: Public services taking a bare session, each with why it has no actor.
BARE_SESSION = {
    # The study's definitions (configuration, not clinical data), read by everybody alike,
    # by the loaders at the command line included.
    "edc/services/definitions.py:current_definition",
    "edc/services/definitions.py:current_form_version",
    "edc/services/definitions.py:form_versions",
    "edc/services/definitions.py:study_model",
    # Labels the audit events a caller already read within its own scope.
    "edc/services/event_text.py:rows",
    # Before anyone is signed in: it finds whose session a cookie resumes.
    "edc/services/auth.py:resume_session",
}


def _modules(folder: str) -> Iterator[tuple[str, ast.Module]]:
    for path in sorted((ROOT / folder).rglob("*.py")):
        yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(), str(path))


def _type_checking_only(tree: ast.AST) -> set[ast.AST]:
    """Imports under `if TYPE_CHECKING:`: names for annotations, never run."""
    return {
        inner
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")
        for stmt in node.body
        for inner in ast.walk(stmt)
    }


def _imports(tree: ast.AST) -> Iterator[str]:
    skipped = _type_checking_only(tree)
    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module


def _called(tree: ast.AST) -> Iterator[str]:
    """The names called: `f(...)` gives f, `a.b.f(...)` gives f."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name):
                yield node.func.id
            elif isinstance(node.func, ast.Attribute):
                yield node.func.attr


def _is_database_session(node: ast.expr) -> bool:
    """`db.session`, `ctx.session`, `db.session()`: not Flask's cookie `session`."""
    if isinstance(node, ast.Call):
        node = node.func
    return isinstance(node, ast.Attribute) and node.attr == "session"


def _session_gets(tree: ast.AST) -> Iterator[int]:
    """Lines of `<...>session.get(...)` (a model read by primary key)."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and _is_database_session(node.func.value)
        ):
            yield node.lineno


def _web_imports(tree: ast.AST) -> list[str]:
    return [m for m in _imports(tree) if m.split(".")[0] in WEB_PACKAGES]


def service_breaches(tree: ast.AST) -> list[str]:
    """What makes a service module depend on the web layer."""
    found = _web_imports(tree)
    found += ["abort()" for name in _called(tree) if name == "abort"]
    return found


def view_breaches(tree: ast.AST) -> list[str]:
    """What makes a view module read the database itself."""
    found = [f"{name}()" for name in _called(tree) if name in QUERY_CALLS]
    found += [f"session.get() line {line}" for line in _session_gets(tree)]
    found += [m for m in _imports(tree) if m == "edc.models" or m.startswith("edc.models.")]
    return found


def _names(tree: ast.AST) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, ast.Attribute):
            yield node.attr
        elif isinstance(node, ast.alias):
            yield node.name


def long_functions(name: str, tree: ast.AST) -> list[str]:
    return [
        f"{name}:{node.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (node.end_lineno or node.lineno) - node.lineno + 1 > MAX_LINES
    ]


def bare_sessions(name: str, tree: ast.Module) -> list[str]:
    """Public functions of a service module with a `session` or `actor` parameter."""
    return [
        f"{name}:{node.name}"
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and not node.name.startswith("_")
        and {"session", "actor"} & {a.arg for a in [*node.args.args, *node.args.kwonlyargs]}
    ]


#: Service and view packages the rules apply to (e-consent's are built the same way).
SERVICES = ("edc/services", "econsent/services")
VIEWS = ("edc/views", "econsent/views")


def test_services_take_the_context_first() -> None:
    found = {f for d in SERVICES for n, t in _modules(d) for f in bare_sessions(n, t)}
    assert found <= BARE_SESSION, "take `ctx: Context` first (session, actor, grants, clock)"
    assert found >= BARE_SESSION  # an entry that no longer breaks the rule is removed


@pytest.mark.parametrize(
    "source",
    [
        "def casebook(session, subject):\n    pass\n",
        "def change(ctx, subject, *, actor=None):\n    pass\n",
        "def may_enter(session: Session, actor: Actor, subject: Subject) -> bool:\n    pass\n",
    ],
)
def test_a_service_without_the_context_is_caught(source: str) -> None:
    assert bare_sessions("m.py", ast.parse(source))


def test_a_service_taking_the_context_passes() -> None:
    source = "def casebook(ctx, subject):\n    pass\ndef _rows(session, subject):\n    pass\n"
    assert bare_sessions("m.py", ast.parse(source)) == []


def test_services_know_nothing_of_the_web() -> None:
    breaches = {
        name: found
        for folder in SERVICES
        for name, tree in _modules(folder)
        if name not in SERVICE_EXCEPTIONS and (found := service_breaches(tree))
    }
    assert breaches == {}


def test_views_build_no_queries() -> None:
    breaches = {
        name: found
        for folder in VIEWS
        for name, tree in _modules(folder)
        if name not in VIEW_EXCEPTIONS and (found := view_breaches(tree))
    }
    assert breaches == {}


def test_permission_sets_only_in_access() -> None:
    readers = {
        name
        for name, tree in _modules("edc")
        if name != "edc/access.py" and "ROLE_PERMISSIONS" in set(_names(tree))
    }
    assert readers <= PERMISSION_EXCEPTIONS


def service_imports(tree: ast.AST) -> set[str]:
    """The services a module imports (`from edc.services import x` counts as edc.services.x)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "edc.services":
            found |= {f"edc.services.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("edc.services."):
            found.add(node.module or "")
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("edc.services.")}
    return found


def test_form_rendering_imports_no_service() -> None:
    tree = ast.parse((ROOT / "edc/forms_bridge.py").read_text())
    allowed = RENDERING_EXCEPTIONS.get("edc/forms_bridge.py", set())
    assert service_imports(tree) <= allowed


def test_no_long_functions() -> None:
    found = {
        f
        for folder in ("edc", "econsent", "forms_dsl")
        for n, t in _modules(folder)
        for f in long_functions(n, t)
    }
    assert found <= LONG_FUNCTIONS, "split these functions (at most 60 lines)"


def test_the_exceptions_still_exist() -> None:
    """An allow-list entry that no longer breaks a rule is removed, so it cannot hide a new one."""
    services = {n for n, t in _modules("edc/services") if service_breaches(t)}
    views = {n for n, t in _modules("edc/views") if view_breaches(t)}
    long = {
        f
        for folder in ("edc", "forms_dsl")
        for n, t in _modules(folder)
        for f in long_functions(n, t)
    }
    assert services >= SERVICE_EXCEPTIONS
    assert views >= VIEW_EXCEPTIONS
    assert long >= LONG_FUNCTIONS
    readers = {n for n, t in _modules("edc") if "ROLE_PERMISSIONS" in set(_names(t))}
    assert readers >= PERMISSION_EXCEPTIONS
    for name, allowed in RENDERING_EXCEPTIONS.items():
        assert service_imports(ast.parse((ROOT / name).read_text())) >= allowed


@pytest.mark.parametrize(
    "source",
    [
        "from flask import current_app\n",
        "import flask\n",
        "from flask_babel import get_locale\n",
        "from werkzeug.exceptions import NotFound\n",
        "from edc.errors import NotFound\ndef f():\n    abort(404)\n",
    ],
)
def test_a_web_import_in_a_service_is_caught(source: str) -> None:
    assert service_breaches(ast.parse(source))


@pytest.mark.parametrize(
    "source",
    [
        "rows = db.session.scalars(q)\n",
        "from sqlalchemy import select\nq = select(User)\n",
        "u = db.session.get(User, 1)\n",
        "from edc.models.users import User\n",
        "import edc.models.users\n",
        "n = db.session.execute(q)\n",
        "rows = db.session.query(User).all()\n",
    ],
)
def test_a_query_in_a_view_is_caught(source: str) -> None:
    assert view_breaches(ast.parse(source))


def test_a_model_named_only_for_annotations_is_allowed_in_a_view() -> None:
    source = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from edc.models import User\n"
    )
    assert view_breaches(ast.parse(source)) == []


@pytest.mark.parametrize(
    "source",
    [
        "from edc.services import casebook\n",
        "from edc.services.casebook import casebook\n",
        "def f():\n    from edc.services.data_entry import warning_key\n",
    ],
)
def test_a_service_imported_by_rendering_is_caught(source: str) -> None:
    assert service_imports(ast.parse(source))


def test_a_clean_view_passes() -> None:
    source = (
        "def v():\n    session.get('next')\n    return users.page(ctx, request.args.get('q'))\n"
    )
    assert view_breaches(ast.parse(source)) == []
