"""Property: whatever a child's identity holds, no vault value reaches a registry payload
(checklist items 48 and 89): names, the birth date in the usual spellings, the hospital number,
the parents' names, phones and e-mails are looked for in every byte pushed."""

from __future__ import annotations

import datetime as dt
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edc.registry.payload import CLK_URL
from edc.services.subjects import Guardian
from tests.edc.registry.trial import POSTED, Registry, consent, lock_subject, push, save
from tests.factories import make_subject

#: At least one letter that is no hex digit, so a name can never hide inside a hex token.
_NOT_HEX = "ghjkmnpqrstuvwxyzéèçñøß"
NAMES = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(_NOT_HEX.upper()),
    st.text(alphabet=_NOT_HEX + "abcdef-' ", min_size=4, max_size=14).map(str.strip),
)
BIRTH = st.dates(min_value=dt.date(2008, 1, 1), max_value=dt.date(2024, 12, 31))
HOSPITAL = st.from_regex(r"[A-Z]{2}-[0-9]{6,9}", fullmatch=True)
PHONE = st.from_regex(r"\+33 6[0-9]{8}", fullmatch=True)


def readable(bundle: bytes) -> str:
    """Every text and number of a Bundle, one per line, but the linkage Bloom filter: its
    base64 bytes are random letters, in which a short name can appear by chance."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("url") == CLK_URL:
                assert set(node) == {"url", "valueBase64Binary"}  # nothing else rides along
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif node is not None:
            found.append(str(node))

    walk(json.loads(bundle))
    return "\n".join(found)


def spellings(born: dt.date) -> list[str]:
    return [
        born.isoformat(), born.strftime("%d/%m/%Y"), born.strftime("%Y%m%d"),
        born.strftime("%d.%m.%Y"), born.strftime("%m/%d/%Y"),
    ]  # fmt: skip


@settings(
    max_examples=12, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
@given(
    family=NAMES, given_names=NAMES, born=BIRTH, hospital=HOSPITAL,
    parent=NAMES, phone=PHONE,
)  # fmt: skip
def test_no_identity_value_is_ever_pushed(
    trial, family, given_names, born, hospital, parent, phone
):
    study, site, _subject, nurse, manager, settings_ = trial
    guardian = Guardian(
        name=parent, relationship="mother", phone=phone, email=f"{parent}@mail.test"
    )
    child = make_subject(
        site, family_name=family, given_names=given_names, date_of_birth=born,
        hospital_number=hospital, guardians=(guardian,),
    )  # fmt: skip
    consent(child, nurse)
    save(nurse, child, "diagnosis", POSTED)
    lock_subject(manager, study, child)
    registry = Registry()
    push(settings_, registry)
    assert registry.received, "the child's record should have been pushed"
    sent = "\n".join(readable(bundle) for bundle in registry.received).casefold()
    secrets = [family, given_names, hospital, parent, phone, guardian.email, *spellings(born)]
    for value in secrets:
        needle = value.strip().casefold()
        assert len(needle) >= 4
        assert needle not in sent, f"{value!r} reached the registry"
