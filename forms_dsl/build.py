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
from typing import Any

from forms_dsl import expr as ex
from forms_dsl.decision import build_tables
from forms_dsl.errors import ErrorCode, Location, Problems
from forms_dsl.expr.nodes import Call, String
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
from forms_dsl.reader import (
    BAD_ID,
    WRONG_KIND,
    Reader,
    suggest,
)
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
BAD_NUMBER_OPTION = ErrorCode("E225", "`{key}` must be {expected}, found {found}", "{fix}")
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

ID_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
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
#: Which options each field type takes (everything else is E216).
APPLIES = {
    "hint": ALL,
    "unit": {FieldType.INTEGER, FieldType.DECIMAL, FieldType.CALC},
    "default": ANSWERABLE,
    "readonly": ANSWERABLE,
    "required": ANSWERABLE,
    "min": {
        FieldType.INTEGER,
        FieldType.DECIMAL,
        FieldType.DATE,
        FieldType.DATETIME,
        FieldType.TIME,
    },
    "max": {
        FieldType.INTEGER,
        FieldType.DECIMAL,
        FieldType.DATE,
        FieldType.DATETIME,
        FieldType.TIME,
    },
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

    def kind(self, node: Node | None, key: str, expected: type, example: str) -> bool:
        if node is None:
            return False
        ok = isinstance(node, expected)
        if ok and expected is Scalar:
            ok = isinstance(node.value, str) and node.value != ""  # type: ignore[union-attr]
        if not ok:
            names = {Map: "a mapping", Seq: "a list", Scalar: "text"}
            self.p.add(
                WRONG_KIND,
                node.loc,
                key=f"`{key}`",
                expected=names[expected],
                found=kind_of(node),
                example=example,
            )
        return ok

    def ident(self, node: Node | None, key: str) -> str | None:
        if node is None or not self.kind(node, key, Scalar, "`id: tumour_size`"):
            return None
        value = str(node.value)  # type: ignore[union-attr]
        if not ID_RE.fullmatch(value):
            self.p.add(BAD_ID, node.loc, value=value)
            return None
        return value

    def flag(self, node: Node | None, key: str) -> bool:
        if node is None:
            return False
        if isinstance(node, Scalar) and isinstance(node.value, bool):
            return node.value
        self.p.add(
            WRONG_KIND,
            node.loc,
            key=f"`{key}`",
            expected="true or false",
            found=kind_of(node),
            example=f"`{key}: true`",
        )
        return False

    def whole(self, node: Node, key: str, low: int, high: int) -> int | None:
        if isinstance(node, Scalar) and type(node.value) is int and low <= node.value <= high:
            return node.value
        self.p.add(
            BAD_NUMBER_OPTION,
            node.loc,
            key=key,
            expected=f"a whole number from {low} to {high}",
            found=node.text if isinstance(node, Scalar) else kind_of(node),
            fix=f"write e.g. `{key}: {low if low > 0 else 1}`",
        )
        return None

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
        if not isinstance(node, Scalar) or not isinstance(node.value, str):
            if isinstance(node, Scalar) and node.value is not None and role in ("min", "max"):
                text = node.text
            else:
                self.p.add(BAD_EXPRESSION_KIND, node.loc, role=role, found=kind_of(node))
                return None, ""
        else:
            text = node.value
        start = node.loc.shifted(1) if node.quoted else node.loc  # type: ignore[union-attr]
        try:
            parsed = ex.parse(text)
        except ex.ExprError as err:
            self.p.add(err.code, start.shifted(err.offset), **err.params)
            return None, text
        self.c.pending.append(
            _PendingExpr(parsed, text, start, role, expected, field_id, row_group)
        )
        return parsed, text

    # -- the form -----------------------------------------------------------------------------

    def build(self, root: Node) -> Form | None:
        if not isinstance(root, Map):
            self.p.add(
                WRONG_KIND,
                root.loc,
                key="the file",
                expected="a mapping",
                found=kind_of(root),
                example="`form: diagnosis`",
            )
            return None
        self.keys(root, FORM_KEYS, "a form")
        form_id = self.ident(self.need(root, "form", "a form", "diagnosis"), "form")
        version = self._version(self.need(root, "version", "a form", "1"))
        title = self.text(self.need(root, "title", "a form", "{en: Diagnosis}"), "the form title")
        lists = self._choice_lists(root.get("choice_lists"))
        sections_node = self.need(root, "sections", "a form", "a list of sections")
        sections = self._sections(sections_node, lists)
        fields = [f for s in sections for f in s.fields]
        env = self._env(sections)
        calc_types, order = self._calculations(fields, env)
        sections = tuple(
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
        self._check_expressions(env, {f.id: f for s in sections for f in s.fields})
        tables = {}
        tables_node = root.get("decision_tables")
        if tables_node is not None and self.kind(tables_node, "decision_tables", Map, "a table"):
            inputs = {
                k: v for k, v in env.items() if v.repeat is None and v.vtype is not VType.GROUP
            }
            tables = build_tables(tables_node, inputs, self.languages, self.p)  # type: ignore[arg-type]
        if form_id is None or version is None:
            return None
        return Form(
            id=form_id,
            version=version,
            title=title,
            sections=tuple(sections),
            choice_lists=lists,
            decision_tables=tables,
            languages=self.languages,
            file=self.c.file,
            context=dict(self.c.context),
            calc_order=tuple(order),
        )

    def _version(self, node: Node | None) -> int | None:
        if node is None:
            return None
        if isinstance(node, Scalar) and type(node.value) is int and node.value >= 1:
            return node.value
        found = node.text if isinstance(node, Scalar) else kind_of(node)
        self.p.add(BAD_VERSION, node.loc, found=found)
        return None

    def _choice_lists(self, node: Node | None) -> dict[str, ChoiceList]:
        lists: dict[str, ChoiceList] = {}
        if node is None or not self.kind(node, "choice_lists", Map, "`yes_no_unknown: [...]`"):
            return lists
        for key, value in node:  # type: ignore[union-attr]
            list_id = self.ident(key, "a choice list name")
            built = self.choice_list(list_id or str(key.value), value)
            if list_id and built is not None:
                lists[list_id] = built
        return lists

    def choice_list(self, list_id: str, node: Node) -> ChoiceList | None:
        if not self.kind(node, list_id, Seq, "`- {code: L1, label: {en: …}}`"):
            return None
        choices: list[Choice] = []
        seen: set[str] = set()
        for item in node:  # type: ignore[union-attr]
            if not isinstance(item, Map):
                self.p.add(
                    WRONG_KIND,
                    item.loc,
                    key=f"an entry of {list_id}",
                    expected="a mapping",
                    found=kind_of(item),
                    example="`{code: L1, label: {en: …}}`",
                )
                continue
            self.keys(item, ("code", "label"), f"an entry of `{list_id}`")
            code_node = self.need(item, "code", f"an entry of `{list_id}`", "L1")
            label = self.text(self.need(item, "label", "a choice", "{en: …}"), "a choice label")
            if not isinstance(code_node, Scalar):
                continue
            code = str(code_node.value) if code_node.value is not None else ""
            if isinstance(code_node.value, bool) or not CODE_RE.fullmatch(code):
                self.p.add(BAD_CHOICE_CODE, code_node.loc, code=code_node.text or "(empty)")
                continue
            if code in seen:
                self.p.add(DUPLICATE_CODE, code_node.loc, code=code, list=list_id)
                continue
            seen.add(code)
            choices.append(Choice(code, label))
        return ChoiceList(list_id, tuple(choices))

    def _sections(self, node: Node | None, lists: dict[str, ChoiceList]) -> list[Section]:
        sections: list[Section] = []
        if node is None or not self.kind(node, "sections", Seq, "`- id: tumour`"):
            return sections
        section_seen: dict[str, Location] = {}
        field_seen: dict[str, Location] = {}
        for item in node:  # type: ignore[union-attr]
            if not isinstance(item, Map):
                self.p.add(
                    WRONG_KIND,
                    item.loc,
                    key="a section",
                    expected="a mapping",
                    found=kind_of(item),
                    example="`- id: tumour`",
                )
                continue
            self.keys(item, SECTION_KEYS, "a section")
            section_id = self.ident(self.need(item, "id", "a section", "tumour"), "id")
            if section_id and section_id in section_seen:
                self.p.add(
                    DUPLICATE_SECTION,
                    item.get("id").loc,  # type: ignore[union-attr]
                    id=section_id,
                    first_line=section_seen[section_id].line,
                )
            elif section_id:
                section_seen[section_id] = item.loc
            sid = section_id or f"section_{len(sections) + 1}"
            title = self.text(self.need(item, "title", "a section", "{en: …}"), "a section title")
            repeat = self._repeat(item.get("repeat"))
            group = sid if repeat is not None else None
            show_if, show_text = self.expression(
                item.get("show_if"), "show_if", VType.BOOL, sid, None
            )
            fields_node = self.need(item, "fields", "a section", "a list of fields")
            fields: list[Field] = []
            if fields_node is not None and self.kind(fields_node, "fields", Seq, "`- id: x`"):
                for field_node in fields_node:  # type: ignore[union-attr]
                    built = self._field(field_node, sid, group, lists, field_seen)
                    if built is not None:
                        fields.append(built)
                if not len(fields_node):  # type: ignore[arg-type]
                    self.p.add(EMPTY_SECTION, fields_node.loc, id=sid)
            sections.append(
                Section(sid, title, tuple(fields), item.loc, repeat, show_if, show_text)
            )
        return sections

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
        low = self.whole(node.get("min"), "min", 0, 1000) if node.get("min") else 0
        high = self.whole(node.get("max"), "max", 1, 1000) if node.get("max") else 50
        if low is not None and high is not None and low > high:
            self.p.add(BAD_REPEAT, node.loc, problem=f"min rows ({low}) is more than max ({high})")
            return None
        return Repeat(low or 0, high or 50)

    def _field(
        self,
        node: Node,
        section: str,
        group: str | None,
        lists: dict[str, ChoiceList],
        seen: dict[str, Location],
    ) -> Field | None:
        if not isinstance(node, Map):
            self.p.add(
                WRONG_KIND,
                node.loc,
                key="a field",
                expected="a mapping",
                found=kind_of(node),
                example="`- id: weight`",
            )
            return None
        self.keys(node, FIELD_KEYS, "a field")
        id_node = self.need(node, "id", "a field", "weight_kg")
        field_id = self.ident(id_node, "id")
        if field_id and field_id in seen:
            self.p.add(
                DUPLICATE_FIELD,
                id_node.loc,
                id=field_id,  # type: ignore[union-attr]
                first_line=seen[field_id].line,
            )
        elif field_id:
            seen[field_id] = node.loc
        fid = field_id or f"field_line_{node.loc.line}"
        type_node = self.need(node, "type", f"field `{fid}`", "text")
        ftype = None
        if type_node is not None and self.kind(type_node, "type", Scalar, "`type: integer`"):
            try:
                ftype = FieldType(type_node.value)  # type: ignore[union-attr]
            except ValueError:
                self.p.add(
                    UNKNOWN_TYPE,
                    type_node.loc,
                    value=type_node.text,  # type: ignore[union-attr]
                    hint=suggest(str(type_node.value), list(FieldType), "types"),
                )  # type: ignore[union-attr]
        label = self.text(
            self.need(node, "label", f"field `{fid}`", "{en: …}"), f"the label of `{fid}`"
        )
        if ftype is None:
            return None
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
        get = node.get
        opts: dict[str, Any] = {}
        opts["hint"] = self.text(get("hint"), f"the hint of `{fid}`")
        if get("unit") is not None and self.kind(get("unit"), "unit", Scalar, "`unit: mg`"):
            opts["unit"] = str(get("unit").value)  # type: ignore[union-attr]
        for key in ("readonly", "sdv", "identifier"):
            opts[key] = self.flag(get(key), key)
        required = get("required")
        if isinstance(required, Scalar) and isinstance(required.value, str):
            opts["required_if"], opts["required_if_text"] = self.expression(
                required, "required", VType.BOOL, fid, group
            )  # a condition: required while it holds
        else:
            opts["required"] = self.flag(required, "required")
        if get("decimals") is not None and ftype in APPLIES["decimals"]:
            opts["decimals"] = self.whole(get("decimals"), "decimals", 0, 10)
        if get("max_length") is not None and ftype in APPLIES["max_length"]:
            opts["max_length"] = self.whole(get("max_length"), "max_length", 1, 100_000)
        if get("pattern") is not None and ftype in APPLIES["pattern"]:
            opts["pattern"] = self._pattern(get("pattern"))
        if get("pattern_message") is not None and ftype in APPLIES["pattern_message"]:
            if get("pattern") is None:
                self.p.add(
                    OPTION_NEEDS, node.key("pattern_message").loc,  # type: ignore[union-attr]
                    option="pattern_message", needs="pattern",
                )  # fmt: skip
            opts["pattern_message"] = self.text(get("pattern_message"), "pattern_message")
        choices = self._field_choices(get("choices"), ftype, fid, node, lists)
        opts["choices"] = choices
        if get("widget") is not None and ftype in APPLIES["widget"]:
            opts["widget"] = self._widget(get("widget"), ftype)
        if get("codes") is not None:
            opts["codes"] = self._codes(get("codes"))
        vtype = VTYPE_OF.get(ftype)
        if get("default") is not None and ftype in APPLIES["default"]:
            opts["default"] = self._default(get("default"), ftype, choices)
        literals = self._literal_bounds(node, ftype)
        for key in ("min", "max"):
            bound_node = get(key)
            if bound_node is None or ftype not in APPLIES[key]:
                continue
            if key in literals:
                opts[key] = Bound(None, bound_node.text, literals[key])  # type: ignore[union-attr]
                continue
            if _is_literal(bound_node, ftype):
                continue  # a bad literal, already reported
            bound, text = self.expression(bound_node, key, vtype, fid, group)
            if bound is not None:
                opts[key] = Bound(bound, text)
        show_if, show_text = self.expression(get("show_if"), "show_if", VType.BOOL, fid, group)
        opts["show_if"], opts["show_if_text"] = show_if, show_text
        if ftype is FieldType.CALC:
            calc_node = get("calc")
            if calc_node is None:
                self.p.add(
                    CALC_MISPLACED,
                    node.loc,
                    problem=f"calc field `{fid}` has no `calc:`",
                    fix='add `calc: "…"` with the expression that computes it',
                )
            calc, calc_text = self.expression(calc_node, "calc", None, fid, group)
            opts["calc"], opts["calc_text"] = calc, calc_text
        elif get("calc") is not None:
            self.p.add(
                CALC_MISPLACED,
                node.key("calc").loc,  # type: ignore[union-attr]
                problem=f"`calc:` on a {ftype.value} field",
                fix="set `type: calc` to compute this field, or remove `calc:`",
            )
        opts["checks"] = self._checks(get("checks"), fid, group)
        return Field(
            id=fid,
            type=ftype,
            label=label,
            loc=node.loc,
            section=section,
            repeat=group,
            **{k: v for k, v in opts.items() if v is not None},
        )

    def _pattern(self, node: Node) -> re.Pattern[str] | None:
        if not self.kind(node, "pattern", Scalar, "`pattern: '[A-Z]{2}[0-9]{4}'`"):
            return None
        try:
            return re.compile(str(node.value))  # type: ignore[union-attr]
        except re.error as err:
            self.p.add(BAD_PATTERN, node.loc, problem=str(err))
            return None

    def _widget(self, node: Node, ftype: FieldType) -> str | None:
        allowed = WIDGETS[ftype]
        if isinstance(node, Scalar) and node.value in allowed:
            return str(node.value)
        value = node.text if isinstance(node, Scalar) else kind_of(node)
        self.p.add(BAD_WIDGET, node.loc, value=value, type=ftype.value, widgets=", ".join(allowed))
        return None

    def _field_choices(
        self,
        node: Node | None,
        ftype: FieldType,
        fid: str,
        field_node: Map,
        lists: dict[str, ChoiceList],
    ) -> ChoiceList | None:
        if ftype not in APPLIES["choices"] or (node is None and ftype is FieldType.CALC):
            return None  # a calculation names its codes' labels only if it yields codes
        if node is None:
            self.p.add(
                CHOICES_MISPLACED,
                field_node.loc,
                problem=f"{ftype.value} field `{fid}` has no `choices`",
                fix="name a choice list (`choices: inrg_stage`) or list them inline",
            )
            return None
        if isinstance(node, Seq):
            return self.choice_list(fid, node)
        if isinstance(node, Scalar) and isinstance(node.value, str):
            found = lists.get(node.value) or self.c.shared_lists.get(node.value)
            if found is None:
                known = sorted({*lists, *self.c.shared_lists})
                self.p.add(
                    UNKNOWN_CHOICE_LIST,
                    node.loc,
                    value=node.value,
                    hint=suggest(node.value, known, "choice lists")
                    if known
                    else "define it under `choice_lists:`",
                )
            return found
        self.p.add(
            WRONG_KIND,
            node.loc,
            key="`choices`",
            expected="a list name or a list",
            found=kind_of(node),
            example="`choices: inrg_stage`",
        )
        return None

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
        if low is not None and high is not None and low > high:  # type: ignore[operator]
            self.p.add(MIN_ABOVE_MAX, node.get("max").loc, min=low, max=high)  # type: ignore[union-attr]
        return {k: v for k, v in values.items() if v is not None}

    def _checks(self, node: Node | None, fid: str, group: str | None) -> tuple[Check, ...]:
        if node is None:
            return ()
        if not self.kind(node, "checks", Seq, '`- when: "x < 0"`'):
            return ()
        checks: list[Check] = []
        for n, item in enumerate(node, start=1):  # type: ignore[arg-type]
            if not isinstance(item, Map):
                self.p.add(
                    WRONG_KIND,
                    item.loc,
                    key="a check",
                    expected="a mapping",
                    found=kind_of(item),
                    example='`- when: "x < 0"`',
                )
                continue
            self.keys(item, CHECK_KEYS, "a check")
            when_node = self.need(item, "when", f"check {n} of `{fid}`", '"value < 0"')
            when, when_text = self.expression(when_node, "a check's `when`", VType.BOOL, fid, group)
            severity = Severity.ERROR
            sev_node = item.get("severity")
            if sev_node is not None:
                if isinstance(sev_node, Scalar) and sev_node.value in ("error", "warning"):
                    severity = Severity(sev_node.value)
                else:
                    self.p.add(
                        BAD_SEVERITY,
                        sev_node.loc,
                        value=sev_node.text if isinstance(sev_node, Scalar) else "?",
                    )
            message = self.text(
                self.need(item, "message", f"check {n} of `{fid}`", "{en: …}"),
                f"the message of check {n} of `{fid}`",
            )
            check_id = f"{fid}.{n}"
            if item.get("id") is not None:
                check_id = self.ident(item.get("id"), "id") or check_id
            if when is not None:
                checks.append(Check(check_id, when, when_text, severity, message, item.loc))
        return tuple(checks)

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
        deps = {fid: ex.references(f.calc) & calcs.keys() for fid, f in calcs.items()}  # type: ignore[arg-type]
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
            vtype, _problems = ex.check(f.calc, local, row_group=f.repeat)  # type: ignore[arg-type]
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


def _is_literal(node: Node | None, ftype: FieldType) -> bool:
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
