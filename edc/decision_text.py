"""Decision support in plain words: a decision table's answer as a clinician reads it.

The same wording on the form that feeds a table and on the subject page: the outputs by their
labels ("Risk: high"), then what the answer rests on, by the form's labels and answers ("INRG
stage: M, Age at diagnosis: 31 months"), never row ids, codes or the engine's own notation.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, cast

from babel.numbers import format_decimal

import forms_dsl
from edc.i18n import _, ngettext
from forms_dsl.model import Field
from forms_dsl.types import Value

if TYPE_CHECKING:
    from edc.services.casebook import DecisionView


@dataclass(frozen=True)
class DecisionText:
    title: str
    result: str  # "Risk: high · Pretreatment group: P"; empty when not classifiable
    basis: str  # what it rests on, by labels and answers
    classifiable: bool
    missing: tuple[str, ...] = ()  # the questions still to answer, by their labels
    notes: tuple[str, ...] = ()  # the table's own remarks (expert review needed, …)
    masked: bool = False  # it rests on identifying answers the reader may not see


def amount(value: object, unit: str) -> str:
    """A number with its unit, in the reader's language where the unit is one of time."""
    if isinstance(value, int | Decimal) and value == int(value):
        n = int(value)
        words = {
            "days": lambda: ngettext("%(num)d day", "%(num)d days", n),
            "weeks": lambda: ngettext("%(num)d week", "%(num)d weeks", n),
            "months": lambda: ngettext("%(num)d month", "%(num)d months", n),
            "years": lambda: ngettext("%(num)d year", "%(num)d years", n),
        }
        if unit in words:
            return words[unit]()
    return f"{value} {unit}".strip()


def _answer(f: Field | None, value: object, words: forms_dsl.Wording, lang: str) -> str:
    if value is None:
        return "–"
    if f is not None and f.unit and isinstance(value, int | Decimal):
        return amount(value, f.unit)
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return format_decimal(value, locale=lang)  # 1,5 in French
    if isinstance(value, frozenset):
        return ", ".join(sorted(words.value(f.id if f else "", str(v)) for v in value))
    return words.value(f.id if f else "", cast(Value, value))


def decision_text(
    form: forms_dsl.Form,
    table: forms_dsl.DecisionTable,
    values: Mapping[str, object],
    lang: str,
    *,
    hidden: Collection[str] = (),
) -> DecisionText:
    """The table's answer for `values` (the form's typed answers) in plain words; when it
    rests on answers of `hidden` (identifier items the reader may not see), only that."""
    title = table.title.get(lang)
    if any(i.id in hidden and values.get(i.id) is not None for i in table.inputs):
        return DecisionText(title, "", "", False, masked=True)
    words = forms_dsl.wording(form, lang)
    decision = forms_dsl.decide(table, cast(Mapping[str, Value], values), lang, words)
    notes = tuple(table.flag_text(f, lang) for f in decision.flags)
    if not decision.classifiable:
        missing = tuple(
            form.fields[m].label.get(lang) if m in form.fields else m for m in decision.missing
        )
        return DecisionText(title, "", "", False, missing, notes)
    result = " · ".join(
        _labelled(spec.label.get(lang), spec.value_label(decision.outputs[spec.id], lang))
        for spec in table.outputs
        if spec.id in decision.outputs
    )
    return DecisionText(
        title, result, _basis_of(form, table, decision.row, values, words, lang), True, (), notes
    )


def _basis_of(
    form: forms_dsl.Form,
    table: forms_dsl.DecisionTable,
    row_id: str | None,
    values: Mapping[str, object],
    words: forms_dsl.Wording,
    lang: str,
) -> str:
    """What a classified case rests on: the matched row's questions and their answers."""
    row = next((r for r in table.rows if r.id == row_id), None)
    if row is None:
        return ""
    parts = []
    for c in row.conditions:
        f = form.fields.get(c.input)
        parts.append(_labelled(words.name(c.input), _answer(f, values.get(c.input), words, lang)))
    return ", ".join(parts)


def _labelled(label: str, value: str) -> str:
    # i18n: a label and its value, as in "Risk: high" (French puts a space before the colon).
    return _("%(label)s: %(value)s", label=label, value=value)


def of_view(view: DecisionView, lang: str) -> DecisionText:
    """A subject page's decision (computed from a saved record) in the same words."""
    title = view.table.title.get(lang)
    if view.masked or view.form is None:
        return DecisionText(title, "", "", False, masked=view.masked)
    return decision_text(view.form, view.table, view.values, lang)
