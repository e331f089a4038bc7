"""Located YAML nodes → a checked, frozen `Form`. Every problem is collected, none stops the rest.

Two passes: the first reads structure (keys, kinds, ids, texts, choices, options per type); the
second, once every field is known, checks expressions (references, types), calculation cycles and
decision tables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any, TypeGuard

from forms_dsl import expr as ex
from forms_dsl.decision import DecisionTable, build_tables
from forms_dsl.errors import ErrorCode, Location, Problems
from forms_dsl.expr.nodes import Call, String
from forms_dsl.expr.values import compare
from forms_dsl.model import (
    VTYPE_OF,
    Bound,
    Check,
    Choice,
    ChoiceList,
    Code,
    Field,
    FieldType,
    Form,
    Repeat,
    Section,
    Severity,
)
from forms_dsl.reader import Reader, suggest
from forms_dsl.source import Map, Node, Scalar, Seq, kind_of
from forms_dsl.types import FieldInfo, Value, VType
from forms_dsl.values import BadValue, parse_literal

DUPLICATE_FIELD = ErrorCode(
    "E205",
    "field id `{id}` is already used on line {first_line}",
    "field ids must be unique in the whole form, repeats included: rename one",
)
DUPLICATE_SECTION = ErrorCode(
    "E206", "section id `{id}` is already used on line {first_line}", "rename one of the sections"
)
UNKNOWN_TYPE = ErrorCode("E207", "unknown field type `{value}`", "{hint}")
BAD_VERSION = ErrorCode(
    "E208",
    "version must be a whole number of 1 or more, found {found}",
    "write e.g. `version: 1` and increase it at every change",
)
UNKNOWN_CHOICE_LIST = ErrorCode("E211", "there is no choice list `{value}`", "{hint}")
DUPLICATE_CODE = ErrorCode(
    "E212", "choice code `{code}` appears twice in `{list}`", "each code must be unique in its list"
)
CHOICES_MISPLACED = ErrorCode("E213", "{problem}", "{fix}")
BAD_PATTERN = ErrorCode(
    "E214",
    "the pattern is not a valid regular expression: {problem}",
    "check brackets and escapes; the pattern must match the whole answer",
)
MIN_ABOVE_MAX = ErrorCode(
    "E215", "min ({min}) is greater than max ({max})", "swap them or correct one of the limits"
)
OPTION_NOT_FOR_TYPE = ErrorCode(
    "E216", "`{key}` does not apply to a {type} field", "remove it; it applies to: {types}"
)
BAD_DEFAULT = ErrorCode(
    "E217", "the default {value} is not a valid {type} answer: {problem}", "{fix}"
)
CALC_MISPLACED = ErrorCode("E218", "{problem}", "{fix}")
BAD_REPEAT = ErrorCode("E219", "{problem}", "write e.g. `repeat: {{min: 0, max: 20}}`")
BAD_WIDGET = ErrorCode(
    "E220", "widget `{value}` does not fit a {type} field", "use one of: {widgets}"
)
BAD_SEVERITY = ErrorCode(
    "E221",
    "severity must be `error` or `warning`, found {value}",
    "use `error` to block completion, `warning` to ask for confirmation",
)
EMPTY_SECTION = ErrorCode(
    "E223", "section `{id}` has no fields", "add fields, or remove the section"
)
BAD_CODE_ENTRY = ErrorCode(
    "E224",
    "a terminology code needs `system` (a URI) and `code`: {problem}",
    "write e.g. `codes: [{{system: 'http://snomed.info/sct', code: '432328008'}}]`",
)
BAD_CHOICE_CODE = ErrorCode(
    "E226",
    "choice code {code} is not usable",
    "codes are short words of letters, digits, `_`, `-` or `.` (e.g. `L1`, `not_amplified`)",
)
EXPR_TYPE = ErrorCode("E301", "{role} must give {expected}, but this gives {found}", "{fix}")
CALC_CYCLE = ErrorCode(
    "E302",
    "calculations depend on each other in a circle: {path}",
    "break the circle: one of these calculations must not use the other",
)
SELF_REFERENCE = ErrorCode(
    "E303", "the show_if of `{id}` refers to `{id}` itself", "a field cannot hide itself"
)
BAD_EXPRESSION_KIND = ErrorCode(
    "E304",
    "{role} must be an expression written as text, found {found}",
    "quote it, e.g. `show_if: \"mycn == 'amplified'\"`",
)
MIN_MAX_LITERAL = ErrorCode("E305", "the {key} {value} is not a valid {type}: {problem}", "{fix}")
OPTION_NEEDS = ErrorCode(
    "E227", "`{option}` needs `{needs}` on the same field", "add `{needs}`, or remove `{option}`"
)
CALC_CHOICES = ErrorCode(
    "E307",
    "calc field `{id}` has choices, so it must give one of their codes, but it gives {found}",
    "compute a code, e.g. `if(mycn == 'amplified', 'mycn_amplified', 'other')`, or drop `choices`",
)
CALC_UNKNOWN_CODE = ErrorCode(
    "E308",
    "calc field `{id}` can give '{code}', which is not one of its choices ({codes})",
    "add '{code}' to the choices, or give one of: {codes}",
)
REPEAT_REFERENCE = ErrorCode(
    "E306",
    "`{name}` lives in the repeating section `{group}` and cannot be used by {role} of `{id}`",
    "outside the repeat, use it through count(), sum(), min(), max(), any() or all()",
)

CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
FORM_KEYS = (
    "form",
    "version",
    "title",
    "description",
    "sections",
    "choice_lists",
    "decision_tables",
)
SECTION_KEYS = ("id", "title", "fields", "repeat", "show_if")
FIELD_KEYS = (
    "id",
    "type",
    "label",
    "hint",
    "unit",
    "default",
    "readonly",
    "required",
    "min",
    "max",
    "decimals",
    "pattern",
    "pattern_message",
    "max_length",
    "show_if",
    "checks",
    "sdv",
    "identifier",
    "codes",
    "choices",
    "widget",
    "calc",
)
CHECK_KEYS = ("id", "when", "severity", "message")
ALL = frozenset(FieldType)
ANSWERABLE = ALL - {FieldType.NOTE, FieldType.CALC}
#: The types whose answers have an order, so a `min` and a `max`.
ORDERED = {FieldType.INTEGER, FieldType.DECIMAL, FieldType.DATE, FieldType.DATETIME, FieldType.TIME}
#: Which options each field type takes (everything else is E216).
APPLIES = {
    "hint": ALL,
    "unit": {FieldType.INTEGER, FieldType.DECIMAL, FieldType.CALC},
    "default": ANSWERABLE,
    "readonly": ANSWERABLE,
    "required": ANSWERABLE,
    "min": ORDERED,
    "max": ORDERED,
    "decimals": {FieldType.DECIMAL, FieldType.CALC},
    "pattern": {FieldType.TEXT},
    "pattern_message": {FieldType.TEXT},
    "max_length": {FieldType.TEXT, FieldType.TEXTAREA},
    "checks": ANSWERABLE | {FieldType.CALC},
    "sdv": ANSWERABLE | {FieldType.CALC},
    "identifier": ANSWERABLE,
    "codes": ANSWERABLE | {FieldType.CALC},
    "choices": {FieldType.CHOICE, FieldType.MULTICHOICE, FieldType.CALC},
    "widget": {FieldType.CHOICE, FieldType.MULTICHOICE, FieldType.YESNO},
    "calc": {FieldType.CALC},
}
WIDGETS = {
    FieldType.CHOICE: ("radio", "dropdown"),
    FieldType.MULTICHOICE: ("checkbox",),
    FieldType.YESNO: ("radio", "dropdown"),
}
STORABLE = {
    VType.NUMBER,
    VType.TEXT,
    VType.CODE,
    VType.DATE,
    VType.DATETIME,
    VType.TIME,
    VType.BOOL,
}


@dataclass
class _PendingExpr:
    """An expression read in pass one and checked in pass two."""

    expr: ex.Expr
    text: str
    loc: Location
    role: str
    expected: VType | None
    field_id: str
    row_group: str | None


@dataclass
class _Seen:
    """Where each section id and each field id was first defined (ids are unique per form)."""

    sections: dict[str, Location] = field(default_factory=dict)
    fields: dict[str, Location] = field(default_factory=dict)


@dataclass(frozen=True)
class _FieldAt:
    """The field being read: its mapping, id, type and repeating group (None at top level)."""

    node: Map
    id: str
    type: FieldType
    group: str | None

    def option(self, key: str) -> Node | None:
        """The option `key` if this field's type takes it (others are reported once, E216)."""
        return self.node.get(key) if self.type in APPLIES[key] else None


