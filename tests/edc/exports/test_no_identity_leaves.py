"""Checklist 48: identity-vault values given to subjects (names, birth dates, hospital numbers,
guardians' names, phones and e-mails), also typed into the form's identifier items, never
appear in any export, in any case or date format."""

from __future__ import annotations

import datetime as dt
import io
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edc.services import subjects
from edc.services.subjects import Guardian
from tests.edc.exports.conftest import consent, ctx_of, run, save

# Letters that no hexadecimal digest, ODM tag or CSV header can spell, with accents: a match
# in the output is a leak, never a coincidence.
NAME = st.from_regex(r"[GHJKLMNPQRSTVWXZ][ghjklmnpqrstvwxzçñ]{5,10}", fullmatch=True)
PHONE = st.from_regex(r"\+3[0-9] [0-9]{3} [0-9]{3} [0-9]{3}", fullmatch=True)
IDENTITY = st.fixed_dictionaries(
    {
        "family_name": NAME,
        "given_names": NAME,
        # Before any date of the seeded data (2025) and of the trail (today).
        "date_of_birth": st.dates(dt.date(1995, 1, 1), dt.date(2015, 12, 31)),
        "hospital_number": st.from_regex(r"[0-9]{9,12}", fullmatch=True),
        "guardian": NAME,
        "phone": PHONE,
        "email": st.builds(lambda a, b: f"{a.lower()}@{b.lower()}.example", NAME, NAME),
    }
)


def _shapes(day: dt.date) -> list[str]:
    return [
        day.isoformat(), day.strftime("%d/%m/%Y"), day.strftime("%d.%m.%Y"),
        day.strftime("%m/%d/%Y"), day.strftime("%Y%m%d"), day.strftime("%d-%m-%Y"),
    ]  # fmt: skip


def _forbidden(values: dict) -> list[str]:
    phone = values["phone"]
    return [
        values["family_name"], values["given_names"], values["hospital_number"],
        values["guardian"], phone, phone.replace(" ", ""), values["email"],
        f"{values['given_names']} {values['family_name']}",
        *_shapes(values["date_of_birth"]),
    ]  # fmt: skip


def _texts(csv_zip: bytes, odm: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(csv_zip)) as archive:
        found = [archive.read(n).decode("utf-8") for n in archive.namelist()]
    return [*found, odm.decode("utf-8")]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(values=IDENTITY)
def test_no_identity_vault_value_appears_in_any_export(trial, values):
    identity = subjects.Identity(
        family_name=values["family_name"], given_names=values["given_names"],
        date_of_birth=values["date_of_birth"], sex="male",
        hospital_number=values["hospital_number"],
        guardians=(Guardian(values["guardian"], "mother", values["phone"], values["email"]),),
    )  # fmt: skip
    ctx = ctx_of(trial.app, trial.nurse)
    subject = subjects.register(ctx, trial.site.id, identity, ctx.now(), confirm_duplicate=True)
    consent(trial.app, trial.nurse, subject, 1)
    posted = {
        "visit_date": "2025-06-02", "weight": "10",
        "referrer": f"{values['given_names']} {values['family_name']}",
        "doses-0-drug": "Cisplatin", "doses-0-contact": f"{values['guardian']} {values['phone']}",
    }  # fmt: skip
    save(trial.app, trial.nurse, subject, "baseline", 1, "visit", posted)
    csv_zip, _ = run(trial, trial.data_manager, "csv")
    odm, _ = run(trial, trial.investigator, "odm", site="FR-01")
    fhir_bundle, _ = run(trial, trial.data_manager, "fhir")
    certified, _ = run(trial, trial.investigator, "certified", site="FR-01")
    with zipfile.ZipFile(io.BytesIO(certified)) as archive:
        copy = [archive.read(n).decode("utf-8") for n in archive.namelist()]
    texts = [t.lower() for t in [*_texts(csv_zip, odm), *copy, fhir_bundle.decode()]]
    assert subject.study_code.lower() in texts[-1]  # the subject was exported
    for value in _forbidden(values):
        for text in texts:
            assert value.lower() not in text, value
