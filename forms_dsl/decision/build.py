"""Decision tables from located YAML: every mistake is found at load time, never at data entry.

Besides the usual shape checks (keys, ids, codes, translations), a table is checked as a whole:
no two rows may match the same complete input combination (row order carries no meaning, so an
overlap would be an unresolved contradiction), and every combination must be covered by a row
(cases that cannot be classified need a row that says why). Numeric inputs are split into the
elementary intervals between the bounds the rows use, so coverage is exact without enumerating
numbers one by one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from forms_dsl.decision.model import (
    EVERYTHING,
    YES_NO,
    CodeValue,
    Condition,
    DecisionTable,
    Flag,
    InputSpec,
    Interval,
    OutputSpec,
    Row,
    show,
)
from forms_dsl.errors import ErrorCode, FormsDslError, Location, Problems, closest
from forms_dsl.reader import (
    Reader,
)
from forms_dsl.source import Map, Node, Scalar, Seq, parse
from forms_dsl.text import EMPTY, Text
from forms_dsl.types import FieldInfo, VType

UNKNOWN_FIELD = ErrorCode("E504", "input `{name}` is not a field of this form", "{hint}")
UNSUPPORTED_INPUT = ErrorCode(
    "E505",
    "input `{name}` is {kind}; a decision table reads only choice, yes/no, integer and decimal "
    "fields outside repeating groups",
    "add a choice or number field (e.g. a calculation) holding what the table needs",
)
DUPLICATE_INPUT = ErrorCode("E506", "input `{name}` is listed twice", "remove one of them")
UNDECLARED_INPUT = ErrorCode(
    "E507", "row `{row}` tests `{name}`, which is not one of the table's inputs", "{hint}"
)
BAD_CODE = ErrorCode("E508", "`{value}` is not a value of `{input}`", "{hint}")
BAD_RANGE = ErrorCode(
    "E509",
    "`{text}` is not a number or a range (for `{input}`)",
    "write a number or a range: `<18`, `<=1`, `>1`, `>=18`, `12..<18` (from 12, below 18) or "
    "`12..18` (both included)",
)
RANGE_ON_CODES = ErrorCode(
    "E510",
    "`{text}` is a range, but `{input}` is {kind}, not a number",
    "list the values instead: {codes}",
)
EMPTY_RANGE = ErrorCode(
    "E511",
    "the range `{text}` contains no number (for `{input}`)",
    "write the smaller bound first, e.g. `12..<18`",
)
DUPLICATE_ROW = ErrorCode(
    "E512",
    "row id `{row}` is used twice (first on line {first_line})",
    "give every row its own id: errors and explanations name rows by id",
)
NO_RESULT = ErrorCode(
    "E513",
    "row `{row}` has neither `then` nor `not_classifiable`",
    "add `then: {{{outputs}}}`, or `not_classifiable: <flag id>` to say why such cases cannot be "
    "classified",
)
TWO_RESULTS = ErrorCode(
    "E514",
    "row `{row}` has both `then` and `not_classifiable`",
    "keep one: a row either classifies or says why it cannot",
)
MISSING_OUTPUT = ErrorCode(
    "E515", "row `{row}` gives no value for output `{output}`", "add `{output}: …` to its `then`"
)
UNKNOWN_OUTPUT = ErrorCode(
    "E516", "row `{row}` sets `{output}`, which is not an output of the table", "{hint}"
)
UNKNOWN_FLAG = ErrorCode("E517", "flag `{flag}` is not declared in the table's `flags`", "{hint}")
OVERLAP = ErrorCode(
    "E520",
    "rows `{first}` and `{second}` overlap: both match {example}",
    "make their conditions exclusive; row order carries no meaning, so neither row can win",
)
GAP = ErrorCode(
    "E521",
    "no row covers {examples}{more}",
    "add rows for these cases; a case that cannot be classified needs a row with "
    "`not_classifiable: <flag id>` saying why",
)
TOO_LARGE = ErrorCode(
    "E522",
    "table `{table}` has too many input combinations to check for gaps (over {limit} steps)",
    "split it into smaller tables, or use fewer distinct range bounds",
)
EMPTY_LIST = ErrorCode(
    "E523",
    "the empty list for `{input}` matches no value",
    "list at least one value, or write `any`",
)
BAD_OUTPUT_VALUE = ErrorCode(
    "E524", "`{value}` is not a declared value of output `{output}`", "{hint}"
)
NO_ROWS = ErrorCode("E525", "table `{table}` has no rows", "add at least one row")
BAD_ID = ErrorCode("E526", "`{name}` is not a valid {what} id", "{pattern}")
UNUSED_FLAG = ErrorCode(
    "E527",
    "flag `{flag}` is declared but no row uses it",
    "remove it, or name it in a row's `flags` or `not_classifiable`",
    severity="warning",
)
UNUSED_INPUT = ErrorCode(
    "E528",
    "input `{name}` is listed in `inputs` but no row tests it",
    "remove it from `inputs`",
    severity="warning",
)
ANY_IN_LIST = ErrorCode(
    "E529",
    "`any` inside a list (for `{input}`)",
    "write `any` on its own, or leave the input out of the row",
)
ONE_TABLE = ErrorCode(
    "E530",
    "a decision table file holds exactly one table, found {found}",
    "start the file with the table id, e.g. `inrg_risk:`, and indent the table under it",
)

TABLE_KEYS = ("title", "description", "source", "inputs", "outputs", "flags", "rows")
ROW_KEYS = ("id", "when", "then", "not_classifiable", "flags")
OUTPUT_KEYS = ("label", "values")
ID = re.compile(r"[a-z][a-z0-9_]*")
ROW_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
ID_PATTERN = "use lower-case letters, digits and `_`, starting with a letter"
ROW_ID_PATTERN = "use letters, digits, `_`, `-`, `+` and `.`, without spaces"
_NUM = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_COMPARE = re.compile(rf"\s*(<=|>=|<|>|=|≤|≥)\s*({_NUM})\s*")
_BETWEEN = re.compile(rf"\s*({_NUM})\s*\.\.\s*(<?)\s*({_NUM})\s*")
_NUMBER = re.compile(rf"\s*({_NUM})\s*")
_OPS = {"≤": "<=", "≥": ">="}
COVERAGE_LIMIT = 100_000  # search nodes; the INRG table needs a few hundred
MAX_EXAMPLES = 3


def build_tables(
    node: Map, inputs: Mapping[str, FieldInfo], languages: Sequence[str], problems: Problems
) -> dict[str, DecisionTable]:
    """Every table of a form's `decision_tables:`; each problem goes into `problems`.

    A table is returned even when it has errors (so later stages can still refer to it), but it
    is only trustworthy when `problems` holds no errors.
    """
    builder = _Builder(inputs, tuple(languages), problems)
    if not isinstance(node, Map):
        builder.wrong_kind(
            node, "`decision_tables`", "a mapping of table ids to tables", "`inrg_risk:`"
        )
        return {}
    tables: dict[str, DecisionTable] = {}
    for key, value in node:
        table = builder.table(key, value)
        if table is not None:
            tables[table.id] = table
    return tables


def load_table_yaml(
    text: str, file: str, inputs: Mapping[str, FieldInfo], languages: Sequence[str]
) -> DecisionTable:
    """One table from a file holding just `table_id: {…}` (as pasted under `decision_tables:`).

    Raises FormsDslError with every error found; warnings alone do not stop loading.
    """
    root = parse(text, file)
    problems = Problems()
    if not isinstance(root, Map) or len(root.entries) != 1:
        found = f"{len(root.entries)} entries" if isinstance(root, Map) else "no mapping"
        problems.add(ONE_TABLE, root.loc, found=found)
        problems.raise_if_errors()
    assert isinstance(root, Map)
    tables = build_tables(root, inputs, languages, problems)
    problems.raise_if_errors()
    if not tables:  # pragma: no cover - an unbuildable table always leaves an error
        raise FormsDslError(problems)
    return next(iter(tables.values()))


def _suggest(name: str, candidates: Iterable[str], default: str) -> str:
    close = closest(name, candidates)
    return f"did you mean `{close}`?" if close is not None else default


def _listing(values: Iterable[str]) -> str:
    return ", ".join(f"`{v}`" for v in values)


@dataclass
class _TableState:
    """What the rows of one table are checked against."""

    id: str
    inputs: dict[str, InputSpec]
    broken_inputs: set[str]
    outputs: dict[str, OutputSpec]
    flags: dict[str, Flag]
    flags_ok: bool
    used_flags: set[str]
    used_inputs: set[str]


class _Builder(Reader):
    describe_empty = True  # "found an empty list" where a table needs entries

    def __init__(
        self, fields: Mapping[str, FieldInfo], languages: tuple[str, ...], problems: Problems
    ) -> None:
        super().__init__(languages, problems)
        self.fields = fields

    # -- small helpers -------------------------------------------------------------------------

    def name_id(self, node: Node, what: str, pattern: re.Pattern[str], rule: str) -> str | None:
        if not isinstance(node, Scalar) or node.value is None or isinstance(node.value, bool):
            self.wrong_kind(
                node, f"a {what} id", "a word", "`A`" if what == "row" else "`inrg_risk`"
            )
            return None
        name = str(node.value)
        if not pattern.fullmatch(name):
            self.p.add(BAD_ID, node.loc, name=name, what=what, pattern=rule)
            return None
        return name

    # -- a table ---------------------------------------------------------------------------------

    def table(self, key: Scalar, node: Node) -> DecisionTable | None:
        errors_before = len(self.p.errors)
        table_id = self.name_id(key, "table", ID, ID_PATTERN)
        body = self.expect_map(node, f"decision table `{key.text}`", "`title: {en: …}`")
        if body is None:
            return None
        table_id = table_id or str(key.value)
        where = f"decision table `{table_id}`"
        self.keys(body, TABLE_KEYS, where)
        title = self.text(
            self.need(body, "title", where, "a text in each language"), f"the title of `{table_id}`"
        )
        description = self.text(body.get("description"), f"the description of `{table_id}`")
        source = self._source(body.get("source"))
        state = self._state(body, table_id, where)
        rows_node = self.need(body, "rows", where, "a list of rows")
        rows, clean_rows = self._rows(rows_node, state) if rows_node is not None else ([], [])
        self._unused(state, rows)
        table = DecisionTable(
            id=table_id,
            title=title,
            inputs=tuple(state.inputs.values()),
            outputs=tuple(state.outputs.values()),
            flags=tuple(state.flags.values()),
            rows=tuple(rows),
            loc=key.loc,
            description=description,
            source=source,
        )
        _check_overlaps(table, clean_rows, self.p)
        if rows and len(self.p.errors) == errors_before:
            rows_key = body.key("rows")
            _check_coverage(table, rows_key.loc if rows_key else body.loc, self.p)
        return table

    def _state(self, body: Map, table_id: str, where: str) -> _TableState:
        """Inputs, outputs and flags: what the rows are read against."""
        inputs_node = self.need(body, "inputs", where, "the list of fields the rows test")
        specs, broken = self._inputs(inputs_node) if inputs_node is not None else ({}, set())
        outputs_node = self.need(
            body, "outputs", where, "the results a row gives, each with its label"
        )
        outputs = self._outputs(outputs_node) if outputs_node is not None else {}
        flags_node = body.get("flags")
        flags = self._flags(flags_node) if flags_node is not None else {}
        return _TableState(
            table_id,
            specs,
            broken,
            outputs,
            flags,
            flags_ok=flags_node is None or isinstance(flags_node, Map),
            used_flags=set(),
            used_inputs=set(),
        )

    def _unused(self, state: _TableState, rows: Sequence[Row]) -> None:
        """Warnings: declared flags no row names, and (given rows) inputs no row tests."""
        for flag in state.flags.values():
            if flag.id not in state.used_flags:
                self.p.add(UNUSED_FLAG, flag.loc, flag=flag.id)
        if rows:
            for spec in state.inputs.values():
                if spec.id not in state.used_inputs:
                    self.p.add(UNUSED_INPUT, spec.loc, name=spec.id)

    def _source(self, node: Node | None) -> str:
        if node is None:
            return ""
        if isinstance(node, Scalar) and isinstance(node.value, str):
            return node.value
        self.wrong_kind(
            node, "`source`", "a citation (text)", "`Cohn SL et al. JCO 2009;27:289-297`"
        )
        return ""

    def _inputs(self, node: Node) -> tuple[dict[str, InputSpec], set[str]]:
        """The declared inputs; names that cannot be used are returned apart (no further noise)."""
        specs: dict[str, InputSpec] = {}
        broken: set[str] = set()
        if not isinstance(node, Seq):
            self.wrong_kind(node, "`inputs`", "a list of field ids", "`[inrg_stage, age_months]`")
            return specs, broken
        for item in node:
            if not isinstance(item, Scalar) or not isinstance(item.value, str):
                self.wrong_kind(item, "an input", "a field id", "`inrg_stage`")
                continue
            name = item.value
            if name in specs or name in broken:
                self.p.add(DUPLICATE_INPUT, item.loc, name=name)
                continue
            info = self.fields.get(name)
            if info is None:
                hint = _suggest(
                    name, self.fields, "check the spelling, or add the field to the form"
                )
                self.p.add(UNKNOWN_FIELD, item.loc, name=name, hint=hint)
                broken.add(name)
                continue
            if info.vtype is VType.ANY:  # already reported where the field was defined
                broken.add(name)
                continue
            if info.repeat is not None:
                kind = f"inside the repeating group `{info.repeat}`"
                self.p.add(UNSUPPORTED_INPUT, item.loc, name=name, kind=kind)
                broken.add(name)
                continue
            if info.vtype is VType.CODE and info.codes is not None:
                specs[name] = InputSpec(name, VType.CODE, tuple(sorted(info.codes)), item.loc)
            elif info.vtype in (VType.BOOL, VType.NUMBER):
                specs[name] = InputSpec(name, info.vtype, (), item.loc)
            else:
                kind = f"a {info.vtype.value} field"
                self.p.add(UNSUPPORTED_INPUT, item.loc, name=name, kind=kind)
                broken.add(name)
        return specs, broken

    def _outputs(self, node: Node) -> dict[str, OutputSpec]:
        outputs: dict[str, OutputSpec] = {}
        if not isinstance(node, Map) or not node.entries:
            self.wrong_kind(
                node, "`outputs`", "a mapping of output ids to labels", "`risk: {en: Risk}`"
            )
            return outputs
        for key, value in node:
            output_id = self.name_id(key, "output", ID, ID_PATTERN)
            if output_id is None:
                continue
            what = f"the label of output `{output_id}`"
            label_node = value.get("label") if isinstance(value, Map) else None
            if isinstance(value, Map) and label_node is not None:
                self.keys(value, OUTPUT_KEYS, f"output `{output_id}`")
                label = self.text(label_node, what)
                values = self._output_values(value.get("values"), output_id)
                outputs[output_id] = OutputSpec(output_id, label, values, key.loc)
            else:
                outputs[output_id] = OutputSpec(output_id, self.text(value, what), None, key.loc)
        return outputs

    def _output_values(
        self, node: Node | None, output_id: str
    ) -> tuple[tuple[str, Text], ...] | None:
        """`values: [A, B]` (codes shown as written) or `values: {low: {en: Low}}` (translated)."""
        if node is None:
            return None
        found: list[tuple[str, Text]] = []
        if isinstance(node, Seq):
            for item in node:
                if isinstance(item, Scalar) and item.value is not None:
                    found.append((str(item.value if item.quoted else item.text), EMPTY))
                else:
                    self.wrong_kind(item, f"a value of output `{output_id}`", "a word", "`low`")
        elif isinstance(node, Map):
            for key, value in node:
                what = f"the label of value `{key.text}` of output `{output_id}`"
                found.append((str(key.value), self.text(value, what)))
        else:
            self.wrong_kind(
                node, f"`values` of output `{output_id}`", "a list or a mapping", "`[A, B]`"
            )
        return tuple(found)

    def _flags(self, node: Node) -> dict[str, Flag]:
        flags: dict[str, Flag] = {}
        if not isinstance(node, Map):
            self.wrong_kind(node, "`flags`", "a mapping of flag ids to texts", "`review: {en: …}`")
            return flags
        for key, value in node:
            flag_id = self.name_id(key, "flag", ID, ID_PATTERN)
            if flag_id is not None:
                text = self.text(value, f"the text of flag `{flag_id}`")
                flags[flag_id] = Flag(flag_id, text, key.loc)
        return flags

    # -- rows ------------------------------------------------------------------------------------

    def _rows(self, node: Node, state: _TableState) -> tuple[list[Row], list[Row]]:
        """All rows that could be built, and those without any error (safe to compare)."""
        if not isinstance(node, Seq):
            self.wrong_kind(node, "`rows`", "a list of rows", "`- id: A`")
            return [], []
        if not node.items:
            self.p.add(NO_ROWS, node.loc, table=state.id)
            return [], []
        rows: list[Row] = []
        clean: list[Row] = []
        seen: dict[str, Location] = {}
        for item in node:
            errors_before = len(self.p.errors)
            row, ok = self._row(item, state)
            if row is None:
                continue
            if row.id in seen:
                self.p.add(DUPLICATE_ROW, row.loc, row=row.id, first_line=seen[row.id].line)
            else:
                seen[row.id] = row.loc
            rows.append(row)
            if ok and len(self.p.errors) == errors_before:
                clean.append(row)
        return rows, clean

    def _row(self, node: Node, state: _TableState) -> tuple[Row | None, bool]:
        item = self.expect_map(node, "a row", "`{id: A, when: {…}, then: {…}}`")
        if item is None:
            return None, False
        id_node = self.need(item, "id", "a row", "a short name")
        row_id = None
        if id_node is not None:
            row_id = self.name_id(id_node, "row", ROW_ID, ROW_ID_PATTERN)
        row_id = row_id or f"line {item.loc.line}"
        self.keys(item, ROW_KEYS, f"row `{row_id}`")
        conditions, ok = self._when(item.get("when"), row_id, state)
        then, reason, result_ok = self._result(item, row_id, state)
        flags = self._row_flags(item.get("flags"), row_id, state)
        row = Row(row_id, tuple(conditions), then, tuple(flags), reason, item.loc)
        return row, ok and result_ok

    def _when(
        self, when: Node | None, row_id: str, state: _TableState
    ) -> tuple[list[Condition], bool]:
        """The row's conditions in the table's input order; False after an error."""
        ok = True
        conditions: list[Condition] = []
        if isinstance(when, Map):
            for key, value in when:
                name = str(key.value)
                spec = state.inputs.get(name)
                if spec is None:
                    if name not in state.broken_inputs:
                        hint = self._undeclared_hint(name, state)
                        self.p.add(UNDECLARED_INPUT, key.loc, row=row_id, name=name, hint=hint)
                    ok = False
                    continue
                state.used_inputs.add(name)
                condition, good = self._condition(spec, value)
                ok = ok and good
                if condition is not None:
                    conditions.append(condition)
        elif when is not None and not (isinstance(when, Scalar) and when.value in ("any", None)):
            self.wrong_kind(when, f"`when` of row `{row_id}`", "a mapping", "`{inrg_stage: L1}`")
            ok = False
        order = {spec_id: n for n, spec_id in enumerate(state.inputs)}
        conditions.sort(key=lambda c: order[c.input])
        return conditions, ok

    def _result(
        self, item: Map, row_id: str, state: _TableState
    ) -> tuple[tuple[tuple[str, str], ...], str | None, bool]:
        """`then` (the outputs) or `not_classifiable` (a flag saying why), exactly one."""
        then_node, reason_node = item.get("then"), item.get("not_classifiable")
        if then_node is None and reason_node is None:
            outputs = ", ".join(f"{o}: …" for o in state.outputs)
            self.p.add(NO_RESULT, item.loc, row=row_id, outputs=outputs)
            return (), None, False
        if then_node is not None and reason_node is not None:
            self.p.add(TWO_RESULTS, (item.key("not_classifiable") or item).loc, row=row_id)
            return (), None, False
        if then_node is not None:
            return self._then(then_node, row_id, state), None, True
        assert reason_node is not None
        what = f"`not_classifiable` of row `{row_id}`"
        return (), self._flag_ref(reason_node, state, what), True

    def _row_flags(self, node: Node | None, row_id: str, state: _TableState) -> list[str]:
        flags: list[str] = []
        if isinstance(node, Seq):
            for item in node:
                flag = self._flag_ref(item, state, f"a flag of row `{row_id}`")
                if flag is not None and flag not in flags:
                    flags.append(flag)
        elif node is not None:
            what = f"`flags` of row `{row_id}`"
            self.wrong_kind(node, what, "a list of flag ids", "`[review]`")
        return flags

    def _undeclared_hint(self, name: str, state: _TableState) -> str:
        if name in self.fields:
            return f"add `{name}` to the table's `inputs`"
        return _suggest(
            name,
            [*state.inputs, *state.broken_inputs],
            "a row can only test the table's `inputs`, which must be fields of the form",
        )

    def _then(self, node: Node, row_id: str, state: _TableState) -> tuple[tuple[str, str], ...]:
        if not isinstance(node, Map):
            self.wrong_kind(
                node, f"`then` of row `{row_id}`", "a mapping of outputs", "`{risk: low}`"
            )
            return ()
        given: dict[str, str] = {}
        for key, value in node:
            name = str(key.value)
            output = state.outputs.get(name)
            if output is None:
                hint = _suggest(name, state.outputs, f"outputs: {_listing(state.outputs)}")
                self.p.add(UNKNOWN_OUTPUT, key.loc, row=row_id, output=name, hint=hint)
                continue
            if not isinstance(value, Scalar) or value.value is None:
                self.wrong_kind(
                    value, f"output `{name}` of row `{row_id}`", "a value", f"`{name}: A`"
                )
                continue
            text = str(value.value if value.quoted else value.text)
            if output.values is not None:
                allowed = [code for code, _label in output.values]
                if text not in allowed:
                    hint = _suggest(text, allowed, f"declared values: {_listing(allowed)}")
                    self.p.add(BAD_OUTPUT_VALUE, value.loc, value=text, output=name, hint=hint)
            given[name] = text
        for output_id in state.outputs:
            if output_id not in given and node.get(output_id) is None:
                self.p.add(MISSING_OUTPUT, node.loc, row=row_id, output=output_id)
        return tuple((o, given[o]) for o in state.outputs if o in given)

    def _flag_ref(self, node: Node, state: _TableState, what: str) -> str | None:
        if not isinstance(node, Scalar) or not isinstance(node.value, str):
            self.wrong_kind(node, what, "a flag id", "`review_heterogeneous`")
            return None
        name = node.value
        state.used_flags.add(name)
        if name not in state.flags:
            if state.flags_ok:
                default = (
                    f"declared flags: {_listing(state.flags)}"
                    if state.flags
                    else "declare it under the table's `flags:` with its text in each language"
                )
                hint = _suggest(name, state.flags, default)
                self.p.add(UNKNOWN_FLAG, node.loc, flag=name, hint=hint)
            return None
        return name

    # -- conditions ------------------------------------------------------------------------------

    def _condition(self, spec: InputSpec, node: Node) -> tuple[Condition | None, bool]:
        """A row's condition on one input; `None` for `any`. The flag is False after an error."""
        if isinstance(node, Scalar) and node.value == "any":
            return None, True
        items: list[Node]
        if isinstance(node, Scalar) and node.value is not None:
            items, kind = [node], "equals"
        elif isinstance(node, Seq):
            items, kind = list(node.items), "list"
            if not items:
                self.p.add(EMPTY_LIST, node.loc, input=spec.id)
                return None, False
        else:
            example = "[12..<18, >=18]" if spec.numeric else "[L1, L2]"
            what = f"the condition on `{spec.id}`"
            self.wrong_kind(node, what, "a value, a list or `any`", f"`{example}`")
            return None, False
        ok = True
        texts: list[str] = []
        codes: list[CodeValue] = []
        intervals: list[Interval] = []
        for item in items:
            if not isinstance(item, Scalar) or item.value is None:
                self.wrong_kind(item, f"a value for `{spec.id}`", "a single value", "`L1`")
                ok = False
                continue
            if item.value == "any":
                self.p.add(ANY_IN_LIST, item.loc, input=spec.id)
                ok = False
                continue
            if spec.numeric:
                parsed = self._range(spec, item)
                if parsed is None:
                    ok = False
                    continue
                interval, text, is_range = parsed
                intervals.append(interval)
                if is_range and kind == "equals":
                    kind = "range"
            else:
                code = self._code(spec, item)
                if code is None:
                    ok = False
                    continue
                codes.append(code)
                text = show(code)
            if text not in texts:
                texts.append(text)
        if not ok:
            return None, False
        condition = Condition(
            spec.id,
            codes=frozenset(codes),
            intervals=tuple(intervals),
            text=", ".join(texts),
            kind=kind,
            loc=node.loc,
        )
        return condition, True

    def _code(self, spec: InputSpec, item: Scalar) -> CodeValue | None:
        text = str(item.value if item.quoted else item.text)
        if isinstance(item.value, str) and (
            item.value.lstrip()[:1] in ("<", ">", "≤", "≥") or ".." in item.value
        ):
            kind = "a yes/no field" if spec.vtype is VType.BOOL else "a choice field"
            codes = "`yes`, `no`" if spec.vtype is VType.BOOL else _listing(spec.codes)
            self.p.add(RANGE_ON_CODES, item.loc, text=text, input=spec.id, kind=kind, codes=codes)
            return None
        if spec.vtype is VType.BOOL:
            if isinstance(item.value, bool):
                return item.value
            if isinstance(item.value, str) and item.value.lower() in YES_NO:
                return YES_NO[item.value.lower()]
            self.p.add(BAD_CODE, item.loc, value=text, input=spec.id, hint="write `yes` or `no`")
            return None
        if text in spec.codes:
            return text
        hint = _suggest(text, spec.codes, f"the codes of `{spec.id}` are {_listing(spec.codes)}")
        self.p.add(BAD_CODE, item.loc, value=text, input=spec.id, hint=hint)
        return None

    def _range(self, spec: InputSpec, item: Scalar) -> tuple[Interval, str, bool] | None:
        """A number (`18`) or a range (`<18`, `12..<18`): interval, text, whether a range."""
        value = item.value
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            number = Decimal(value)
            return Interval(number, True, number, True), item.text, False
        raw = str(item.value if isinstance(item.value, str) else item.text)
        if m := _NUMBER.fullmatch(raw):
            number = Decimal(m[1])
            return Interval(number, True, number, True), m[1], False
        if m := _COMPARE.fullmatch(raw):
            op, number = _OPS.get(m[1], m[1]), Decimal(m[2])
            interval = {
                "<": Interval(None, False, number, False),
                "<=": Interval(None, False, number, True),
                ">": Interval(number, False, None, False),
                ">=": Interval(number, True, None, False),
                "=": Interval(number, True, number, True),
            }[op]
            return interval, (m[2] if op == "=" else f"{op} {m[2]}"), op != "="
        if m := _BETWEEN.fullmatch(raw):
            low, high = Decimal(m[1]), Decimal(m[3])
            interval = Interval(low, True, high, not m[2])
            text = f"{m[1]}..{m[2]}{m[3]}"
            if interval.empty:
                self.p.add(EMPTY_RANGE, item.loc, text=raw.strip(), input=spec.id)
                return None
            return interval, text, True
        self.p.add(BAD_RANGE, item.loc, text=raw.strip(), input=spec.id)
        return None


