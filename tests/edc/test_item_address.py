"""Item addresses are built and read in one module: keys round-trip, malformed ones are refused,
and no other code of the portal cuts or glues item keys by hand."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edc.errors import Invalid
from edc.item_address import MAX_KEY, ItemAddress, RecordItem, entered_with, field_of, row_of

EDC = Path(__file__).resolve().parents[2] / "edc"
LOWER = "abcdefghijklmnopqrstuvwxyz"
ids = st.builds(
    str.__add__, st.sampled_from(LOWER), st.text(alphabet=LOWER + "0123456789_", max_size=20)
)  # a form's ids: `[a-z][a-z0-9_]*`
#: The machine may be busy (2 cores, many test runs): judge the behaviour, not the speed.
busy = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
rows = st.integers(min_value=0, max_value=999_999)
addresses = st.one_of(
    st.builds(ItemAddress, ids), st.builds(ItemAddress, ids, ids, rows)
)  # a top-level item, or one in a row


@busy
@given(addresses)
def test_a_key_reads_back_as_the_same_item(address):
    assert ItemAddress.parse(address.key) == address
    assert field_of(address.key) == address.field
    assert row_of(address.key) == address.row_key


@busy
@given(addresses, ids, st.integers(1, 99), ids, st.integers(1, 99))
def test_an_audit_address_reads_back_with_its_visit_and_form_version(a, event, n, form, v):
    path = a.in_record(event, n, form, v)
    assert RecordItem.parse(path) == RecordItem(event, n, form, v, a)
    assert entered_with(path) == f"{form}@{v}"


def test_the_documented_shapes():
    assert ItemAddress("dose", "meds", 7).key == "meds-7-dose"
    assert ItemAddress.parse("weight") == ItemAddress("weight")
    assert ItemAddress("mycn").in_record("diagnosis", 1, "diagnosis", 2) == (
        "diagnosis/1/diagnosis@2/mycn"
    )


@pytest.mark.parametrize(
    "key",
    [
        "",
        "Weight",
        "meds-7",
        "meds--dose",
        "meds-1234567-dose",  # more digits than any row id
        "meds-7-dose-x",
        "../weight",
        "weight/1",
        "a" * (MAX_KEY + 1),
        "w" * 65,  # longer than any field id
        "meds-٣-dose",  # digits, but not ASCII ones
    ],
)
def test_malformed_keys_are_refused(key):
    with pytest.raises(Invalid):
        ItemAddress.parse(key)
    assert ItemAddress.of(key) is None


@busy
@given(st.text(max_size=300))
def test_parsing_anything_either_refuses_or_round_trips(text):
    found = ItemAddress.of(text)
    assert found is None or found.key == text


def test_a_row_needs_its_section_and_a_row_number_no_row_can_have_is_refused():
    with pytest.raises(Invalid):
        ItemAddress("dose", "meds", None)
    with pytest.raises(Invalid):
        ItemAddress("dose", "meds", 1_000_000)


def test_the_item_history_page_of_a_malformed_key_is_refused(client, entry_for):
    from tests.factories import login

    login(client, entry_for.nurse)
    url = f"/subjects/{entry_for.subject.study_code}/crf/baseline/1/visit/history/meds-1-2-dose"
    assert client.get(url).status_code == 422


#: Cutting or gluing item keys by hand: `rsplit("-")`, `split("-")`, `f"{group}-{row}…"`,
#: `.split("/")` of an audit path, a key prefix `startswith(f"…-")`.
KEY_SURGERY = [
    re.compile(r"""\.r?split\(\s*["']-["']"""),
    re.compile(r"""\.r?partition\(\s*["']-["']"""),
    re.compile(r"""f["'][^"'\n]*\{[^}\n]*(?:row|group|repeat|section)[^}\n]*\}-\{"""),
    re.compile(r"""f["'][^"'\n]*\}-\{[^}\n]*(?:row|field|\.id)[^}\n]*\}"""),
    re.compile(r"""item_path\.split\("""),
    re.compile(r"""split\(\s*["']/["']\s*\)\s*\[\s*2\s*\]"""),
    re.compile(r"""endswith\(\s*f["']/\{"""),
]


def test_no_code_outside_the_address_module_builds_or_cuts_item_keys():
    found = []
    for path in sorted([*EDC.rglob("*.py"), *EDC.rglob("*.html")]):
        if path.name == "item_address.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if any(p.search(line) for p in KEY_SURGERY):
                found.append(f"{path.relative_to(EDC)}:{number}: {line.strip()}")
    assert found == []
