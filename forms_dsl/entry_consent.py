"""What consent means for data entry, read from study.yaml's `consent:` key.

```yaml
consent:
  required_for_entry: true          # CRF entry waits for a complete consent …
  before_consent: [registration]    # … except for these forms (screening, eligibility)
  eligibility: registration.eligible  # true in a completed form + consent in force → enrolled
```

Absent, nothing waits for consent and nobody is enrolled automatically.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from forms_dsl.errors import ErrorCode, Problems
from forms_dsl.reader import Reader, suggest
from forms_dsl.source import Node, Scalar

if TYPE_CHECKING:
    from forms_dsl.model import Form

CONSENT_KEYS = ("required_for_entry", "before_consent", "eligibility")
#: Field types whose answer is true or false: what an eligibility item must be.
YES_NO_TYPES = ("yesno", "calc")

UNKNOWN_CONSENT_FORM = ErrorCode(
    "E710", "`consent` names form `{form}`, which the study does not have", "{hint}"
)
BAD_ELIGIBILITY = ErrorCode(
    "E711",
    "`consent.eligibility` must name a yes/no item as `<form>.<field>`, found `{found}`",
    "{hint}",
)


@dataclass(frozen=True)
class ConsentRule:
    """The study's consent settings for data entry (all off by default)."""

    required_for_entry: bool = False
    before_consent: tuple[str, ...] = ()
    #: (form id, field id) of the item that confirms eligibility.
    eligibility: tuple[str, str] | None = None


@dataclass(frozen=True)
class _Read:
    rule: ConsentRule
    #: Where each form name was written, checked once the forms are loaded.
    nodes: tuple[Scalar, ...]
    eligibility_node: Scalar | None


def read_consent(node: Node | None, reader: Reader) -> _Read:
    """The `consent:` mapping of study.yaml (its names are checked by `check_consent`)."""
    found = reader.expect_map(node, "`consent`", "`required_for_entry: true`")
    if found is None:
        return _Read(ConsentRule(), (), None)
    reader.keys(found, CONSENT_KEYS, "`consent`")
    before = reader.expect_seq(found.get("before_consent"), "`before_consent`", "[registration]")
    names = tuple(
        word
        for item in before or ()
        if (word := reader.expect_word(item, "a form id", "registration")) is not None
    )
    eligibility = found.get("eligibility")
    target = reader.expect_word(eligibility, "`eligibility`", "registration.eligible")
    pair = _pair(target)
    rule = ConsentRule(
        required_for_entry=reader.flag(found.get("required_for_entry"), "required_for_entry"),
        before_consent=tuple(str(n.value) for n in names),
        eligibility=pair,
    )
    return _Read(rule, names, target)


def _pair(node: Scalar | None) -> tuple[str, str] | None:
    if node is None:
        return None
    form, _dot, field = str(node.value).partition(".")
    return (form, field) if form and field else None


def check_consent(read: _Read, forms: Mapping[str, Form], problems: Problems) -> None:
    """Every form named exists, and the eligibility item is a yes/no item of its form."""
    for node in read.nodes:
        if str(node.value) not in forms:
            hint = suggest(str(node.value), sorted(forms), "forms")
            problems.add(UNKNOWN_CONSENT_FORM, node.loc, form=node.value, hint=hint)
    target = read.eligibility_node
    if target is None:
        return
    pair = read.rule.eligibility
    form = forms.get(pair[0]) if pair else None
    field = next((f for f in form if f.id == pair[1]), None) if form and pair else None
    if field is None or field.type.value not in YES_NO_TYPES:
        hint = "name a yes/no or calculated item, e.g. `registration.eligible`"
        problems.add(BAD_ELIGIBILITY, target.loc, found=target.text, hint=hint)
