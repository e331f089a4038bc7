"""Remote consent: the demo study's consent documents with remote consent allowed in Spain (one
parent) and France (two parents), a child whose parent has one or two e-mail addresses, a
nurse and an investigator, the local SMTP server, and demo sealing keys."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
from flask import Flask

from econsent.library import use_folder
from edc.access import Role
from edc.models.base import utcnow
from edc.services.subjects import Guardian
from edc.settings import ROOT
from tests.econsent.kiosk.conftest import Clinic, _keys, _sealing_keys, in_request  # noqa: F401
from tests.factories import make_site, make_study, make_subject, make_user
from tests.mailbox import Mailbox

SITES = {"FR": "FR-71", "ES": "ES-71", "IT": "IT-71"}
PARENT = "ana.garcia@parents.test"
SECOND = "ana.phone@parents.test"


@pytest.fixture(scope="session")
def remote_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo study folder with remote consent allowed in ES and FR (not IT)."""
    folder = tmp_path_factory.mktemp("remote") / "siopen-nb"
    shutil.copytree(ROOT / "studies" / "siopen-nb", folder)
    rules = folder / "consent" / "rules.yaml"
    text = rules.read_text()
    for country in ("FR", "ES"):
        start = text.index(f"  {country}:\n")
        end = text.index("remote_consent: false", start)
        text = text[:end] + "remote_consent: true" + text[end + len("remote_consent: false") :]
    rules.write_text(text)
    return folder


#: The same parts as a clinic's: a site, a child, the nurse and the investigator.
Home = Clinic


@pytest.fixture
def home(app: Flask, remote_folder: Path):
    """make(country, second_email=True) → a Home: a child of 2 whose parent Ana can be invited."""
    study = make_study()
    use_folder(study.slug, remote_folder)

    def make(country: str = "ES", second_email: bool = True, age: int = 2) -> Home:
        site = make_site(SITES[country], study, country=country)
        parent = Guardian(name="Ana García", relationship="mother", email=PARENT,
                          second_email=SECOND if second_email else "")  # fmt: skip
        birth = dt.date(utcnow().year - age, 1, 1)
        subject = make_subject(site, date_of_birth=birth, guardians=(parent,))
        nurse = make_user(roles=[(Role.NURSE, site)])
        investigator = make_user(roles=[(Role.INVESTIGATOR, site)])
        return Home(app, site, subject, nurse, investigator)

    return make


def link_path(box: Mailbox, address: str = PARENT) -> str:
    """The path of the remote consent link in the latest message to `address`."""
    found = re.search(r"https?://[^/\s]+(/remote/invitation/\S+)", box.body(box.to(address)[-1]))
    assert found, box.body(box.to(address)[-1])
    return found.group(1)


def mailed_code(box: Mailbox, address: str = SECOND) -> str:
    found = re.search(r"^\s*(\d{4} \d{4})\s*$", box.body(box.to(address)[-1]), re.MULTILINE)
    assert found, box.body(box.to(address)[-1])
    return found.group(1).replace(" ", "")
