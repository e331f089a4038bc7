"""What the registry may receive, read from study.yaml's `registry:` key: an allow-list per form
(data minimisation, checklist items 56 and 89).

```yaml
registry:
  forms:
    registration: [registration_date, age_at_registration, eligible]
    diagnosis: all        # every item except identifiers, free text and notes
    treatment: [all, chemo_regimen]   # the same, and one reviewed free-text item
```

A form not listed is never pushed. `all` leaves out free text (text, textarea) on purpose: a
free-text item reaches the registry only when it is named, which is its review. An item marked
`identifier: true` can never be listed. Absent, the registry receives nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from forms_dsl.errors import ErrorCode, Problems
from forms_dsl.reader import Reader, suggest
from forms_dsl.source import Node, Scalar

if TYPE_CHECKING:
    from forms_dsl.model import Field, Form

REGISTRY_KEYS = ("forms",)
#: Types `all` leaves out: free text needs naming, and a note holds no answer.
NOT_IN_ALL = ("text", "textarea", "note")

UNKNOWN_REGISTRY_FORM = ErrorCode(
    "E720", "`registry.forms` names form `{form}`, which the study does not have", "{hint}"
)
UNKNOWN_REGISTRY_ITEM = ErrorCode(
    "E721", "`registry.forms.{form}` names item `{item}`, which the form does not have", "{hint}"
)
IDENTIFIER_TO_REGISTRY = ErrorCode(
    "E722",
    "`registry.forms.{form}` names `{item}`, which is marked `identifier: true`",
    "identifiers never leave the site: remove it from the list",
)
NOTE_TO_REGISTRY = ErrorCode(
    "E723",
    "`registry.forms.{form}` names `{item}`, a note, which holds no answer",
    "remove it from the list",
)


@dataclass(frozen=True)
class RegistryItems:
    """The allow-list: form id → the item ids the registry receives (empty: nothing)."""

    forms: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def allowed(self, form_id: str) -> frozenset[str]:
        return self.forms.get(form_id, frozenset())


@dataclass(frozen=True)
class _Read:
    #: form name node → `all`, or the item nodes as written.
    entries: tuple[tuple[Scalar, Scalar | tuple[Scalar, ...]], ...] = ()


def read_registry(node: Node | None, reader: Reader) -> _Read:
    """The `registry:` mapping of study.yaml (its names are checked by `check_registry`)."""
    found = reader.expect_map(node, "`registry`", "`forms: {diagnosis: all}`")
    if found is None:
        return _Read()
    reader.keys(found, REGISTRY_KEYS, "`registry`")
    forms = reader.expect_map(found.get("forms"), "`registry.forms`", "`diagnosis: all`")
    entries: list[tuple[Scalar, Scalar | tuple[Scalar, ...]]] = []
    for key, value in forms or ():
        if isinstance(value, Scalar) and value.value == "all":
            entries.append((key, value))
            continue
        items = reader.expect_seq(value, f"`registry.forms.{key.value}`", "[field, …] or all")
        words = tuple(
            word
            for item in items or ()
            if (word := reader.expect_word(item, "an item id", "diagnosis_date")) is not None
        )
        entries.append((key, words))
    return _Read(tuple(entries))


def check_registry(read: _Read, forms: Mapping[str, Form], problems: Problems) -> RegistryItems:
    """Every form and item named exists and may leave the site; the checked allow-list."""
    allowed: dict[str, frozenset[str]] = {}
    for key, value in read.entries:
        form = forms.get(str(key.value))
        if form is None:
            hint = suggest(str(key.value), sorted(forms), "forms")
            problems.add(UNKNOWN_REGISTRY_FORM, key.loc, form=key.value, hint=hint)
            continue
        if isinstance(value, Scalar):
            allowed[form.id] = _all(form)
            continue
        allowed[form.id] = frozenset(_named(form, value, problems))
    return RegistryItems(allowed)


def _all(form: Form) -> frozenset[str]:
    return frozenset(f.id for f in form if not f.identifier and f.type.value not in NOT_IN_ALL)


def _named(form: Form, nodes: tuple[Scalar, ...], problems: Problems) -> list[str]:
    fields: dict[str, Field] = form.fields
    kept: list[str] = []
    for node in nodes:
        name = str(node.value)
        if name == "all":
            kept.extend(_all(form))
            continue
        found = fields.get(name)
        if found is None:
            hint = suggest(name, sorted(fields), "items")
            problems.add(UNKNOWN_REGISTRY_ITEM, node.loc, form=form.id, item=name, hint=hint)
        elif found.identifier:
            problems.add(IDENTIFIER_TO_REGISTRY, node.loc, form=form.id, item=name)
        elif found.type.value == "note":
            problems.add(NOTE_TO_REGISTRY, node.loc, form=form.id, item=name)
        else:
            kept.append(name)
    return kept
