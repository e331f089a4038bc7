"""An independent check of every FHIR R4 resource and transaction Bundle the portal sends.

The registry refuses an invalid Bundle whole, so a payload that fails there stays in the outbox
and that subject's data stop flowing. This module checks each payload before it leaves, with
tools that share nothing with the code that builds it:

1. the structure, by the `fhir.resources.R4B` models (the package's R4 line: its default R5
   models reject R4 Consent and ResearchSubject). They refuse unknown properties and missing
   mandatory elements, but neither evaluate invariants nor check code values;
2. the FHIRPath invariants of the R4 specification, written below as constants (key, text,
   context, expression: a test compares them with the official StructureDefinitions) and run by
   `fhirpathpy` on the resource and on every nested element whose definition carries them;
3. the codes of the required bindings the portal uses, against the R4 value sets.

Each problem is one line naming the rule and where it failed:
`que-2 at Questionnaire: The link ids for groups and questions must be unique within the
questionnaire`. `bundle_problems` adds the rules of a transaction (entries, fullUrls, requests,
`urn:uuid` references). Pure: no Flask, no database.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhirpathpy import compile as compile_fhirpath
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models as fhirpath_models
from pydantic import ValidationError


@dataclass(frozen=True)
class Invariant:
    """One FHIRPath rule of the R4 specification.

    `expression` is the text the specification publishes (a test compares it with the official
    StructureDefinitions); `evaluated`, when set, is what is run instead because the published
    text cannot be run as written, `why` saying why. `context` is the element path the rule is
    defined on: a resource, a backbone element (`Questionnaire.item`, which also covers nested
    items) or a data type (`Reference`, and `Element` for every element).
    """

    key: str
    human: str
    context: str
    expression: str
    severity: str = "error"
    evaluated: str | None = None
    why: str = ""

    @property
    def runs(self) -> str:
        return self.evaluated or self.expression


_CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
_SOMETHING = (
    "R4 publishes the placeholder system 'something', so the rule never fires as written; it is "
    "run with the consentscope code system the scope codes come from"
)


def _ppc(key: str, code: str, label: str) -> Invariant:
    """ppc-2…ppc-5 differ only by the scope code."""
    published = (
        f"patient.exists() or scope.coding.where(system='something' and code='{code}')"
        ".exists().not()"
    )
    return Invariant(
        key,
        f"IF Scope={label}, there must be a patient",
        "Consent",
        published,
        evaluated=published.replace("'something'", f"'{_CONSENT_SCOPE}'"),
        why=_SOMETHING,
    )


QUESTIONNAIRE_INVARIANTS = (
    Invariant(
        "que-0",
        "Name should be usable as an identifier for the module by machine processing "
        "applications such as code generation",
        "Questionnaire",
        "name.matches('[A-Z]([A-Za-z0-9_]){0,254}')",
        severity="warning",
    ),
    Invariant(
        "que-2",
        "The link ids for groups and questions must be unique within the questionnaire",
        "Questionnaire",
        "descendants().linkId.isDistinct()",
    ),
    Invariant(
        "que-1",
        "Group items must have nested items, display items cannot have nested items",
        "Questionnaire.item",
        "(type='group' implies item.empty().not()) and "
        "(type.trace('type')='display' implies item.trace('item').empty())",
    ),
    Invariant(
        "que-3",
        'Display items cannot have a "code" asserted',
        "Questionnaire.item",
        "type!='display' or code.empty()",
    ),
    Invariant(
        "que-4",
        "A question cannot have both answerOption and answerValueSet",
        "Questionnaire.item",
        "answerOption.empty() or answerValueSet.empty()",
    ),
    Invariant(
        "que-5",
        "Only 'choice' and 'open-choice' items can have answerValueSet",
        "Questionnaire.item",
        "(type ='choice' or type = 'open-choice' or type = 'decimal' or type = 'integer' or "
        "type = 'date' or type = 'dateTime' or type = 'time' or type = 'string' or "
        "type = 'quantity') or (answerValueSet.empty() and answerOption.empty())",
    ),
    Invariant(
        "que-6",
        "Required and repeat aren't permitted for display items",
        "Questionnaire.item",
        "type!='display' or (required.empty() and repeats.empty())",
    ),
    Invariant(
        "que-8",
        "Initial values can't be specified for groups or display items",
        "Questionnaire.item",
        "(type!='group' and type!='display') or initial.empty()",
    ),
    Invariant(
        "que-9",
        'Read-only can\'t be specified for "display" items',
        "Questionnaire.item",
        "type!='display' or readOnly.empty()",
    ),
    Invariant(
        "que-10",
        "Maximum length can only be declared for simple question types",
        "Questionnaire.item",
        "(type in ('boolean' | 'decimal' | 'integer' | 'string' | 'text' | 'url' | "
        "'open-choice')) or maxLength.empty()",
    ),
    Invariant(
        "que-11",
        "If one or more answerOption is present, initial[x] must be missing",
        "Questionnaire.item",
        "answerOption.empty() or initial.empty()",
    ),
    Invariant(
        "que-12",
        "If there are more than one enableWhen, enableBehavior must be specified",
        "Questionnaire.item",
        "enableWhen.count() > 2 implies enableBehavior.exists()",
        evaluated="enableWhen.count() > 1 implies enableBehavior.exists()",
        why="R4 publishes `count() > 2`, which lets exactly two enableWhen through without "
        "enableBehavior although its text (and the element's definition) says more than one",
    ),
    Invariant(
        "que-13",
        "Can only have multiple initial values for repeating items",
        "Questionnaire.item",
        "repeats=true or initial.count() <= 1",
    ),
    Invariant(
        "que-7",
        "If the operator is 'exists', the value must be a boolean",
        "Questionnaire.item.enableWhen",
        "operator = 'exists' implies (answer is Boolean)",
        evaluated="operator = 'exists' implies (answer is FHIR.boolean)",
        why="fhirpathpy does not treat a FHIR boolean as the FHIRPath type Boolean, so the "
        "published text is false for every answerBoolean; the FHIR type is named explicitly",
    ),
)

QUESTIONNAIRE_RESPONSE_INVARIANTS = (
    # R4 has no qrs-2 (the StructureDefinition lists qrs-1 only).
    Invariant(
        "qrs-1",
        "Nested item can't be beneath both item and answer",
        "QuestionnaireResponse.item",
        "(answer.exists() and item.exists()).not()",
    ),
)

CONSENT_INVARIANTS = (
    Invariant(
        "ppc-1",
        "Either a Policy or PolicyRule",
        "Consent",
        "policy.exists() or policyRule.exists()",
    ),
    _ppc("ppc-2", "patient-privacy", "privacy"),
    _ppc("ppc-3", "research", "research"),
    _ppc("ppc-4", "adr", "adr"),
    _ppc("ppc-5", "treatment", "treatment"),
)

# From the R4 (4.0.1) Bundle StructureDefinition. R4 has no bdl-6; bdl-10…bdl-12 concern
# documents and messages only, which the portal never sends.
BUNDLE_INVARIANTS = (
    Invariant(
        "bdl-1",
        "total only when a search or history",
        "Bundle",
        "total.empty() or (type = 'searchset') or (type = 'history')",
    ),
    Invariant(
        "bdl-2",
        "entry.search only when a search",
        "Bundle",
        "entry.search.empty() or (type = 'searchset')",
    ),
    Invariant(
        "bdl-3",
        "entry.request mandatory for batch/transaction/history, otherwise prohibited",
        "Bundle",
        "entry.all(request.exists() = (%resource.type = 'batch' or "
        "%resource.type = 'transaction' or %resource.type = 'history'))",
    ),
    Invariant(
        "bdl-4",
        "entry.response mandatory for batch-response/transaction-response/history, "
        "otherwise prohibited",
        "Bundle",
        "entry.all(response.exists() = (%resource.type = 'batch-response' or "
        "%resource.type = 'transaction-response' or %resource.type = 'history'))",
    ),
    Invariant(
        "bdl-7",
        "FullUrl must be unique in a bundle, or else entries with the same fullUrl must have "
        "different meta.versionId (except in history bundles)",
        "Bundle",
        "(type = 'history') or "
        "entry.where(fullUrl.exists()).select(fullUrl&resource.meta.versionId).isDistinct()",
    ),
    Invariant(
        "bdl-9",
        "A document must have an identifier with a system and a value",
        "Bundle",
        "type = 'document' implies (identifier.system.exists() and identifier.value.exists())",
    ),
    Invariant(
        "bdl-5",
        "must be a resource unless there's a request or response",
        "Bundle.entry",
        "resource.exists() or request.exists() or response.exists()",
    ),
    Invariant(
        "bdl-8",
        "fullUrl cannot be a version specific reference",
        "Bundle.entry",
        "fullUrl.contains('/_history/').not()",
    ),
)

REFERENCE_INVARIANTS = (
    Invariant(
        "ref-1",
        "SHALL have a contained resource if a local reference is provided",
        "Reference",
        "reference.startsWith('#').not() or "
        "(reference.substring(1).trace('url') in %rootResource.contained.id.trace('ids'))",
    ),
)

ELEMENT_INVARIANTS = (
    Invariant(
        "ele-1",
        "All FHIR elements must have a @value or children",
        "Element",
        "hasValue() or (children().count() > id.count())",
    ),
)

INVARIANTS = (
    *QUESTIONNAIRE_INVARIANTS,
    *QUESTIONNAIRE_RESPONSE_INVARIANTS,
    *CONSENT_INVARIANTS,
    *BUNDLE_INVARIANTS,
    *REFERENCE_INVARIANTS,
    *ELEMENT_INVARIANTS,
)

_VS = "http://hl7.org/fhir/ValueSet/"


def _binding(value_set: str, codes: str) -> tuple[str, frozenset[str]]:
    return _VS + value_set, frozenset(codes.split())


#: Required bindings of the elements the portal fills, with their R4 (4.0.1) value sets.
CODES: dict[str, tuple[str, frozenset[str]]] = {
    "Questionnaire.status": _binding("publication-status", "draft active retired unknown"),
    "Questionnaire.item.type": _binding(
        "item-type",
        "group display boolean decimal integer date dateTime time string text url choice "
        "open-choice attachment reference quantity",  # `question` is abstract: never used
    ),
    "Questionnaire.item.enableWhen.operator": _binding(
        "questionnaire-enable-operator", "exists = != > < >= <="
    ),
    "Questionnaire.item.enableBehavior": _binding("questionnaire-enable-behavior", "all any"),
    "QuestionnaireResponse.status": _binding(
        "questionnaire-answers-status", "in-progress completed amended entered-in-error stopped"
    ),
    "Consent.status": _binding(
        "consent-state-codes", "draft proposed active rejected inactive entered-in-error"
    ),
    "Consent.provision.type": _binding("consent-provision-type", "deny permit"),
    "ResearchSubject.status": _binding(
        "research-subject-status",
        "candidate eligible follow-up ineligible not-registered off-study on-study "
        "on-study-intervention on-study-observation pending-on-study potential-candidate "
        "screening withdrawn",
    ),
    "ResearchStudy.status": _binding(
        "research-study-status",
        "active administratively-completed approved closed-to-accrual "
        "closed-to-accrual-and-intervention completed disapproved in-review "
        "temporarily-closed-to-accrual temporarily-closed-to-accrual-and-intervention withdrawn",
    ),
    "Provenance.entity.role": _binding(
        "provenance-entity-role", "derivation revision quotation source removal"
    ),
    "Patient.gender": _binding("administrative-gender", "male female other unknown"),
    "Identifier.use": _binding("identifier-use", "usual official temp secondary old"),
    "Narrative.status": _binding("narrative-status", "generated extensions additional empty"),
    "Bundle.type": _binding(
        "bundle-type",
        "document message transaction transaction-response batch batch-response history "
        "searchset collection",
    ),
    "Bundle.entry.request.method": _binding("http-verb", "GET HEAD POST PUT DELETE PATCH"),
    "Bundle.entry.search.mode": _binding("search-entry-mode", "match include outcome"),
}

# -- walking a resource with the types of its elements ---------------------------------------

#: fhirpathpy's R4 model: element types and content references (nested items, provisions).
_R4: dict[str, Any] = fhirpath_models["r4"]
_ELSEWHERE: dict[str, str] = _R4["pathsDefinedElsewhere"]
_TYPES: dict[str, str] = _R4["path2Type"]


@dataclass(frozen=True)
class _Node:
    """One element: its value, where it is (for messages), the path its definition has
    (`Questionnaire.item` for an item at any depth, `Reference` for any reference) and the
    resources that `%resource` and `%rootResource` name there."""

    value: Any
    where: str
    element: str
    resource: Mapping[str, Any]
    root: Mapping[str, Any]

    @property
    def is_resource(self) -> bool:
        return self.value is self.resource


def _child_element(parent: str, key: str) -> str:
    """The definition path of `parent.key`: a data type starts its own paths (`Coding`,
    `Extension`), a content reference points at its definition, a primitive keeps its path."""
    if key.startswith("_"):
        return "Element"  # a primitive's id and extensions
    path = f"{parent}.{key}"
    path = _ELSEWHERE.get(path, path)
    kind = _TYPES.get(path, "")
    if kind[:1].isupper() and "." not in kind:
        return kind  # a data type, or `Resource` (contained, entry.resource)
    return path


def _children(node: _Node) -> Iterator[_Node]:
    parent = node.value
    for key, value in parent.items():
        if key == "resourceType" or (value is None and _shadowed(parent, key)):
            continue
        element = _child_element(node.element, key)
        many = isinstance(value, list)
        if many and not value:
            yield _Node(value, f"{node.where}.{key}", element, node.resource, node.root)
        for index, item in enumerate(value if many else [value]):
            if item is None and many and _shadowed(parent, key):
                continue
            where = f"{node.where}.{key}[{index}]" if many else f"{node.where}.{key}"
            if element == "Resource" and isinstance(item, dict):
                root = node.root if key == "contained" else item
                kind = str(item.get("resourceType", "Resource"))
                yield _Node(item, where, kind, item, root)
            else:
                yield _Node(item, where, element, node.resource, node.root)


def _shadowed(parent: Mapping[str, Any], key: str) -> bool:
    """Whether a null primitive (or null in a primitive array) has its extension twin."""
    twin = key[1:] if key.startswith("_") else f"_{key}"
    return twin in parent


def _nodes(resource: Mapping[str, Any], where: str) -> Iterator[_Node]:
    """Every element of the resource, nested resources included, parents first."""
    kind = str(resource.get("resourceType", "Resource"))
    stack = [_Node(resource, where, kind, resource, resource)]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node.value, dict):
            stack.extend(reversed(list(_children(node))))


# -- evaluating ---------------------------------------------------------------------------------


def _has_value(inputs: list[Any]) -> list[bool]:
    """FHIRPath `hasValue()`, which fhirpathpy lacks: one primitive with a value."""
    return [len(inputs) == 1 and inputs[0] not in (None, "") and not isinstance(inputs[0], dict)]


_OPTIONS = {
    "traceFn": lambda *_: None,  # que-1 and ref-1 trace; keep stdout clean
    "userInvocationTable": {"hasValue": {"fn": _has_value, "arity": {0: []}}},
}


@cache
def _compiled(expression: str) -> Callable[..., list[Any]]:
    """fhirpathpy's parser is the slow part: each rule is parsed once per process."""
    return compile_fhirpath(expression, _R4, _OPTIONS)


