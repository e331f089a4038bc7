"""The expression language of the forms DSL: show_if conditions, calculations and edit checks.

Text is parsed by our own lexer and parser into a tree of frozen dataclasses (never Python's
`eval`), checked statically against the form's fields, printed back canonically and interpreted
by a total evaluator. Stages: `lexer` → `parser` (→ `nodes`) → `checker`; `printer`;
`evaluate` (with `values`, `functions`, `repeats`); `limits` bounds them all.
"""

from __future__ import annotations

from forms_dsl.expr.checker import check
from forms_dsl.expr.evaluate import Scope, evaluate
from forms_dsl.expr.functions import FUNCTIONS, Function
from forms_dsl.expr.nodes import Expr, references
from forms_dsl.expr.parser import parse
from forms_dsl.expr.printer import to_text
from forms_dsl.expr.problems import ExprError, ExprProblem

__all__ = [
    "FUNCTIONS",
    "Expr",
    "ExprError",
    "ExprProblem",
    "Function",
    "Scope",
    "check",
    "evaluate",
    "parse",
    "references",
    "to_text",
]
