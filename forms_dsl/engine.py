"""Evaluate a form on what a browser posted: typed values, relevance, calculations, edit checks.

One evaluator for everything (no logic duplicated in JavaScript): the web layer calls it on every
htmx change and on save. Hidden fields are dropped, calculated fields are computed (never read
from the input), unknown keys are ignored and reported.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from forms_dsl import dates
from forms_dsl import expr as ex
from forms_dsl.expr.values import ORDER
from forms_dsl.messages import render
from forms_dsl.model import Field, FieldType, Form, Severity
from forms_dsl.types import Value
from forms_dsl.values import BadValue, parse_input

RawValue = str | Sequence[str]  # one posted key: a text, or the texts of a multichoice
Raw = Mapping[str, RawValue]
#: `group-<row id>-field`: a row's id is its identity for life (never its position), so that
#: removing a row changes no other row's answers, history or messages.
ROW_KEY = re.compile(r"(?P<group>[a-z][a-z0-9_]*)-(?P<index>[0-9]{1,6})-(?P<field>[a-z][a-z0-9_]*)")
#: The largest row id a key may carry (six digits): ids are never reused, so they only grow.
MAX_ROW_ID = 999_999


@dataclass(frozen=True)
class Issue:
    """One problem with one answer; `row` is the repeat row's id (see ROW_KEY) or None."""

    field: str
    severity: Severity
    kind: str  # "required", "integer", …, or the id of the author's check
    message: str
    row: int | None = None


@dataclass
class Evaluation:
    values: dict[str, Value] = field(default_factory=dict)
    rows: dict[str, list[dict[str, Value]]] = field(default_factory=dict)
    #: The id of each row of `rows` (same order: ascending ids, the order rows were added in).
    row_ids: dict[str, list[int]] = field(default_factory=dict)
    shown: set[str] = field(default_factory=set)
    shown_in_rows: dict[str, list[set[str]]] = field(default_factory=dict)
    errors: list[Issue] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)
    unknown_keys: list[str] = field(default_factory=list)
    required: set[tuple[str, int | None]] = field(default_factory=set)  # (field, row) now

    @property
    def ok(self) -> bool:
        return not self.errors

    def issues_for(self, field_id: str, row: int | None = None) -> list[Issue]:
        return [i for i in (*self.errors, *self.warnings) if i.field == field_id and i.row == row]


def _split(
    form: Form, raw: Raw, ignore: Collection[str]
) -> tuple[dict[str, RawValue], dict[str, dict[int, dict[str, RawValue]]], list[str]]:
    fields = form.fields
    top: dict[str, RawValue] = {}
    groups: dict[str, dict[int, dict[str, RawValue]]] = {}
    unknown: list[str] = []
    for key, value in raw.items():
        f = fields.get(key)
        if f is not None and f.repeat is None:
            top[key] = value
            continue
        match = ROW_KEY.fullmatch(key)
        if match:
            f = fields.get(match["field"])
            if f is not None and f.repeat == match["group"]:
                rows = groups.setdefault(match["group"], {})
                rows.setdefault(int(match["index"]), {})[f.id] = value
                continue
        if key not in ignore:
            unknown.append(key)
    return top, groups, unknown


class _Run:
    """State of one evaluation."""

    def __init__(
        self,
        form: Form,
        context: Mapping[str, Value],
        lang: str,
        today: dt.date,
        now: dt.datetime | None,
    ) -> None:
        self.form = form
        self.context = dict(context)
        self.lang = lang
        self.today = today
        self.now = now
        self.result = Evaluation()
        self.groups = {f.id: f.repeat for f in form if f.repeat is not None}

    def merged(self) -> dict[str, Value]:
        """The context and the answers as expressions read them (answers win)."""
        return {**self.context, **self.result.values}

    def scope(
        self,
        group: str | None = None,
        row: Mapping[str, Value] | None = None,
        values: Mapping[str, Value] | None = None,
    ) -> ex.Scope:
        """Where an expression is evaluated; a pass that reads many shares one `merged()`."""
        return ex.Scope(
            values=self.merged() if values is None else values,
            rows=self.result.rows,
            row_group=group,
            row=row,
            groups=self.groups,
            today=self.today,
            now=self.now,
        )

    def issue(self, f: Field, kind: str, message: str, row: int | None, sev: Severity) -> None:
        target = self.result.errors if sev is Severity.ERROR else self.result.warnings
        target.append(Issue(f.id, sev, kind, message, row))

    def typed(self, f: Field, raw: RawValue | None, row: int | None) -> Value:
        try:
            return parse_input(raw, f, self.lang)
        except BadValue as bad:
            params = {"places": f.decimals} if bad.kind == "decimals" else bad.params
            self.issue(f, bad.kind, render(bad.kind, self.lang, **params), row, Severity.ERROR)
            self.bad.add((f.id, row))
            return None

    bad: set[tuple[str, int | None]]


