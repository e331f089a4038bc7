"""The payload check catches what the registry would refuse, and passes what HL7 publishes.

Its rules are our own constants, so they are compared here with the official R4
StructureDefinitions, and the official R4 examples must pass. Those files are read where the
project keeps them (never copied into the repository); without them, only those tests skip.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from edc.registry import fhir_check
from edc.registry.fhir_check import bundle_problems, problems
from tests.shared_fixtures import needs, shared

OFFICIAL = shared("fhir", "r4")
needs_official = needs("fhir", "r4")

EXAMPLES = [
    "Consent-consent-example-signature.json",
    "Consent-consent-example-notThem.json",
    "Provenance-consent-signature.json",
    "Questionnaire-bb.json",
    "Questionnaire-3141.json",
    "QuestionnaireResponse-bb.json",
    "QuestionnaireResponse-3141.json",
    "ResearchStudy-example.json",
    "ResearchSubject-example.json",
    "Bundle-bundle-transaction.json",
]


def _official(name: str) -> Any:
    return json.loads((OFFICIAL / name).read_text(encoding="utf-8"))


def _published(resource: str) -> dict[tuple[str, str], dict[str, str]]:
    """(element path, key) → constraint, from the official StructureDefinition."""
    definition = _official(f"StructureDefinition-{resource}.json")
    return {
        (element["path"], constraint["key"]): constraint
        for element in definition["snapshot"]["element"]
        for constraint in element.get("constraint", [])
    }


# -- the rules are the specification's -------------------------------------------------------


@needs_official
@pytest.mark.parametrize("resource", ["Questionnaire", "QuestionnaireResponse", "Consent"])
def test_our_invariants_are_the_published_ones(resource: str) -> None:
    published = _published(resource)
    ours = [i for i in fhir_check.INVARIANTS if i.context.split(".")[0] == resource]
    assert ours
    for invariant in ours:
        official = published[(invariant.context, invariant.key)]
        assert invariant.expression == official["expression"], invariant.key
        assert invariant.human == official["human"], invariant.key
        assert invariant.severity == official["severity"], invariant.key


@needs_official
@pytest.mark.parametrize(
    ("resource", "prefix"),
    [("Questionnaire", "que-"), ("QuestionnaireResponse", "qrs-"), ("Consent", "ppc-")],
)
def test_no_published_invariant_is_left_out(resource: str, prefix: str) -> None:
    published = {key for _, key in _published(resource) if key.startswith(prefix)}
    ours = {i.key for i in fhir_check.INVARIANTS if i.key.startswith(prefix)}
    assert ours == published  # R4 has qrs-1 only: there is no qrs-2 to check


@needs_official
def test_the_element_rule_is_the_published_one() -> None:
    official = _published("Questionnaire")[("Questionnaire.item.linkId", "ele-1")]
    (ours,) = fhir_check.ELEMENT_INVARIANTS
    assert (ours.expression, ours.human) == (official["expression"], official["human"])


def test_every_rule_run_differently_says_why() -> None:
    changed = [i for i in fhir_check.INVARIANTS if i.evaluated]
    assert {i.key for i in changed} == {"que-7", "que-12", "ppc-2", "ppc-3", "ppc-4", "ppc-5"}
    assert all(i.why for i in changed)


@needs_official
@pytest.mark.parametrize("name", EXAMPLES)
def test_the_official_examples_pass(name: str) -> None:
    assert problems(_official(name)) == []


@needs_official
def test_the_official_example_is_left_untouched() -> None:
    example = _official("Questionnaire-3141.json")
    before = copy.deepcopy(example)
    problems(example)
    assert example == before


# -- what each rule catches ----------------------------------------------------------------


def _questionnaire(*items: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Questionnaire",
        "name": "Check",
        "status": "active",
        "item": list(items),
    }


def _group(link_id: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"linkId": link_id, "type": "group", "text": link_id, "item": list(items)}


def _question(link_id: str, kind: str = "string", **more: Any) -> dict[str, Any]:
    return {"linkId": link_id, "type": kind, "text": link_id, **more}


def test_a_duplicate_link_id_is_named() -> None:
    q = _questionnaire(_group("tumour", _question("weight")), _question("weight", "decimal"))
    assert problems(q) == [
        "que-2 at Questionnaire: "
        "The link ids for groups and questions must be unique within the questionnaire"
    ]


def test_the_item_rules_apply_at_any_depth() -> None:
    display = _question("note", "display", required=True)
    q = _questionnaire(_group("outer", _group("inner", display)))
    assert problems(q) == [
        "que-6 at Questionnaire.item[0].item[0].item[0]: "
        "Required and repeat aren't permitted for display items"
    ]


def test_an_empty_group_is_refused() -> None:
    q = _questionnaire(_question("a"), {"linkId": "empty", "type": "group", "text": "Empty"})
    assert problems(q) == [
        "que-1 at Questionnaire.item[1]: "
        "Group items must have nested items, display items cannot have nested items"
    ]


def test_two_conditions_need_a_behaviour_although_r4_publishes_more_than_two() -> None:
    both = [
        {"question": "a", "operator": "exists", "answerBoolean": True},
        {"question": "a", "operator": "!=", "answerString": "x"},
    ]
    q = _questionnaire(_question("a"), _question("b", enableWhen=both))
    assert problems(q) == [
        "que-12 at Questionnaire.item[1]: "
        "If there are more than one enableWhen, enableBehavior must be specified"
    ]
    q["item"][1]["enableBehavior"] = "all"
    assert problems(q) == []


def test_exists_takes_a_boolean() -> None:
    condition = {"question": "a", "operator": "exists", "answerString": "yes"}
    q = _questionnaire(_question("a"), _question("b", enableWhen=[condition]))
    assert problems(q) == [
        "que-7 at Questionnaire.item[1].enableWhen[0]: "
        "If the operator is 'exists', the value must be a boolean"
    ]
    condition.pop("answerString")
    condition["answerBoolean"] = True
    assert problems(q) == []


def test_a_bogus_status_is_named_with_its_value_set() -> None:
    q = _questionnaire(_question("a"))
    q["status"] = "bogus"
    assert problems(q) == [
        "code at Questionnaire.status: 'bogus' is not in "
        "http://hl7.org/fhir/ValueSet/publication-status (active, draft, retired, unknown)"
    ]


@pytest.mark.parametrize(
    ("resource", "where"),
    [
        ({"resourceType": "QuestionnaireResponse", "status": "done"}, "QuestionnaireResponse"),
        (
            {
                "resourceType": "ResearchSubject",
                "status": "enrolled",
                "study": {"reference": "ResearchStudy/1"},
                "individual": {"reference": "Patient/1"},
            },
            "ResearchSubject",
        ),
        ({"resourceType": "Bundle", "type": "push"}, "Bundle"),
    ],
)
def test_statuses_the_models_accept_are_refused(resource: dict[str, Any], where: str) -> None:
    (problem,) = problems(resource)
    assert problem.startswith(f"code at {where}.")


def test_a_nonsense_item_type_is_refused() -> None:
    (problem,) = problems(_questionnaire(_question("a", "nonsense")))
    assert problem.startswith("code at Questionnaire.item[0].type: 'nonsense' is not in ")


def test_a_response_item_with_both_items_and_answer_items_is_refused() -> None:
    nested = {"linkId": "b", "answer": [{"valueString": "x"}]}
    response = {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "item": [
            {"linkId": "a", "item": [nested], "answer": [{"valueBoolean": True, "item": [nested]}]}
        ],
    }
    assert problems(response) == [
        "qrs-1 at QuestionnaireResponse.item[0]: Nested item can't be beneath both item and answer"
    ]


def _consent(**more: Any) -> dict[str, Any]:
    consent = {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"}
            ]
        },
        "category": [{"coding": [{"code": "research"}]}],
        "patient": {"reference": "urn:uuid:0b0f0b3c-2f5e-5a1e-9d8e-1c2b3a4d5e6f"},
        "policy": [{"uri": "https://example.org/icf|3"}],
    }
    return {**consent, **more}


def test_a_consent_without_policy_is_refused() -> None:
    consent = _consent()
    del consent["policy"]
    assert problems(consent) == ["ppc-1 at Consent: Either a Policy or PolicyRule"]


def test_a_research_consent_names_its_patient() -> None:
    consent = _consent()
    del consent["patient"]
    assert problems(consent) == ["ppc-3 at Consent: IF Scope=research, there must be a patient"]


def test_a_bogus_consent_status_is_refused() -> None:
    (problem,) = problems(_consent(status="signed"))
    assert problem.startswith("code at Consent.status: 'signed' is not in ")


def test_a_local_reference_needs_its_contained_resource() -> None:
    consent = _consent(patient={"reference": "#p1"})
    assert problems(consent) == [
        "ref-1 at Consent.patient: SHALL have a contained resource if a local reference is provided"
    ]
    consent["contained"] = [{"resourceType": "Patient", "id": "p1"}]
    assert problems(consent) == []


def test_an_empty_element_is_refused() -> None:
    consent = _consent(category=[{"coding": [{"code": "research"}]}, {}])
    assert problems(consent) == [
        "ele-1 at Consent.category[1]: All FHIR elements must have a @value or children"
    ]


def test_structure_problems_name_the_json_path() -> None:
    q = _questionnaire(_group("g", {"type": "string", "text": "no link id"}))
    assert problems(q) == [
        "structure at Questionnaire.item[0].item[0].linkId: "
        "Value for the field 'linkId' is required."
    ]


def test_something_that_is_no_resource_is_said_so() -> None:
    assert problems({"status": "active"}) == [
        "structure at (root): not a FHIR resource (no resourceType)"
    ]
    assert problems({"resourceType": "Nonsense"}) == [
        "structure at Nonsense: 'Nonsense' is not an R4 resource type"
    ]


# -- transactions --------------------------------------------------------------------------

PATIENT_URL = "urn:uuid:6f1c2d3e-4b5a-5c6d-8e7f-0a1b2c3d4e5f"
CONSENT_URL = "urn:uuid:7a2b3c4d-5e6f-5a7b-9c8d-1e2f3a4b5c6d"


def _transaction() -> dict[str, Any]:
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": "https://fhir.example.org/nb/subject", "value": "NB-FR01-0007"}],
    }
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": PATIENT_URL,
                "resource": patient,
                "request": {
                    "method": "PUT",
                    "url": "Patient?identifier=https://fhir.example.org/nb/subject|NB-FR01-0007",
                },
            },
            {
                "fullUrl": CONSENT_URL,
                "resource": _consent(patient={"reference": PATIENT_URL}),
                "request": {"method": "PUT", "url": "Consent?identifier=x|econsent:17"},
            },
        ],
    }


def test_a_sound_transaction_passes() -> None:
    assert bundle_problems(_transaction()) == []


def test_an_entry_without_request_is_refused() -> None:
    bundle = _transaction()
    del bundle["entry"][1]["request"]
    assert bundle_problems(bundle) == [
        "bdl-3 at Bundle: "
        "entry.request mandatory for batch/transaction/history, otherwise prohibited",
        "transaction at Bundle.entry[1].request: every entry needs a method and a url",
    ]


def test_an_unresolved_urn_uuid_is_refused() -> None:
    bundle = _transaction()
    bundle["entry"][0]["fullUrl"] = "urn:uuid:00000000-0000-4000-8000-000000000000"
    assert bundle_problems(bundle) == [
        f"transaction at Bundle.entry[1].resource.patient: '{PATIENT_URL}' is no entry's fullUrl"
    ]


def test_a_duplicate_full_url_is_refused() -> None:
    bundle = _transaction()
    bundle["entry"][1]["fullUrl"] = PATIENT_URL
    assert bundle_problems(bundle) == [
        "bdl-7 at Bundle: FullUrl must be unique in a bundle, or else entries with the same "
        "fullUrl must have different meta.versionId (except in history bundles)",
        f"transaction at Bundle.entry: fullUrl '{PATIENT_URL}' is used by 2 entries",
    ]


def test_entries_need_a_full_url_and_a_matching_request() -> None:
    bundle = _transaction()
    del bundle["entry"][0]["fullUrl"]
    bundle["entry"][1]["request"]["url"] = "Patient?identifier=x|1"
    assert bundle_problems(bundle) == [
        "transaction at Bundle.entry[0]: every entry needs a fullUrl",
        "transaction at Bundle.entry[1].request.url: 'Patient?identifier=x|1' does not name a "
        "Consent",
        f"transaction at Bundle.entry[1].resource.patient: '{PATIENT_URL}' is no entry's fullUrl",
    ]


def test_a_bad_entry_resource_is_found_inside_the_bundle() -> None:
    bundle = _transaction()
    del bundle["entry"][1]["resource"]["policy"]
    bundle["entry"][1]["resource"]["status"] = "signed"
    found = bundle_problems(bundle)
    assert "ppc-1 at Bundle.entry[1].resource: Either a Policy or PolicyRule" in found
    assert any(p.startswith("code at Bundle.entry[1].resource.status: 'signed'") for p in found)


def test_a_batch_is_not_a_push() -> None:
    bundle = _transaction()
    bundle["type"] = "batch"
    assert bundle_problems(bundle) == [
        "transaction at Bundle.type: a push is a transaction, not 'batch'"
    ]


def test_every_problem_is_one_line() -> None:
    q = _questionnaire(_question("a"))
    q["title"] = ""
    (problem,) = [p for p in problems(q) if p.startswith("structure")]
    assert problem.startswith("structure at Questionnaire.title: String should match pattern")
    assert "\n" not in problem


def _fhirpath_ele1(node: fhir_check._Node) -> bool:
    (rule,) = fhir_check.ELEMENT_INVARIANTS
    typed = fhir_check.ResourceNode.create_node(node.value, node.element)
    result = fhir_check._compiled(rule.runs)(typed, {"resource": node.resource})
    return False not in result


@needs_official
@pytest.mark.parametrize("name", EXAMPLES)
def test_the_element_rule_run_natively_agrees_with_fhirpath(name: str) -> None:
    """ele-1 runs on every element, natively for speed: it must answer as FHIRPath does, on
    the official examples and on elements emptied in every way."""
    resource = _official(name)
    emptied = copy.deepcopy(resource)
    emptied["meta"] = {"id": "only-an-id"}
    emptied["text"] = {}
    emptied["extension"] = [{"url": "http://example.org/x", "valueString": ""}]
    for tree in (resource, emptied):
        for node in fhir_check._nodes(tree, tree["resourceType"]):
            if node.is_resource or node.value in ([],):
                continue
            assert fhir_check._has_content(node.value) == _fhirpath_ele1(node), node.where