_BY_CONTEXT: dict[str, tuple[Invariant, ...]] = {}
for _invariant in INVARIANTS:
    _BY_CONTEXT[_invariant.context] = (*_BY_CONTEXT.get(_invariant.context, ()), _invariant)


def _broken(invariant: Invariant, node: _Node) -> str | None:
    """The problem if the rule is false on this node (empty counts as true, as in the spec)."""
    if invariant.key == "ele-1":  # on every element: evaluated natively, same meaning
        return None if _has_content(node.value) else _message(invariant, node.where)
    typed = ResourceNode.create_node(node.value, node.element)
    variables = {"resource": node.resource, "rootResource": node.root}
    try:
        result = _compiled(invariant.runs)(typed, variables)
    except Exception as error:  # an unevaluable rule is a finding, not a crash
        return f"{invariant.key} at {node.where}: could not be evaluated ({error})"
    return _message(invariant, node.where) if False in result else None


def _has_content(value: Any) -> bool:
    """ele-1, `hasValue() or (children().count() > id.count())`, without FHIRPath: a primitive
    with a value, or an element with a child besides its id. It holds on every element, so its
    cost is most of a check; fhirpathpy took 20 times as long for the same answer."""
    if isinstance(value, dict):
        return any(key != "id" and child not in (None, "", [], {}) for key, child in value.items())
    if isinstance(value, list):
        return bool(value)
    return value not in (None, "")