def evaluate(
    form: Form,
    raw: Raw,
    *,
    context: Mapping[str, Value] | None = None,
    lang: str = "en",
    today: dt.date | None = None,
    now: dt.datetime | None = None,
    ignore: Collection[str] = (),
    rows: Mapping[str, Collection[int]] | None = None,
) -> Evaluation:
    """Everything the page and the save need from one posted form.

    `today` and `now` are the date and the time (naive, to the minute) where the data are
    entered; `now` alone sets both. `ignore` names posted keys that are not answers (e.g. the web
    layer's CSRF token). `rows` names row ids of repeating sections that exist even where no
    answer of theirs was posted (a row of unticked radio buttons posts nothing).
    """
    if now is not None:
        now = now.replace(second=0, microsecond=0, tzinfo=None)
        today = today or now.date()
    run = _Run(form, context or {}, lang, today or dt.date.today(), now)
    run.bad = set()
    top, groups, unknown = _split(form, raw, ignore)
    run.result.unknown_keys = sorted(unknown)
    inputs: dict[str, Value] = {}
    for f in form:
        if f.repeat is None and f.stores_value and f.type is not FieldType.CALC:
            inputs[f.id] = run.typed(f, top.get(f.id), None) if f.id in top else None
    row_inputs = _row_inputs(run, groups, rows or {})
    _settle(run, inputs, row_inputs)
    _drop_hidden(run)
    _validate(run)
    return run.result


def _row_inputs(
    run: _Run,
    groups: Mapping[str, Mapping[int, Mapping[str, RawValue]]],
    rows: Mapping[str, Collection[int]],
) -> dict[str, list[dict[str, Value]]]:
    """Each repeating section's rows, typed: posted rows plus those named in `rows`."""
    row_inputs: dict[str, list[dict[str, Value]]] = {}
    for section in run.form.sections:
        if section.repeat is None:
            continue
        posted = groups.get(section.id, {})
        ids = sorted(set(posted) | {i for i in rows.get(section.id, ()) if i >= 0})
        group_rows = []
        for row_id in ids:
            row_raw = posted.get(row_id, {})
            row: dict[str, Value] = {}
            for f in section.fields:
                if f.stores_value and f.type is not FieldType.CALC:
                    row[f.id] = run.typed(f, row_raw.get(f.id), row_id) if f.id in row_raw else None
            group_rows.append(row)
        row_inputs[section.id] = group_rows
        run.result.row_ids[section.id] = ids
    return row_inputs


def _settle(
    run: _Run, inputs: dict[str, Value], row_inputs: dict[str, list[dict[str, Value]]]
) -> None:
    """Relevance and calculations feed each other: iterate to a fixed point (bounded)."""
    res = run.result
    previous: tuple[object, ...] | None = None
    for _ in range(len(run.form.fields) + 2):
        res.values = dict(inputs)
        res.rows = {g: [dict(r) for r in group] for g, group in row_inputs.items()}
        _calculate(run)
        _relevance(run)
        state = (
            frozenset(res.shown),
            tuple(tuple(map(frozenset, v)) for v in res.shown_in_rows.values()),
        )
        if state == previous:
            break
        previous = state
        inputs = {k: (v if k in res.shown else None) for k, v in inputs.items()}
        for g, group in row_inputs.items():
            shown_rows = res.shown_in_rows.get(g, [])
            for i, row in enumerate(group):
                visible = shown_rows[i] if i < len(shown_rows) else set()
                for k in row:
                    if k not in visible:
                        row[k] = None


def _calculate(run: _Run) -> None:
    res = run.result
    fields = run.form.fields
    values = run.merged()  # kept current below: each calculation sees the ones before it
    top = run.scope(values=values)
    for fid in run.form.calc_order:
        f = fields[fid]
        calc = f.calc
        if calc is None:  # pragma: no cover - calc_order lists only fields with a calculation
            continue
        if f.repeat is None:
            res.values[fid] = values[fid] = _round(f, ex.evaluate(calc, top))
        else:
            for row in res.rows.get(f.repeat, []):
                scope = run.scope(f.repeat, row, values)
                row[fid] = _round(f, ex.evaluate(calc, scope))


def _round(f: Field, value: Value) -> Value:
    if f.decimals is not None and isinstance(value, int | Decimal) and not isinstance(value, bool):
        return Decimal(value).quantize(Decimal(1).scaleb(-f.decimals), rounding=ROUND_HALF_UP)
    return value


def _truthy(value: Value) -> bool:
    return value is True