@dataclass
class _Ctx:
    file: str
    languages: tuple[str, ...]
    shared_lists: Mapping[str, ChoiceList]
    context: Mapping[str, VType]
    problems: Problems
    pending: list[_PendingExpr] = field(default_factory=list)


class FormBuilder(Reader):
    """Builds one form; `problems` receives everything wrong with it."""

    def __init__(
        self,
        file: str,
        languages: Sequence[str],
        problems: Problems,
        shared_lists: Mapping[str, ChoiceList] | None = None,
        context: Mapping[str, VType] | None = None,
    ) -> None:
        super().__init__(languages, problems)
        self.c = _Ctx(file, tuple(languages), shared_lists or {}, context or {}, problems)

    # -- small readers ------------------------------------------------------------------------

    def expression(
        self,
        node: Node | None,
        role: str,
        expected: VType | None,
        field_id: str,
        row_group: str | None,
    ) -> tuple[ex.Expr | None, str]:
        if node is None:
            return None, ""
        if isinstance(node, Scalar) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, Scalar) and node.value is not None and role in ("min", "max"):
            text = node.text
        else:
            self.p.add(BAD_EXPRESSION_KIND, node.loc, role=role, found=kind_of(node))
            return None, ""
        start = node.loc.shifted(1) if node.quoted else node.loc
        try:
            parsed = ex.parse(text)
        except ex.ExprError as err:
            self.p.add(err.code, start.shifted(err.offset), **err.params)
            return None, text
        self.c.pending.append(
            _PendingExpr(parsed, text, start, role, expected, field_id, row_group)
        )
        return parsed, text

    def _unique_id(
        self, id_node: Node | None, owner: Map, seen: dict[str, Location], duplicate: ErrorCode
    ) -> str | None:
        """The id of a section or field; a second use is reported at the id (`duplicate`)."""
        ident = self.ident(id_node, "id")
        if ident is None or id_node is None:
            return None
        if ident in seen:
            self.p.add(duplicate, id_node.loc, id=ident, first_line=seen[ident].line)
        else:
            seen[ident] = owner.loc
        return ident

    # -- the form -----------------------------------------------------------------------------

    def build(self, root: Node) -> Form | None:
        node = self.expect_map(root, "the file", "`form: diagnosis`")
        if node is None:
            return None
        self.keys(node, FORM_KEYS, "a form")
        form_id = self.ident(self.need(node, "form", "a form", "diagnosis"), "form")
        version = self._version(self.need(node, "version", "a form", "1"))
        title = self.text(self.need(node, "title", "a form", "{en: Diagnosis}"), "the form title")
        lists = self._choice_lists(node.get("choice_lists"))
        sections_node = self.need(node, "sections", "a form", "a list of sections")
        sections, env, order = self._second_pass(self._sections(sections_node, lists))
        tables = self._tables(node.get("decision_tables"), env)
        if form_id is None or version is None:
            return None
        return Form(
            id=form_id,
            version=version,
            title=title,
            sections=sections,
            choice_lists=lists,
            decision_tables=tables,
            languages=self.languages,
            file=self.c.file,
            context=dict(self.c.context),
            calc_order=tuple(order),
        )

    def _second_pass(
        self, sections: Sequence[Section]
    ) -> tuple[tuple[Section, ...], dict[str, FieldInfo], list[str]]:
        """Once every field is known: calculation types and order, then every expression."""
        env = self._env(sections)
        calc_types, order = self._calculations([f for s in sections for f in s.fields], env)
        typed = tuple(
            replace(
                s,
                fields=tuple(
                    replace(f, calc_vtype=calc_types.get(f.id, f.calc_vtype)) for f in s.fields
                ),
            )
            for s in sections
        )
        for name, vtype in calc_types.items():
            old = env[name]
            env[name] = FieldInfo(vtype, repeat=old.repeat, codes=old.codes)
        self._check_expressions(env, {f.id: f for s in typed for f in s.fields})
        return typed, env, order

    def _tables(self, node: Node | None, env: Mapping[str, FieldInfo]) -> dict[str, DecisionTable]:
        tables = self.expect_map(node, "`decision_tables`", "a table")
        if tables is None:
            return {}
        inputs = {k: v for k, v in env.items() if v.repeat is None and v.vtype is not VType.GROUP}
        return build_tables(tables, inputs, self.languages, self.p)

    def _version(self, node: Node | None) -> int | None:
        if node is None:
            return None
        if isinstance(node, Scalar) and type(node.value) is int and node.value >= 1:
            return node.value
        found = node.text if isinstance(node, Scalar) else kind_of(node)
        self.p.add(BAD_VERSION, node.loc, found=found)
        return None

    # -- choice lists -------------------------------------------------------------------------

    def _choice_lists(self, node: Node | None) -> dict[str, ChoiceList]:
        lists: dict[str, ChoiceList] = {}
        named = self.expect_map(node, "`choice_lists`", "`yes_no_unknown: [...]`")
        if named is None:
            return lists
        for key, value in named:
            list_id = self.ident(key, "a choice list name")
            built = self.choice_list(list_id or str(key.value), value)
            if list_id and built is not None:
                lists[list_id] = built
        return lists

    def choice_list(self, list_id: str, node: Node) -> ChoiceList | None:
        items = self.expect_seq(node, f"`{list_id}`", "`- {code: L1, label: {en: …}}`")
        if items is None:
            return None
        choices: list[Choice] = []
        seen: set[str] = set()
        for item in items:
            choice = self._choice(item, list_id, seen)
            if choice is not None:
                choices.append(choice)
        return ChoiceList(list_id, tuple(choices))

    def _choice(self, node: Node, list_id: str, seen: set[str]) -> Choice | None:
        item = self.expect_map(node, f"an entry of {list_id}", "`{code: L1, label: {en: …}}`")
        if item is None:
            return None
        self.keys(item, ("code", "label"), f"an entry of `{list_id}`")
        code_node = self.need(item, "code", f"an entry of `{list_id}`", "L1")
        label = self.text(self.need(item, "label", "a choice", "{en: …}"), "a choice label")
        if not isinstance(code_node, Scalar):
            return None
        code = str(code_node.value) if code_node.value is not None else ""
        if isinstance(code_node.value, bool) or not CODE_RE.fullmatch(code):
            self.p.add(BAD_CHOICE_CODE, code_node.loc, code=code_node.text or "(empty)")
            return None
        if code in seen:
            self.p.add(DUPLICATE_CODE, code_node.loc, code=code, list=list_id)
            return None
        seen.add(code)
        return Choice(code, label)

    # -- sections -----------------------------------------------------------------------------

    def _sections(self, node: Node | None, lists: dict[str, ChoiceList]) -> list[Section]:
        sections: list[Section] = []
        items = self.expect_seq(node, "`sections`", "`- id: tumour`")
        if items is None:
            return sections
        seen = _Seen()
        for item in items:
            section = self._section(item, len(sections), lists, seen)
            if section is not None:
                sections.append(section)
        return sections

    def _section(
        self, node: Node, index: int, lists: dict[str, ChoiceList], seen: _Seen
    ) -> Section | None:
        item = self.expect_map(node, "a section", "`- id: tumour`")
        if item is None:
            return None
        self.keys(item, SECTION_KEYS, "a section")
        id_node = self.need(item, "id", "a section", "tumour")
        sid = self._unique_id(id_node, item, seen.sections, DUPLICATE_SECTION)
        sid = sid or f"section_{index + 1}"
        title = self.text(self.need(item, "title", "a section", "{en: …}"), "a section title")
        repeat = self._repeat(item.get("repeat"))
        group = sid if repeat is not None else None
        show_if, show_text = self.expression(item.get("show_if"), "show_if", VType.BOOL, sid, None)
        fields_node = self.need(item, "fields", "a section", "a list of fields")
        fields = self._section_fields(fields_node, sid, group, lists, seen)
        return Section(sid, title, tuple(fields), item.loc, repeat, show_if, show_text)

    def _section_fields(
        self,
        node: Node | None,
        sid: str,
        group: str | None,
        lists: dict[str, ChoiceList],
        seen: _Seen,
    ) -> list[Field]:
        items = self.expect_seq(node, "`fields`", "`- id: x`")
        if items is None:
            return []
        fields: list[Field] = []
        for field_node in items:
            built = self._field(field_node, sid, group, lists, seen.fields)
            if built is not None:
                fields.append(built)
        if not len(items):
            self.p.add(EMPTY_SECTION, items.loc, id=sid)
        return fields

    def _repeat(self, node: Node | None) -> Repeat | None:
        if node is None:
            return None
        if isinstance(node, Scalar) and node.value is True:
            return Repeat()
        if not isinstance(node, Map):
            self.p.add(
                BAD_REPEAT, node.loc, problem=f"`repeat` must be a mapping, found {kind_of(node)}"
            )
            return None
        self.keys(node, ("min", "max"), "repeat")
        low_node, high_node = node.get("min"), node.get("max")
        low = self.whole(low_node, "min", 0, 1000) if low_node is not None else 0
        high = self.whole(high_node, "max", 1, 1000) if high_node is not None else 50
        if low is not None and high is not None and low > high:
            self.p.add(BAD_REPEAT, node.loc, problem=f"min rows ({low}) is more than max ({high})")
            return None
        return Repeat(low or 0, high or 50)

    # -- fields -------------------------------------------------------------------------------

    def _field(
        self,
        node: Node,
        section: str,
        group: str | None,
        lists: dict[str, ChoiceList],
        seen: dict[str, Location],
    ) -> Field | None:
        item = self.expect_map(node, "a field", "`- id: weight`")
        if item is None:
            return None
        self.keys(item, FIELD_KEYS, "a field")
        id_node = self.need(item, "id", "a field", "weight_kg")
        fid = self._unique_id(id_node, item, seen, DUPLICATE_FIELD)
        fid = fid or f"field_line_{item.loc.line}"
        ftype = self._field_type(self.need(item, "type", f"field `{fid}`", "text"))
        label = self.text(
            self.need(item, "label", f"field `{fid}`", "{en: …}"), f"the label of `{fid}`"
        )
        if ftype is None:
            return None
        self._options_for_other_types(item, ftype)
        at = _FieldAt(item, fid, ftype, group)
        opts = self._plain_options(at)
        opts.update(self._choice_options(at, lists))
        opts.update(self._bounds(at))
        opts["show_if"], opts["show_if_text"] = self.expression(
            item.get("show_if"), "show_if", VType.BOOL, fid, group
        )
        opts.update(self._calc(at))
        opts["checks"] = self._checks(item.get("checks"), fid, group)
        return Field(
            id=fid,
            type=ftype,
            label=label,
            loc=item.loc,
            section=section,
            repeat=group,
            **{k: v for k, v in opts.items() if v is not None},
        )

    def _field_type(self, node: Node | None) -> FieldType | None:
        word = self.expect_word(node, "`type`", "`type: integer`")
        if word is None:
            return None
        try:
            return FieldType(str(word.value))
        except ValueError:
            hint = suggest(str(word.value), list(FieldType), "types")
            self.p.add(UNKNOWN_TYPE, word.loc, value=word.text, hint=hint)
            return None

    def _options_for_other_types(self, node: Map, ftype: FieldType) -> None:
        for key, _value in node:
            applies = APPLIES.get(str(key.value))
            if applies is not None and ftype not in applies:
                self.p.add(
                    OPTION_NOT_FOR_TYPE,
                    key.loc,
                    key=key.text,
                    type=ftype.value,
                    types=", ".join(sorted(t.value for t in applies)),
                )

    def _plain_options(self, at: _FieldAt) -> dict[str, Any]:
        """Hint, unit, flags, `required`, and the number and text options."""
        get = at.node.get
        opts: dict[str, Any] = {"hint": self.text(get("hint"), f"the hint of `{at.id}`")}
        unit = self.expect_word(get("unit"), "`unit`", "`unit: mg`")
        if unit is not None:
            opts["unit"] = str(unit.value)
        for key in ("readonly", "sdv", "identifier"):
            opts[key] = self.flag(get(key), key)
        required = get("required")
        if isinstance(required, Scalar) and isinstance(required.value, str):
            opts["required_if"], opts["required_if_text"] = self.expression(
                required, "required", VType.BOOL, at.id, at.group
            )  # a condition: required while it holds
        else:
            opts["required"] = self.flag(required, "required")
        if (decimals := at.option("decimals")) is not None:
            opts["decimals"] = self.whole(decimals, "decimals", 0, 10)
        if (max_length := at.option("max_length")) is not None:
            opts["max_length"] = self.whole(max_length, "max_length", 1, 100_000)
        if (pattern := at.option("pattern")) is not None:
            opts["pattern"] = self._pattern(pattern)
        if (message := at.option("pattern_message")) is not None:
            if pattern is None:
                where = at.node.key("pattern_message") or at.node
                self.p.add(OPTION_NEEDS, where.loc, option="pattern_message", needs="pattern")
            opts["pattern_message"] = self.text(message, "pattern_message")
        return opts

    def _choice_options(self, at: _FieldAt, lists: dict[str, ChoiceList]) -> dict[str, Any]:
        """Choices, widget, terminology codes and the default (checked against the choices)."""
        choices = self._field_choices(at.node.get("choices"), at, lists)
        opts: dict[str, Any] = {"choices": choices}
        if (widget := at.option("widget")) is not None:
            opts["widget"] = self._widget(widget, at.type)
        if (codes := at.node.get("codes")) is not None:
            opts["codes"] = self._codes(codes)
        if (default := at.option("default")) is not None:
            opts["default"] = self._default(default, at.type, choices)
        return opts

    def _bounds(self, at: _FieldAt) -> dict[str, Bound]:
        """min and max: plain values checked now, expressions (e.g. `today()`) in pass two."""
        literals = self._literal_bounds(at.node, at.type)
        bounds: dict[str, Bound] = {}
        for key in ("min", "max"):
            node = at.option(key)
            if node is None:
                continue
            if _is_literal(node, at.type):
                if key in literals:
                    bounds[key] = Bound(None, node.text, literals[key])
                continue  # else a bad literal, already reported
            bound, text = self.expression(node, key, VTYPE_OF.get(at.type), at.id, at.group)
            if bound is not None:
                bounds[key] = Bound(bound, text)
        return bounds

    def _calc(self, at: _FieldAt) -> dict[str, Any]:
        calc_node = at.node.get("calc")
        if at.type is FieldType.CALC:
            if calc_node is None:
                self.p.add(
                    CALC_MISPLACED,
                    at.node.loc,
                    problem=f"calc field `{at.id}` has no `calc:`",
                    fix='add `calc: "…"` with the expression that computes it',
                )
            calc, calc_text = self.expression(calc_node, "calc", None, at.id, at.group)
            return {"calc": calc, "calc_text": calc_text}
        if calc_node is not None:
            self.p.add(
                CALC_MISPLACED,
                (at.node.key("calc") or at.node).loc,
                problem=f"`calc:` on a {at.type.value} field",
                fix="set `type: calc` to compute this field, or remove `calc:`",
            )
        return {}

    def _pattern(self, node: Node) -> re.Pattern[str] | None:
        word = self.expect_word(node, "`pattern`", "`pattern: '[A-Z]{2}[0-9]{4}'`")
        if word is None:
            return None
        try:
            return re.compile(str(word.value))
        except re.error as err:
            self.p.add(BAD_PATTERN, word.loc, problem=str(err))
            return None

    def _widget(self, node: Node, ftype: FieldType) -> str | None:
        allowed = WIDGETS[ftype]
        if isinstance(node, Scalar) and node.value in allowed:
            return str(node.value)
        value = node.text if isinstance(node, Scalar) else kind_of(node)
        self.p.add(BAD_WIDGET, node.loc, value=value, type=ftype.value, widgets=", ".join(allowed))
        return None

    def _field_choices(
        self, node: Node | None, at: _FieldAt, lists: dict[str, ChoiceList]
    ) -> ChoiceList | None:
        if at.type not in APPLIES["choices"] or (node is None and at.type is FieldType.CALC):
            return None  # a calculation names its codes' labels only if it yields codes
        if node is None:
            self.p.add(
                CHOICES_MISPLACED,
                at.node.loc,
                problem=f"{at.type.value} field `{at.id}` has no `choices`",
                fix="name a choice list (`choices: inrg_stage`) or list them inline",
            )
            return None
        if isinstance(node, Seq):
            return self.choice_list(at.id, node)
        if isinstance(node, Scalar) and isinstance(node.value, str):
            return self._named_list(node, node.value, lists)
        self.wrong_kind(node, "`choices`", "a list name or a list", "`choices: inrg_stage`")
        return None

    def _named_list(
        self, node: Scalar, name: str, lists: dict[str, ChoiceList]
    ) -> ChoiceList | None:
        found = lists.get(name) or self.c.shared_lists.get(name)
        if found is None:
            known = sorted({*lists, *self.c.shared_lists})
            hint = (
                suggest(name, known, "choice lists") if known else "define it under `choice_lists:`"
            )
            self.p.add(UNKNOWN_CHOICE_LIST, node.loc, value=name, hint=hint)
        return found

    def _codes(self, node: Node) -> tuple[Code, ...]:
        if not isinstance(node, Seq):
            self.p.add(BAD_CODE_ENTRY, node.loc, problem=f"found {kind_of(node)}, not a list")
            return ()
        out = []
        for item in node:
            if not isinstance(item, Map):
                self.p.add(BAD_CODE_ENTRY, item.loc, problem=f"found {kind_of(item)}")
                continue
            self.keys(item, ("system", "code", "display"), "a terminology code")
            system, code = item.get("system"), item.get("code")
            if not isinstance(system, Scalar) or not str(system.value or "").startswith(
                ("http://", "https://", "urn:")
            ):
                self.p.add(BAD_CODE_ENTRY, (system or item).loc, problem="`system` is not a URI")
                continue
            if not isinstance(code, Scalar) or code.value in (None, ""):
                self.p.add(BAD_CODE_ENTRY, (code or item).loc, problem="`code` is missing")
                continue
            display = item.get("display")
            out.append(
                Code(
                    str(system.value),
                    str(code.text if not code.quoted else code.value),
                    str(display.value) if isinstance(display, Scalar) else "",
                )
            )
        return tuple(out)

    def _default(self, node: Node, ftype: FieldType, choices: ChoiceList | None) -> Value:
        if not isinstance(node, Scalar):
            self.p.add(
                BAD_DEFAULT,
                node.loc,
                value=kind_of(node),
                type=ftype.value,
                problem="not a single value",
                fix="write one value",
            )
            return None
        try:
            return parse_literal(node.value, ftype, choices)
        except BadValue as err:
            self.p.add(
                BAD_DEFAULT,
                node.loc,
                value=repr(node.text),
                type=ftype.value,
                problem=err.problem,
                fix=err.fix,
            )
            return None

    def _literal_bounds(self, node: Map, ftype: FieldType) -> dict[str, Value]:
        """min/max given as plain values must be valid for the type and in order."""
        values: dict[str, Value] = {}
        for key in ("min", "max"):
            bound = node.get(key)
            if ftype not in APPLIES[key] or not _is_literal(bound, ftype):
                continue
            try:
                values[key] = parse_literal(bound.value, ftype, None)
            except BadValue as err:
                self.p.add(
                    MIN_MAX_LITERAL,
                    bound.loc,
                    key=key,
                    value=repr(bound.text),
                    type=ftype.value,
                    problem=err.problem,
                    fix=err.fix,
                )
        low, high = values.get("min"), values.get("max")
        high_node = node.get("max")
        if high_node is not None and compare(">", low, high):
            self.p.add(MIN_ABOVE_MAX, high_node.loc, min=low, max=high)
        return {k: v for k, v in values.items() if v is not None}

    def _checks(self, node: Node | None, fid: str, group: str | None) -> tuple[Check, ...]:
        items = self.expect_seq(node, "`checks`", '`- when: "x < 0"`')
        if items is None:
            return ()
        checks: list[Check] = []
        for n, item in enumerate(items, start=1):
            check = self._check(item, n, fid, group)
            if check is not None:
                checks.append(check)
        return tuple(checks)

    def _check(self, node: Node, n: int, fid: str, group: str | None) -> Check | None:
        item = self.expect_map(node, "a check", '`- when: "x < 0"`')
        if item is None:
            return None
        self.keys(item, CHECK_KEYS, "a check")
        when_node = self.need(item, "when", f"check {n} of `{fid}`", '"value < 0"')
        when, when_text = self.expression(when_node, "a check's `when`", VType.BOOL, fid, group)
        severity = self._severity(item.get("severity"))
        message = self.text(
            self.need(item, "message", f"check {n} of `{fid}`", "{en: …}"),
            f"the message of check {n} of `{fid}`",
        )
        check_id = f"{fid}.{n}"
        if item.get("id") is not None:
            check_id = self.ident(item.get("id"), "id") or check_id
        if when is None:
            return None
        return Check(check_id, when, when_text, severity, message, item.loc)

    def _severity(self, node: Node | None) -> Severity:
        if node is None:
            return Severity.ERROR
        if isinstance(node, Scalar) and node.value in ("error", "warning"):
            return Severity(str(node.value))
        self.p.add(BAD_SEVERITY, node.loc, value=node.text if isinstance(node, Scalar) else "?")
        return Severity.ERROR

    # -- pass two: names, types, cycles ------------------------------------------------------

    def _env(self, sections: Sequence[Section]) -> dict[str, FieldInfo]:
        env: dict[str, FieldInfo] = {
            name: FieldInfo(vtype, context=True) for name, vtype in self.c.context.items()
        }
        for section in sections:
            group = section.id if section.repeat is not None else None
            if group is not None:
                env[group] = FieldInfo(VType.GROUP)
            for f in section.fields:
                if f.type is FieldType.NOTE:
                    continue
                codes = f.choices.codes if f.choices is not None else None
                env[f.id] = FieldInfo(f.vtype, repeat=group, codes=codes)
        return env

    def _calculations(
        self, fields: Sequence[Field], env: dict[str, FieldInfo]
    ) -> tuple[dict[str, VType], list[str]]:
        calcs = {f.id: f for f in fields if f.type is FieldType.CALC and f.calc is not None}
        exprs = {f.id: f.calc for f in fields if f.type is FieldType.CALC and f.calc is not None}
        deps = {fid: ex.references(calc) & calcs.keys() for fid, calc in exprs.items()}
        order: list[str] = []
        state: dict[str, int] = {}
        reported: set[frozenset[str]] = set()

        def visit(fid: str, path: list[str]) -> None:
            if state.get(fid) == 2:
                return
            if state.get(fid) == 1:
                cycle = [*path[path.index(fid) :], fid]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    self.p.add(CALC_CYCLE, calcs[cycle[0]].loc, path=" → ".join(cycle))
                return
            state[fid] = 1
            for dep in sorted(deps[fid]):
                visit(dep, [*path, fid])
            state[fid] = 2
            order.append(fid)

        for fid in calcs:
            visit(fid, [])
        types: dict[str, VType] = {}
        in_cycle = {f for key in reported for f in key}
        for fid in order:
            if fid in in_cycle:
                types[fid] = VType.ANY
                continue
            f = calcs[fid]
            local = dict(env)
            for done, vtype in types.items():
                local[done] = FieldInfo(vtype, repeat=env[done].repeat, codes=env[done].codes)
            vtype, _problems = ex.check(exprs[fid], local, row_group=f.repeat)
            if f.choices is not None and vtype in (VType.TEXT, VType.CODE):
                vtype = VType.CODE  # compared with its codes like a choice field
            types[fid] = vtype
            env[fid] = FieldInfo(vtype, repeat=env[fid].repeat, codes=env[fid].codes)
        return types, [fid for fid in order if fid not in in_cycle]

    def _calc_codes(self, item: _PendingExpr, vtype: VType, f: Field) -> None:
        """A calculation with choices gives codes, and each code it can give is one of them."""
        if f.choices is None:
            return
        if vtype not in (VType.TEXT, VType.CODE, VType.ANY, VType.BLANK):
            self.p.add(CALC_CHOICES, item.loc, id=f.id, found=_type_name(vtype))
            return
        codes = f.choices.codes
        for literal in _results(item.expr):
            if isinstance(literal, String) and literal.value not in codes:
                self.p.add(
                    CALC_UNKNOWN_CODE,
                    item.loc.shifted(literal.offset),
                    id=f.id,
                    code=literal.value,
                    codes=", ".join(sorted(codes)),
                )

    def _check_expressions(self, env: dict[str, FieldInfo], fields: dict[str, Field]) -> None:
        for item in self.c.pending:
            vtype, problems = ex.check(item.expr, env, row_group=item.row_group)
            for problem in problems:
                self.p.add(problem.code, item.loc.shifted(problem.offset), **problem.params)
            if item.role == "show_if" and item.field_id in ex.references(item.expr):
                self.p.add(SELF_REFERENCE, item.loc, id=item.field_id)
            if any(not p.is_warning for p in problems):
                continue
            expected = item.expected
            if item.role == "calc":
                self._calc_codes(item, vtype, fields[item.field_id])
                if vtype not in STORABLE | {VType.ANY, VType.BLANK}:
                    self.p.add(
                        EXPR_TYPE,
                        item.loc,
                        role="a calculation",
                        expected="a value to store (number, text, date, time or yes/no)",
                        found=vtype.value,
                        fix="compute a single value, e.g. with count() or selected()",
                    )
                continue
            if expected is None or vtype in (expected, VType.ANY, VType.BLANK):
                continue
            if expected is VType.TEXT and vtype is VType.CODE:
                continue
            self.p.add(
                EXPR_TYPE,
                item.loc,
                role=_role_name(item.role, item.field_id),
                expected=_type_name(expected),
                found=_type_name(vtype),
                fix=_type_fix(item.role),
            )