def _message(invariant: Invariant, where: str) -> str:
    warning = " (warning)" if invariant.severity == "warning" else ""
    return f"{invariant.key} at {where}: {invariant.human}{warning}"


def _code_problem(node: _Node) -> str | None:
    binding = CODES.get(node.element)
    if binding is None or not isinstance(node.value, str):
        return None
    value_set, codes = binding
    if node.value in codes:
        return None
    listed = ", ".join(sorted(codes))
    return f"code at {node.where}: {node.value!r} is not in {value_set} ({listed})"


def _rule_problems(resource: Mapping[str, Any], where: str) -> list[str]:
    found: list[str] = []
    for node in _nodes(resource, where):
        rules = _BY_CONTEXT.get(node.element, ())
        if not node.is_resource:
            rules = (*rules, *ELEMENT_INVARIANTS)
        found.extend(p for rule in rules if (p := _broken(rule, node)) is not None)
        code = _code_problem(node)
        if code is not None:
            found.append(code)
    return found


# -- structure ----------------------------------------------------------------------------------


def _json_name(part: str | int) -> str:
    """A pydantic location part as the JSON names it (`text__ext` is `_text`)."""
    if isinstance(part, int):
        return f"[{part}]"
    if part.endswith("__ext"):
        part = "_" + part[: -len("__ext")]
    return "." + {"class_fhir": "class"}.get(part, part)


