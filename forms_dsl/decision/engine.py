"""The evaluator: a checked table applied to one case, with an explanation a reader can follow.

Blank inputs are never given a default: a case is classified only when a row matches outright,
otherwise the decision names exactly the blank inputs that would settle it. Explanations use the
table's ids and codes, or (with `wording()`) a form's labels in the reader's language.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from forms_dsl.decision.model import (
    CodeValue,
    Condition,
    DecisionTable,
    Row,
    is_blank,
    normalise,
    show,
)
from forms_dsl.types import Value, VType

if TYPE_CHECKING:
    from forms_dsl.model import Form


# The evaluator's own words, in the portal's languages (unknown languages fall back to English).
PHRASES: dict[str, dict[str, str]] = {
    "one_of": {"en": "one of", "fr": "parmi", "de": "eines von", "it": "uno tra", "es": "uno de"},
    "result": {lang: "→ {outputs}" for lang in ("en", "fr", "de", "it", "es")},
    "not_classifiable": {
        "en": "→ Not classifiable: {reason}",
        "fr": "→ Non classable : {reason}",
        "de": "→ Nicht klassifizierbar: {reason}",
        "it": "→ Non classificabile: {reason}",
        "es": "→ No clasificable: {reason}",
    },
    "missing": {
        "en": "missing {names}",
        "fr": "il manque {names}",
        "de": "es fehlt {names}",
        "it": "manca {names}",
        "es": "falta {names}",
    },
    "invalid": {
        "en": "not a valid value",
        "fr": "valeur non valide",
        "de": "kein gültiger Wert",
        "it": "valore non valido",
        "es": "valor no válido",
    },
    "invalid_inputs": {
        "en": "invalid value of {names}",
        "fr": "valeur non valide pour {names}",
        "de": "ungültiger Wert für {names}",
        "it": "valore non valido per {names}",
        "es": "valor no válido para {names}",
    },
    "uncovered": {
        "en": "no row of the table covers these values",
        "fr": "aucune ligne de la table ne couvre ces valeurs",
        "de": "keine Zeile der Tabelle deckt diese Werte ab",
        "it": "nessuna riga della tabella copre questi valori",
        "es": "ninguna fila de la tabla cubre estos valores",
    },
    "separator": {"en": ": ", "fr": " : ", "de": ": ", "it": ": ", "es": ": "},
    "yes": {"en": "yes", "fr": "oui", "de": "ja", "it": "sì", "es": "sí"},
    "no": {"en": "no", "fr": "non", "de": "nein", "it": "no", "es": "no"},
}


def phrase(key: str, lang: str, **params: str) -> str:
    table = PHRASES[key]
    return (table.get(lang) or table["en"]).format(**params)


@dataclass(frozen=True)
class Decision:
    """The answer of a table for one case, with the reasons a reader needs to trust it.

    `classifiable` is True only when a classifying row matched; `outputs` is then filled. When a
    row matched that says the case cannot be classified, `row` names it and `flags` starts with
    its reason. When no row matched, `missing` names the blank inputs that would settle it and
    `invalid` the inputs whose value is not allowed.
    """

    table: str
    classifiable: bool
    outputs: dict[str, str]
    row: str | None
    flags: tuple[str, ...]
    missing: tuple[str, ...]
    explanation: tuple[str, ...]
    invalid: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        """One word for the outcome, for screens and exports.

        `classified`; `not_classifiable` (a row says why); `invalid`; `incomplete` (blank inputs
        named in `missing`); `uncovered` (only for a table that failed its checks).
        """
        if self.classifiable:
            return "classified"
        if self.row is not None:
            return "not_classifiable"
        if self.invalid:
            return "invalid"
        if self.missing:
            return "incomplete"
        return "uncovered"


@dataclass(frozen=True)
class Wording:
    """How explanations name a table's inputs and codes: by default as written in the table
    (ids and codes, for authors); `wording()` gives a form's labels in a reader's language."""

    names: Mapping[str, str] = field(default_factory=dict)
    codes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def name(self, input_id: str) -> str:
        return self.names.get(input_id, input_id)

    def value(self, input_id: str, value: CodeValue | Decimal | Value) -> str:
        if isinstance(value, str | bool):
            return self.codes.get(input_id, {}).get(show(value), show(value))
        return show(value)


AS_WRITTEN = Wording()


def wording(form: Form, lang: str) -> Wording:
    """The form's field labels and choice labels in `lang`, for explanations readers follow."""
    names, codes = {}, {}
    for f in form:
        names[f.id] = f.label.get(lang)
        if f.choices is not None:
            codes[f.id] = {c.code: c.label.get(lang) for c in f.choices.choices}
        elif f.vtype is VType.BOOL:
            codes[f.id] = {"yes": phrase("yes", lang), "no": phrase("no", lang)}
    return Wording(names, codes)