# -- whole-table checks ----------------------------------------------------------------------


def _describe_codes(spec: InputSpec, values: Iterable[CodeValue]) -> str:
    chosen = set(values)
    ordered = [v for v in spec.domain if v in chosen]
    if len(ordered) == 1:
        return f"{spec.id}={show(ordered[0])}"
    return f"{spec.id} in ({', '.join(show(v) for v in ordered)})"


def _check_overlaps(table: DecisionTable, rows: Sequence[Row], problems: Problems) -> None:
    """Two rows overlap when, input by input, their conditions share at least one value."""
    for j, second in enumerate(rows):
        for first in rows[:j]:
            example = _common_case(table, first, second)
            if example is not None:
                problems.add(OVERLAP, second.loc, first=first.id, second=second.id, example=example)


def _common_case(table: DecisionTable, a: Row, b: Row) -> str | None:
    parts: list[str] = []
    for spec in table.inputs:
        ca, cb = a.condition(spec.id), b.condition(spec.id)
        if ca is None and cb is None:
            continue
        if spec.numeric:
            sets_a = ca.intervals if ca is not None else (EVERYTHING,)
            sets_b = cb.intervals if cb is not None else (EVERYTHING,)
            common = [x.intersect(y) for x in sets_a for y in sets_b]
            common = [c for c in common if not c.empty]
            if not common:
                return None
            parts.append(common[0].describe(spec.id))
        else:
            values_a = ca.codes if ca is not None else frozenset(spec.domain)
            values_b = cb.codes if cb is not None else frozenset(spec.domain)
            shared = values_a & values_b
            if not shared:
                return None
            parts.append(_describe_codes(spec, shared))
    return ", ".join(parts) if parts else "every case"