def _one_line(text: str) -> str:
    """A model's message on one line (its patterns hold raw tabs and newlines)."""
    return text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")


def _structure_problems(resource: Mapping[str, Any], kind: str) -> list[str]:
    try:
        model = get_fhir_model_class(kind)
    except (KeyError, ValueError):
        return [f"structure at {kind}: {kind!r} is not an R4 resource type"]
    try:
        model.model_validate(resource)
    except ValidationError as invalid:
        return [
            f"structure at {kind}{''.join(_json_name(p) for p in error['loc'])}: "
            + _one_line(error["msg"])
            for error in invalid.errors()
        ]
    except (TypeError, ValueError) as invalid:
        return [f"structure at {kind}: {_one_line(str(invalid))}"]
    return []


def problems(resource: dict[str, Any]) -> list[str]:
    """Every problem of one resource (a Bundle with its entries): structure, invariants and
    codes, one line each naming the rule and the path; empty when the registry can take it."""
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        return ["structure at (root): not a FHIR resource (no resourceType)"]
    copied = copy.deepcopy(resource)  # fhirpathpy may annotate what it reads
    kind = copied["resourceType"]
    return _structure_problems(copied, kind) + _rule_problems(copied, kind)


# -- transactions -------------------------------------------------------------------------------

_UUID_URN = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def bundle_problems(bundle: dict[str, Any]) -> list[str]:
    """`problems(bundle)` plus what a transaction the registry accepts needs: every entry with a
    unique fullUrl and a request (method and url) that matches its resource, and every
    `urn:uuid:` reference pointing at one of the Bundle's entries."""
    found = problems(bundle)
    if not isinstance(bundle, dict):
        return found
    if bundle.get("type") != "transaction":
        found.append(
            f"transaction at Bundle.type: a push is a transaction, not {bundle.get('type')!r}"
        )
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        return [*found, "transaction at Bundle.entry: a transaction needs entries"]
    full_urls: list[str] = []
    for index, entry in enumerate(entries):
        where = f"Bundle.entry[{index}]"
        if not isinstance(entry, dict):
            found.append(f"transaction at {where}: not an entry")
            continue
        found.extend(_entry_problems(entry, where))
        if isinstance(entry.get("fullUrl"), str):
            full_urls.append(entry["fullUrl"])
    found.extend(
        f"transaction at Bundle.entry: fullUrl {url!r} is used by {count} entries"
        for url, count in Counter(full_urls).items()
        if count > 1
    )
    return found + _unresolved(bundle, set(full_urls))


