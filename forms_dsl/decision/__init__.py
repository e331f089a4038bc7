"""Decision tables: first-class, explainable decision support (e.g. the INRG risk group).

A table maps a few of a form's fields (its inputs) to outputs, row by row. Rows never overlap
and together cover every combination of input values (both checked at load time), so row order
carries no meaning and every complete case has exactly one answer. Blank inputs are never given
a default: a case is classified only when a row matches outright, otherwise the decision names
exactly the blank inputs that would settle it. The package holds the frozen model
(`model`), the loader that checks a table (`build`) and the evaluator (`engine`); the names
below are its public API.

YAML shape (one entry of a form's `decision_tables:`):

    inrg_risk:
      title: {en: INRG pretreatment risk group, fr: …}
      source: Cohn SL et al. J Clin Oncol 2009;27:289-297     # optional citation
      inputs: [inrg_stage, age_months, mycn]
      outputs:
        group: {en: Pretreatment group, fr: …}                # label only
        risk:                                                  # label and allowed values
          label: {en: Risk, fr: …}
          values: {low: {en: low, fr: faible}, high: {en: high, fr: élevé}}
      flags:
        review: {en: "Expert review needed", fr: …}
      rows:
        - id: D
          when: {inrg_stage: L2, age_months: "<18", mycn: [not_amplified, gain]}
          then: {group: D, risk: low}
          flags: [review]                                      # optional
        - id: hetero
          when: {mycn: heterogeneous}
          not_classifiable: review                             # the flag says why

Conditions: a value (equals), a list (one of), `any` or omitted (any value, blank included), and
for numbers `"<18"`, `"<=1"`, `">1"`, `">=18"`, `"12..<18"` (lower bound included, upper not) and
`"12..18"` (both included). Yes/no inputs take `yes`/`no` (or `true`/`false`).
"""

from forms_dsl.decision.build import ONE_TABLE, build_tables, load_table_yaml
from forms_dsl.decision.engine import Decision, Wording, decide, wording
from forms_dsl.decision.model import (
    Condition,
    DecisionTable,
    Flag,
    InputSpec,
    Interval,
    OutputSpec,
    Row,
)

__all__ = [
    "ONE_TABLE",
    "Condition",
    "Decision",
    "DecisionTable",
    "Flag",
    "InputSpec",
    "Interval",
    "OutputSpec",
    "Row",
    "Wording",
    "build_tables",
    "decide",
    "load_table_yaml",
    "wording",
]
