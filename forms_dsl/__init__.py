"""The YAML case-report-form language: a pure library (standard library + PyYAML only).

Stages, one module each: `source` (YAML → located nodes) → `build` and `study` (checks, frozen
`model`, with the shared checks in `reader`) → `engine` (values, relevance, calculations, edit
checks), the `decision` package (decision tables: model, build, engine) and `diff` (form
versions). `importers` is where other formats (REDCap, XLSForm) come in through the same builder.
Bad input raises `FormsDslError`, which lists every problem found.
"""

from forms_dsl.decision import Decision, DecisionTable, Wording, decide, wording
from forms_dsl.diff import FieldChange, FormDiff, diff
from forms_dsl.engine import Evaluation, Issue, evaluate
from forms_dsl.errors import DslError, ErrorCode, FormsDslError, Location
from forms_dsl.model import Event, Field, FieldType, Form, Study
from forms_dsl.study import LoadResult, load_form_text, load_study

__all__ = [
    "Decision",
    "DecisionTable",
    "DslError",
    "ErrorCode",
    "Evaluation",
    "Event",
    "Field",
    "FieldChange",
    "FieldType",
    "Form",
    "FormDiff",
    "FormsDslError",
    "Issue",
    "LoadResult",
    "Location",
    "Study",
    "Wording",
    "decide",
    "diff",
    "evaluate",
    "load_form_text",
    "load_study",
    "wording",
]
