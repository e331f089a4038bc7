"""A form definition as an R4 Questionnaire, and stored answers as QuestionnaireResponse answers.

The registry files each locked form record as a QuestionnaireResponse whose `questionnaire` is
`{base}/{study}/Questionnaire/{form}|{version}`: this module writes that Questionnaire, so the
registry can read the answers (types, labels in every study language, units, codes) without
knowing our YAML. `fields_sent`, `group_link_id`, `item_type`, `code_system` and `answer` are
the one mapping the QuestionnaireResponse builder reuses, so a response holds exactly the items
the Questionnaire has, each answer of the type its item declares.

What leaves the site is decided here too (`fields_sent`, which the response builder uses as
well): fields marked `identifier: true` and the calculations reading them are left out entirely,
and `allowed` (the study's registry allow-list) keeps only the fields it names.
Conditions are carried as `enableWhen` only when a `show_if` is one field compared with a
literal; anything else is left out, since the portal's server decides what is shown and stored,
and a partial translation would mislead. Pure: no Flask, no database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from forms_dsl.expr.nodes import Binary, Bool, Call, Expr, InList, Name, Number, String, Unary
from forms_dsl.identifiers import identifier_closure
from forms_dsl.model import Field, FieldType, Form, Section
from forms_dsl.text import Text
from forms_dsl.types import VType

_SD = "http://hl7.org/fhir/StructureDefinition/"
TRANSLATION = _SD + "translation"
UNIT = _SD + "questionnaire-unit"
MIN_VALUE = _SD + "minValue"
MAX_VALUE = _SD + "maxValue"
MAX_DECIMALS = _SD + "maxDecimalPlaces"
MIN_OCCURS = _SD + "questionnaire-minOccurs"
MAX_OCCURS = _SD + "questionnaire-maxOccurs"

Json = dict[str, Any]

_ITEM_TYPES = {
    FieldType.TEXT: "string",
    FieldType.TEXTAREA: "text",
    FieldType.INTEGER: "integer",
    FieldType.DECIMAL: "decimal",
    FieldType.DATE: "date",
    FieldType.DATETIME: "dateTime",
    FieldType.TIME: "time",
    FieldType.YESNO: "boolean",
    FieldType.CHOICE: "choice",
    FieldType.MULTICHOICE: "choice",
    FieldType.NOTE: "display",
}
_CALC_TYPES = {
    VType.TEXT: "string",
    VType.CODE: "choice",
    VType.DATE: "date",
    VType.DATETIME: "dateTime",
    VType.TIME: "time",
    VType.BOOL: "boolean",
}


def item_type(field: Field) -> str:
    """The R4 item type of a field; a calculation takes the type of what it gives (a number is
    `integer` when it is rounded to whole numbers, codes are `choice` only with their list)."""
    if field.type is not FieldType.CALC:
        return _ITEM_TYPES[field.type]
    kind = field.vtype
    if kind is VType.NUMBER:
        return "integer" if field.decimals == 0 else "decimal"
    if kind is VType.CODE and field.choices is None:
        return "string"
    return _CALC_TYPES.get(kind, "string")


def group_link_id(form: Form, section: Section) -> str:
    """A section's linkId: its id, unless a field has the same one (que-2 wants every linkId
    distinct; section and field ids are unique only among themselves, and ids never hold `-`)."""
    return f"{section.id}-section" if section.id in form.fields else section.id


def code_system(form: Form, field: Field, *, study_slug: str, base: str) -> str | None:
    """The code system of a field's choices: `{base}/{study}/CodeSystem/{list}` for a list of
    the study; a list of the form (named or inline) is prefixed with the form's id, since two
    forms may give the same list name different codes and a code system has one meaning."""
    choices = field.choices
    if choices is None:
        return None
    root = f"{base.rstrip('/')}/{study_slug}/CodeSystem/"
    local = choices.id == field.id or any(choices is c for c in form.choice_lists.values())
    return root + ("-".join((form.id, choices.id)) if local else choices.id)


def withheld_fields(form: Form) -> frozenset[str]:
    """The fields that never leave the site (`forms_dsl.identifiers`, the closure the pages
    mask too)."""
    return identifier_closure(form)


def fields_sent(form: Form, allowed: Collection[str] | None = None) -> frozenset[str]:
    """The ids of the fields whose items go out: all but the withheld ones, and of those only
    the `allowed` ones when the study names them (its registry allow-list)."""
    withheld = withheld_fields(form)
    return frozenset(
        f.id for f in form if f.id not in withheld and (allowed is None or f.id in allowed)
    )


# -- the Questionnaire ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Build:
    """What every item needs: the form, the languages (the first is the text, the others
    translations), the fields that go out, and where code systems live."""

    form: Form
    languages: tuple[str, ...]
    fields: frozenset[str]
    study_slug: str
    base: str

    def system(self, field: Field) -> str | None:
        return code_system(self.form, field, study_slug=self.study_slug, base=self.base)


def questionnaire(
    form: Form,
    *,
    study_slug: str,
    base: str,
    languages: Sequence[str],
    allowed: Collection[str] | None = None,
) -> Json:
    """The form as an R4 Questionnaire: one group per section, one item per field that may
    leave the site (`fields_sent`: never an identifier item or a calculation reading one; only
    `allowed` ones when given)."""
    langs = tuple(languages) or form.languages
    build = _Build(form, langs, fields_sent(form, allowed), study_slug, base.rstrip("/"))
    items = [group for s in form.sections if (group := _group(build, s)) is not None]
    resource: Json = {
        "resourceType": "Questionnaire",
        "language": langs[0],
        "url": f"{build.base}/{study_slug}/Questionnaire/{form.id}",
        "version": str(form.version),
        "name": "".join(part[:1].upper() + part[1:] for part in form.id.split("_")),
        **_text("title", form.title, langs),
        "status": "active",
        "subjectType": ["Patient"],
    }
    if items:
        resource["item"] = items
    return resource


def _text(name: str, text: Text, languages: tuple[str, ...]) -> Json:
    """`name` in the first language, and its translations on `_name` (the core translation
    extension on the primitive's shadow element)."""
    if not text:
        return {}
    out: Json = {name: text.get(languages[0])}
    written = dict(text.items)
    translations = [
        {
            "url": TRANSLATION,
            "extension": [
                {"url": "lang", "valueCode": lang},
                {"url": "content", "valueString": written[lang]},
            ],
        }
        for lang in languages[1:]
        if written.get(lang)
    ]
    if translations:
        out[f"_{name}"] = {"extension": translations}
    return out


def _group(build: _Build, section: Section) -> Json | None:
    enable = _enable_when(build, section.show_if)
    carried = section.show_if is None or bool(enable)
    items = [_item(build, f, carried) for f in section.fields if f.id in build.fields]
    if not items:
        return None  # que-1: a group needs items
    group: Json = {
        "linkId": group_link_id(build.form, section),
        **_text("text", section.title, build.languages),
        "type": "group",
        **enable,
    }
    if section.repeat is not None:
        occurs = [(MAX_OCCURS, section.repeat.max)]
        if section.repeat.min > 0:
            occurs.insert(0, (MIN_OCCURS, section.repeat.min))
        group["extension"] = [{"url": url, "valueInteger": n} for url, n in occurs]
        group["repeats"] = True
    group["item"] = items
    return group


def _item(build: _Build, field: Field, section_carried: bool) -> Json:
    """One field's item. `required` is kept only when every condition that can hide the field
    went out as enableWhen: required-when-shown, with no way to say when, would make every
    record where the portal hid it look incomplete."""
    kind = item_type(field)
    item: Json = {"linkId": field.id, **_text("text", field.label, build.languages), "type": kind}
    enable = _enable_when(build, field.show_if)
    item.update(enable)
    carried = section_carried and (field.show_if is None or bool(enable))
    if kind == "display":
        return item  # que-3, que-6, que-9: no code, required, repeats or readOnly
    extensions = _extensions(field, kind)
    if extensions:
        item = {"extension": extensions, **item}
    if field.codes:
        item["code"] = [
            {"system": c.system, "code": c.code, **({"display": c.display} if c.display else {})}
            for c in field.codes
        ]
    if field.required and carried:
        item["required"] = True
    if field.type is FieldType.MULTICHOICE:
        item["repeats"] = True
    if field.readonly or field.type is FieldType.CALC:
        item["readOnly"] = True
    if field.max_length is not None and kind in ("string", "text"):
        item["maxLength"] = field.max_length
    if kind == "choice" and field.choices is not None:
        item["answerOption"] = [
            {"valueCoding": _option(build, field, choice.code)} for choice in field.choices.choices
        ]
    return item


def _option(build: _Build, field: Field, code: str) -> Json:
    assert field.choices is not None
    label = next(c.label for c in field.choices.choices if c.code == code)
    return {"system": build.system(field), "code": code, **_text("display", label, build.languages)}


def _extensions(field: Field, kind: str) -> list[Json]:
    """Unit, literal limits and decimal places: what a registry reader needs to read a number.
    Limits written as expressions (`max: today()`) are the server's to check, and left out."""
    out: list[Json] = []
    if field.unit and kind in ("integer", "decimal"):
        out.append({"url": UNIT, "valueCoding": {"display": field.unit}})
    for url, bound in ((MIN_VALUE, field.min), (MAX_VALUE, field.max)):
        if bound is not None and bound.expr is None and bound.value is not None:
            value = _bound_value(kind, bound.value)
            if value is not None:
                out.append({"url": url, **value})
    if field.decimals is not None and kind == "decimal":
        out.append({"url": MAX_DECIMALS, "valueInteger": field.decimals})
    return out


def _bound_value(kind: str, value: object) -> Json | None:
    if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return {"valueInteger": value}
    if kind == "decimal" and isinstance(value, int | Decimal) and not isinstance(value, bool):
        return {"valueDecimal": json_number(Decimal(value))}
    if kind == "date" and isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return {"valueDate": value.isoformat()}
    if kind == "time" and isinstance(value, dt.time):
        return {"valueTime": value.isoformat(timespec="seconds")}
    return None  # a date-time limit is a wall clock without an offset: not an R4 dateTime


# -- enableWhen -------------------------------------------------------------------------------

_FLIPPED = {"==": "==", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}
_ORDERS = frozenset({"<", ">", "<=", ">="})


def _enable_when(build: _Build, condition: Expr | None) -> Json:
    """`enableWhen` for a condition on one field and literals: `x == 'a'`, `x > 3`, `x != 'a'`,
    `x in ['a', 'b']`, `selected(x, 'a')` or a yes/no `x`. Any other condition, or one on a field
    that does not go out, gives nothing (the server alone decides then)."""
    conditions, behaviour = _conditions(build, condition) if condition is not None else ([], "")
    if not conditions:
        return {}
    out: Json = {"enableWhen": conditions}
    if len(conditions) > 1:
        out["enableBehavior"] = behaviour
    return out


def _conditions(build: _Build, expr: Expr) -> tuple[list[Json], str]:
    if isinstance(expr, Name):
        field = _question(build, expr.name)
        if field is not None and item_type(field) == "boolean":
            return [_when(field, "=", {"answerBoolean": True})], "all"
    if isinstance(expr, Binary) and expr.op in _FLIPPED:
        return _comparison(build, expr)
    if isinstance(expr, InList) and not expr.negated and isinstance(expr.left, Name):
        field = _question(build, expr.left.name)
        answers = [_answer_of(build, field, item) for item in expr.items] if field else []
        if field is not None and answers and all(a is not None for a in answers):
            return [_when(field, "=", a) for a in answers if a is not None], "any"
    if isinstance(expr, Call) and expr.function == "selected" and len(expr.args) == 2:
        name, code = expr.args
        field = _question(build, name.name) if isinstance(name, Name) else None
        answer = _answer_of(build, field, code) if field is not None else None
        if field is not None and answer is not None:
            return [_when(field, "=", answer)], "all"
    return [], ""


def _comparison(build: _Build, expr: Binary) -> tuple[list[Json], str]:
    name, literal, op = expr.left, expr.right, str(expr.op)
    if not isinstance(name, Name):
        name, literal, op = expr.right, expr.left, _FLIPPED[op]
    field = _question(build, name.name) if isinstance(name, Name) else None
    answer = _answer_of(build, field, literal) if field is not None else None
    if field is None or answer is None:
        return [], ""
    if op in _ORDERS and item_type(field) not in ("integer", "decimal"):
        return [], ""
    if op == "!=":  # as in the portal, a blank answer hides the item: it must exist first
        return [_when(field, "exists", {"answerBoolean": True}), _when(field, "!=", answer)], "all"
    return [_when(field, "=" if op == "==" else op, answer)], "all"


def _question(build: _Build, name: str) -> Field | None:
    field = build.form.fields.get(name)
    if field is None or field.id not in build.fields or field.type is FieldType.NOTE:
        return None
    return field


def _when(field: Field, operator: str, answer: Json) -> Json:
    return {"question": field.id, "operator": operator, **answer}


def _answer_of(build: _Build, field: Field, literal: Expr) -> Json | None:
    """The enableWhen answer[x] for a literal, of the type the question's item has."""
    kind = item_type(field)
    number = _number(literal)
    if kind == "boolean" and isinstance(literal, Bool):
        return {"answerBoolean": literal.value}
    choices = field.choices.codes if field.choices is not None else frozenset()
    if kind == "choice" and isinstance(literal, String) and literal.value in choices:
        return {"answerCoding": {"system": build.system(field), "code": literal.value}}
    if kind == "integer" and isinstance(number, int):
        return {"answerInteger": number}
    if kind == "decimal" and number is not None:
        return {"answerDecimal": json_number(Decimal(number))}
    if kind in ("string", "text") and isinstance(literal, String):
        return {"answerString": literal.value}
    return None


def _number(literal: Expr) -> int | Decimal | None:
    if isinstance(literal, Number):
        return literal.value
    if isinstance(literal, Unary) and literal.op == "-" and isinstance(literal.operand, Number):
        return -literal.operand.value
    return None


# -- answers --------------------------------------------------------------------------------


def json_number(value: Decimal) -> float:
    """A decimal as the JSON number the payload's `json.dumps` can write: Python writes a float
    as the shortest text that reads back to it, so up to 15 significant digits the number sent
    is the one stored (`2.50` goes as `2.5`: the value, without its trailing zero). The R4B
    models write decimals the same way."""
    return float(value)


def _finite(text: str) -> Decimal:
    number = Decimal(text)
    if not number.is_finite():
        raise ValueError("not a number")
    return number


def answer(
    field: Field,
    stored: object,
    *,
    system: str | None = None,
    language: str | None = None,
    zone: ZoneInfo | None = None,
) -> list[Json]:
    """A stored value (crf_values' JSON shapes) as QuestionnaireResponse `answer`s of the
    field's item type: none for a blank or a note, one per code of a multichoice answer.

    `system` is the field's `code_system(...)` (codings carry it, to match the answerOptions);
    `language` adds the choice's label as `display`; `zone` (the site's) gives an offset to a
    date-time stored before offsets were kept, which otherwise goes as its date alone, since
    an R4 dateTime with a time needs an offset. Decimals are `json_number`s. A stored value
    that does not fit the item raises ValueError rather than travel wrong.
    """
    kind = item_type(field)
    if stored is None or stored == "" or stored == [] or kind == "display":
        return []
    if isinstance(stored, list):
        if field.type is not FieldType.MULTICHOICE:
            raise ValueError(f"{field.id}: stored {stored!r} is a list, for a {kind} item")
        return [{"valueCoding": _coding(field, str(c), system, language)} for c in stored]
    try:
        return [_value(field, kind, stored, system, language, zone)]
    except (ValueError, InvalidOperation, TypeError) as bad:
        raise ValueError(f"{field.id}: stored {stored!r} is not a {kind} answer") from bad


def _value(
    field: Field,
    kind: str,
    stored: object,
    system: str | None,
    language: str | None,
    zone: ZoneInfo | None,
) -> Json:
    if kind == "boolean":
        return {"valueBoolean": _boolean(stored)}
    if isinstance(stored, bool):
        raise ValueError("yes/no for a non yes/no item")
    text = str(stored)
    if kind == "integer":
        number = _finite(text)
        if number != number.to_integral_value():
            raise ValueError("not a whole number")
        return {"valueInteger": int(number)}
    if kind == "decimal":
        return {"valueDecimal": json_number(_finite(text))}
    if kind == "date":
        return {"valueDate": dt.date.fromisoformat(text).isoformat()}
    if kind == "dateTime":
        return {"valueDateTime": _date_time(text, zone)}
    if kind == "time":
        return {"valueTime": dt.time.fromisoformat(text).isoformat(timespec="seconds")}
    if kind == "choice":
        return {"valueCoding": _coding(field, text, system, language)}
    return {"valueString": text}


def _boolean(stored: object) -> bool:
    """Yes/no is stored as JSON true/false; the codes a browser posts are read too."""
    if isinstance(stored, bool):
        return stored
    folded = str(stored).strip().lower()
    if folded in ("yes", "true", "1"):
        return True
    if folded in ("no", "false", "0"):
        return False
    raise ValueError("not yes or no")


def _date_time(text: str, zone: ZoneInfo | None) -> str:
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None and zone is not None:
        moment = moment.replace(tzinfo=zone)
    if moment.tzinfo is None:
        return moment.date().isoformat()
    return moment.isoformat(timespec="seconds")


def _coding(field: Field, code: str, system: str | None, language: str | None) -> Json:
    if field.choices is not None and code not in field.choices.codes:
        raise ValueError(f"{field.id}: {code!r} is not one of its codes")
    coding: Json = {"system": system} if system else {}
    coding["code"] = code
    if language is not None and field.choices is not None:
        coding["display"] = field.choices.label(code, language)
    return coding