def _relevance(run: _Run) -> None:
    res = run.result
    res.shown = set()
    res.shown_in_rows = {}
    values = run.merged()  # relevance changes no value: one scope for the whole pass
    top = run.scope(values=values)
    for section in run.form.sections:
        section_shown = section.show_if is None or _truthy(ex.evaluate(section.show_if, top))
        if section.repeat is None:
            for f in section.fields:
                if section_shown and (f.show_if is None or _truthy(ex.evaluate(f.show_if, top))):
                    res.shown.add(f.id)
            continue
        visible_rows = []
        for row in res.rows.get(section.id, []):
            visible = set()
            if section_shown:
                scope = run.scope(section.id, row, values)
                for f in section.fields:
                    if f.show_if is None or _truthy(ex.evaluate(f.show_if, scope)):
                        visible.add(f.id)
            visible_rows.append(visible)
        res.shown_in_rows[section.id] = visible_rows
        if section_shown:
            res.shown.add(section.id)


def _drop_hidden(run: _Run) -> None:
    res = run.result
    fields = run.form.fields
    res.values = {k: v for k, v in res.values.items() if k in res.shown and fields[k].stores_value}
    for group, rows in res.rows.items():
        visible = res.shown_in_rows.get(group, [])
        res.rows[group] = [
            {k: v for k, v in row.items() if k in visible[i]} for i, row in enumerate(rows)
        ]
        if group not in res.shown:
            res.rows[group] = []
            res.row_ids[group] = []


def _validate(run: _Run) -> None:
    res = run.result
    values = run.merged()  # checks change no value: one scope for the whole pass
    top = run.scope(values=values)
    for section in run.form.sections:
        if section.repeat is None:
            for f in section.fields:
                if f.id in res.shown:
                    _validate_field(run, f, res.values.get(f.id), None, top)
            continue
        if section.id not in res.shown:
            continue
        rows = res.rows.get(section.id, [])
        anchor = section.fields[0]
        if len(rows) > section.repeat.max:
            run.issue(
                anchor,
                "too_many_rows",
                render("too_many_rows", run.lang, section.repeat.max, max=section.repeat.max),
                None,
                Severity.ERROR,
            )
        if len(rows) < section.repeat.min:
            run.issue(
                anchor,
                "too_few_rows",
                render("too_few_rows", run.lang, section.repeat.min, min=section.repeat.min),
                None,
                Severity.ERROR,
            )
        ids = res.row_ids.get(section.id, [])
        for i, row in enumerate(rows):
            scope = run.scope(section.id, row, values)
            for f in section.fields:
                if f.id in res.shown_in_rows[section.id][i]:
                    _validate_field(run, f, row.get(f.id), ids[i], scope)


def _validate_field(run: _Run, f: Field, value: Value, row: int | None, scope: ex.Scope) -> None:
    if (f.id, row) in run.bad or not f.stores_value:
        return
    lang = run.lang
    required = f.required or (
        f.required_if is not None and _truthy(ex.evaluate(f.required_if, scope))
    )
    if required:
        run.result.required.add((f.id, row))
    if value is None:
        if required:
            run.issue(f, "required", render("required", lang), row, Severity.ERROR)
    else:
        if isinstance(value, str) and f.max_length is not None and len(value) > f.max_length:
            run.issue(
                f, "too_long", render("too_long", lang, max=f.max_length), row, Severity.ERROR
            )
        if isinstance(value, str) and f.pattern is not None and not f.pattern.fullmatch(value):
            message = f.pattern_message.get(lang) if f.pattern_message else render("pattern", lang)
            run.issue(f, "pattern", message, row, Severity.ERROR)
        for key, message in (("min", "below_min"), ("max", "above_max")):
            bound = getattr(f, key)
            if bound is None:
                continue
            limit = bound.value if bound.expr is None else ex.evaluate(bound.expr, scope)
            if limit is None or not _comparable(value, limit):
                continue
            if (key == "min" and ORDER["<"](value, limit)) or (
                key == "max" and ORDER[">"](value, limit)
            ):
                shown = render(message, lang, limit=_show(limit, lang))
                run.issue(f, key, shown, row, Severity.ERROR)
    for check in f.checks:
        if _truthy(ex.evaluate(check.when, scope)):
            run.issue(f, check.id, check.message.get(lang), row, check.severity)


def _comparable(a: Value, b: Value) -> bool:
    numbers = (int, Decimal)
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    if isinstance(a, numbers) and isinstance(b, numbers):
        return True
    if isinstance(a, dt.datetime) or isinstance(b, dt.datetime):
        return isinstance(a, dt.datetime) and isinstance(b, dt.datetime)
    return type(a) is type(b)


def _show(value: Value, lang: str) -> str:
    """A limit in a message, dates as the reader writes them."""
    if isinstance(value, dt.datetime):
        return dates.format_datetime(value, lang)
    if isinstance(value, dt.date):
        return dates.format_date(value, lang)
    if isinstance(value, dt.time):
        return value.isoformat()
    return str(value)