def _entry_problems(entry: Mapping[str, Any], where: str) -> list[str]:
    found: list[str] = []
    full_url = entry.get("fullUrl")
    if not isinstance(full_url, str):
        found.append(f"transaction at {where}: every entry needs a fullUrl")
    elif full_url.startswith("urn:uuid:") and not _is_uuid_urn(full_url):
        found.append(f"transaction at {where}.fullUrl: {full_url!r} is not urn:uuid:<uuid>")
    request = entry.get("request")
    if not isinstance(request, dict) or not request.get("method") or not request.get("url"):
        found.append(f"transaction at {where}.request: every entry needs a method and a url")
        return found
    resource = entry.get("resource")
    method, url = request["method"], str(request["url"])
    if method in ("POST", "PUT"):
        if not isinstance(resource, dict):
            found.append(f"transaction at {where}: {method} needs a resource")
        elif re.split(r"[/?]", url, maxsplit=1)[0] != resource.get("resourceType"):
            found.append(
                f"transaction at {where}.request.url: {url!r} does not name a "
                f"{resource.get('resourceType')}"
            )
    return found


def _is_uuid_urn(text: str) -> bool:
    if not _UUID_URN.fullmatch(text):
        return False
    try:
        uuid.UUID(text[len("urn:uuid:") :])
    except ValueError:
        return False
    return True


def _unresolved(bundle: Mapping[str, Any], full_urls: set[str]) -> list[str]:
    """References to `urn:uuid:`s no entry carries: the server could not rewrite them."""
    return [
        f"transaction at {node.where}: {node.value['reference']!r} is no entry's fullUrl"
        for node in _nodes(bundle, "Bundle")
        if node.element == "Reference"
        and isinstance(node.value, dict)
        and isinstance(node.value.get("reference"), str)
        and node.value["reference"].startswith("urn:uuid:")
        and node.value["reference"] not in full_urls
    ]