def _explain_condition(
    c: Condition, value: CodeValue | Decimal | None, lang: str, words: Wording
) -> str:
    head = f"{words.name(c.input)} = {words.value(c.input, value)}"
    if c.kind == "list":
        listed = ", ".join(words.value(c.input, code) for code in c.text.split(", "))
        return f"{head} ({phrase('one_of', lang)} {listed})"
    if c.kind == "range":
        return f"{head} ({c.text})"
    return head


def decide(
    table: DecisionTable,
    values: Mapping[str, Value],
    lang: str = "en",
    words: Wording = AS_WRITTEN,
) -> Decision:
    """Apply the table to one case. Never raises: wrong values are reported, not trusted."""
    seen, invalid = _read_inputs(table, values)
    matched, waiting = _match(table, seen, set(invalid))
    if matched:
        # a checked table has no overlaps: at most one row matches
        return _matched(table, matched[0], seen, tuple(invalid), lang, words)
    return _unmatched(table, values, seen, waiting, invalid, lang, words)


def _read_inputs(
    table: DecisionTable, values: Mapping[str, Value]
) -> tuple[dict[str, CodeValue | Decimal | None], list[str]]:
    """Each input's value normalised (None when blank), and the inputs whose value is invalid."""
    seen: dict[str, CodeValue | Decimal | None] = {}
    invalid: list[str] = []
    for spec in table.inputs:
        raw = values.get(spec.id)
        if is_blank(raw):
            seen[spec.id] = None
            continue
        seen[spec.id] = normalise(spec, raw)
        if seen[spec.id] is None:
            invalid.append(spec.id)
    return seen, invalid


def _match(
    table: DecisionTable, seen: Mapping[str, CodeValue | Decimal | None], bad: set[str]
) -> tuple[list[Row], list[Row]]:
    """The rows that match, and those still possible (they fail only on blank inputs)."""
    matched: list[Row] = []
    waiting: list[Row] = []
    for row in table.rows:
        state = "match"
        for c in row.conditions:
            value = seen.get(c.input)
            if c.input in bad:
                state = "fail"
                break
            if value is None:
                state = "wait"
            elif not c.accepts(value):
                state = "fail"
                break
        if state == "match":
            matched.append(row)
        elif state == "wait":
            waiting.append(row)
    return matched, waiting


def _matched(
    table: DecisionTable,
    row: Row,
    seen: Mapping[str, CodeValue | Decimal | None],
    invalid: tuple[str, ...],
    lang: str,
    words: Wording,
) -> Decision:
    lines = [_explain_condition(c, seen[c.input], lang, words) for c in row.conditions]
    if row.not_classifiable is not None:
        reason = table.flag_text(row.not_classifiable, lang)
        lines.append(phrase("not_classifiable", lang, reason=reason))
        lines += [f"⚠ {table.flag_text(f, lang)}" for f in row.flags]
        flags = (row.not_classifiable, *(f for f in row.flags if f != row.not_classifiable))
        return Decision(table.id, False, {}, row.id, flags, (), tuple(lines), invalid)
    outputs = dict(row.then)
    sep = phrase("separator", lang)
    shown = ", ".join(
        f"{spec.label.get(lang)}{sep}{spec.value_label(outputs[spec.id], lang)}"
        for spec in table.outputs
        if spec.id in outputs
    )
    lines.append(phrase("result", lang, outputs=shown))
    lines += [f"⚠ {table.flag_text(f, lang)}" for f in row.flags]
    return Decision(table.id, True, outputs, row.id, row.flags, (), tuple(lines), invalid)


def _unmatched(
    table: DecisionTable,
    values: Mapping[str, Value],
    seen: Mapping[str, CodeValue | Decimal | None],
    waiting: Sequence[Row],
    invalid: list[str],
    lang: str,
    words: Wording,
) -> Decision:
    """No row matched: name the invalid inputs, and the blank ones that would settle it."""
    bad = set(invalid)
    needed = {c.input for row in waiting for c in row.conditions if seen.get(c.input) is None}
    missing = tuple(spec.id for spec in table.inputs if spec.id in needed and spec.id not in bad)
    sep = phrase("separator", lang)
    lines = [
        f"{words.name(name)} = {show(values.get(name))}{sep}{phrase('invalid', lang)}"
        for name in invalid
    ]
    reasons = []
    if invalid:
        names = ", ".join(words.name(name) for name in invalid)
        reasons.append(phrase("invalid_inputs", lang, names=names))
    if missing:
        reasons.append(phrase("missing", lang, names=", ".join(words.name(m) for m in missing)))
    if not reasons:
        reasons.append(phrase("uncovered", lang))
    lines.append(phrase("not_classifiable", lang, reason="; ".join(reasons)))
    return Decision(table.id, False, {}, None, (), missing, tuple(lines), tuple(invalid))