class _TooLarge(Exception):
    pass


def _elementary(spec: InputSpec, rows: Sequence[Row]) -> list[Interval]:
    """The real line cut at every bound the rows use: points and the open intervals between."""
    bounds = sorted(
        {
            bound
            for row in rows
            if (c := row.condition(spec.id)) is not None
            for i in c.intervals
            for bound in (i.low, i.high)
            if bound is not None
        }
    )
    if not bounds:
        return [EVERYTHING]
    pieces = [Interval(None, False, bounds[0], False)]
    for n, bound in enumerate(bounds):
        pieces.append(Interval(bound, True, bound, True))
        upper = bounds[n + 1] if n + 1 < len(bounds) else None
        pieces.append(Interval(bound, False, upper, False))
    return pieces


Piece = Interval | CodeValue  # an elementary interval of a numeric input, or one value


def _accepts(condition: Condition | None, piece: Piece) -> bool:
    if condition is None:
        return True
    if isinstance(piece, Interval):  # elementary: no bound inside, so one sample decides
        return condition.accepts(piece.sample())
    return condition.accepts(piece)


def _check_coverage(table: DecisionTable, loc: Location, problems: Problems) -> None:
    """Report combinations of input values that no row matches (a few examples and a count).

    The search assigns inputs in the declared order, skips inputs no remaining row tests, and
    groups values that leave the same rows in play, so each gap is reported at its widest.
    """
    specs, rows = table.inputs, table.rows
    pieces: list[tuple[Piece, ...]] = [
        tuple(_elementary(spec, rows)) if spec.numeric else spec.domain for spec in specs
    ]
    try:
        gaps = _Gaps(table, pieces).search()
    except _TooLarge:
        problems.add(TOO_LARGE, loc, table=table.id, limit=COVERAGE_LIMIT)
        return
    if not gaps:
        return
    examples = [
        ", ".join(_describe_piece(specs[k], pieces[k], group) for k, group in assigned)
        or "any combination"
        for assigned, _count in gaps[:MAX_EXAMPLES]
    ]
    more = ""
    if len(gaps) > MAX_EXAMPLES:
        total = sum(count for _a, count in gaps)
        more = f" and {len(gaps) - MAX_EXAMPLES} more ({total} uncovered combinations in all)"
    problems.add(GAP, loc, examples="; ".join(examples), more=more)