def _role_name(role: str, field_id: str) -> str:
    return f"the {role} of `{field_id}`" if role in ("show_if", "min", "max", "required") else role


def _type_name(vtype: VType) -> str:
    return {VType.BOOL: "yes/no (true or false)", VType.NUMBER: "a number"}.get(
        vtype, f"a {vtype.value}"
    )


def _type_fix(role: str) -> str:
    if role in ("min", "max"):
        return "give a limit of the field's own type, e.g. a date for a date field"
    return "write a condition, e.g. `x > 3` or `mycn == 'amplified'`"


def _is_literal(node: Node | None, ftype: FieldType) -> TypeGuard[Scalar]:
    """A plain limit (number, date, time) rather than an expression such as `today()`."""
    if not isinstance(node, Scalar) or node.value is None:
        return False
    if not isinstance(node.value, str):
        return True
    return _looks_literal(node.value, ftype)


def _looks_literal(text: str, ftype: FieldType) -> bool:
    if ftype in (FieldType.INTEGER, FieldType.DECIMAL):
        try:
            Decimal(text)
        except InvalidOperation:
            return False
        return True
    return bool(
        re.fullmatch(
            r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:]+)?|[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?", text
        )
    )


def _results(expr: ex.Expr) -> list[ex.Expr]:
    """The nodes whose value can be an expression's result: through if() and coalesce()."""
    out, stack = [], [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Call) and node.function == "if" and len(node.args) == 3:
            stack.extend(node.args[1:])
        elif isinstance(node, Call) and node.function == "coalesce":
            stack.extend(node.args)
        else:
            out.append(node)
    return out