Assigned = list[tuple[int, list[int]]]  # (input index, the piece numbers grouped together)


class _Gaps:
    """The search for uncovered combinations over the pieces of every input."""

    def __init__(self, table: DecisionTable, pieces: list[tuple[Piece, ...]]) -> None:
        specs, rows = table.inputs, table.rows
        self.count_inputs = len(specs)
        self.sizes = [len(p) for p in pieces]
        # tested[r][k]: whether row r tests input k; accepted[r][k]: the pieces it accepts
        self.tested = [[row.condition(spec.id) is not None for spec in specs] for row in rows]
        self.accepted = [
            [
                frozenset(
                    n
                    for n, piece in enumerate(pieces[k])
                    if _accepts(row.condition(spec.id), piece)
                )
                for k, spec in enumerate(specs)
            ]
            for row in rows
        ]
        self.rows = len(rows)
        self.gaps: list[tuple[Assigned, int]] = []
        self.visited = 0

    def search(self) -> list[tuple[Assigned, int]]:
        """Each gap with the number of complete combinations it stands for."""
        self.walk(0, tuple(range(self.rows)), [])
        return self.gaps

    def walk(self, level: int, live: tuple[int, ...], assigned: Assigned) -> None:
        self.visited += 1
        if self.visited > COVERAGE_LIMIT:
            raise _TooLarge
        if not live:
            fixed = {k for k, _ in assigned}
            count = math.prod(len(group) for _, group in assigned) * math.prod(
                self.sizes[k] for k in range(self.count_inputs) if k not in fixed
            )
            self.gaps.append((assigned, count))
            return
        tested = self.tested
        if any(not any(tested[r][level:]) for r in live):
            return  # a remaining row accepts everything from here on
        while not any(tested[r][level] for r in live):
            level += 1
        groups: dict[tuple[int, ...], list[int]] = {}
        for n in range(self.sizes[level]):
            still = tuple(r for r in live if n in self.accepted[r][level])
            groups.setdefault(still, []).append(n)
        for still, group in groups.items():
            self.walk(level + 1, still, [*assigned, (level, group)])


def _describe_piece(spec: InputSpec, pieces: tuple[Piece, ...], group: list[int]) -> str:
    chosen = [pieces[n] for n in group]
    if not spec.numeric:
        return _describe_codes(spec, [p for p in chosen if not isinstance(p, Interval)])
    runs: list[list[Interval]] = []  # adjacent elementary pieces merge into one interval
    previous = -2
    for n, piece in zip(group, chosen, strict=True):
        assert isinstance(piece, Interval)
        if n == previous + 1:
            runs[-1].append(piece)
        else:
            runs.append([piece])
        previous = n
    merged = [Interval(r[0].low, r[0].low_closed, r[-1].high, r[-1].high_closed) for r in runs]
    return " or ".join(i.describe(spec.id) for i in merged)
