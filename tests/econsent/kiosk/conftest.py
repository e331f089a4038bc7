"""A clinic for consent sessions: the demo study's consent documents, a site in a two-parent
country (FR) and one in a one-parent country (ES), a child of a chosen age, a nurse and an
investigator, and demo sealing keys (made once per run)."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import io
import json
from collections.abc import Iterator

import pytest
from flask import Flask
from PIL import Image, ImageDraw

from econsent.library import use_folder
from econsent.pdf.keys import init_demo_keys, keys_folder
from econsent.services import sessions, signing
from edc.access import Role
from edc.actor import Actor
from edc.context import Context
from edc.extensions import db
from edc.models.base import utcnow
from edc.settings import ROOT
from tests.factories import make_site, make_study, make_subject, make_user

SITES = {"FR": "FR-71", "ES": "ES-71", "IT": "IT-71"}


@pytest.fixture(scope="session")
def _sealing_keys(app: Flask) -> None:
    init_demo_keys(keys_folder(app.config["EDC_SETTINGS"]), sorted(SITES.values()))


@pytest.fixture(autouse=True)
def _keys(_sealing_keys: None) -> None:
    """Every test here may seal."""


@pytest.fixture
def in_request(app: Flask) -> Iterator[None]:
    """Services called directly, inside a request context (translations, PDF templates). Not
    for tests that use the test client: its requests would share this context's `g`."""
    with app.test_request_context():
        yield


@dataclasses.dataclass
class Clinic:
    app: Flask
    site: object
    subject: object
    nurse: object
    investigator: object

    def ctx(self, user=None) -> Context:
        settings = self.app.config["EDC_SETTINGS"]
        return Context(db.session(), Actor(user=user or self.nurse), settings=settings)


@pytest.fixture
def clinic(app: Flask):
    """make(country, age) → a Clinic with a subject of `age` years at that country's site."""
    study = make_study()
    use_folder(study.slug, ROOT / "studies" / "siopen-nb")

    def make(country: str = "FR", age: int = 2) -> Clinic:
        site = make_site(SITES[country], study, country=country)
        today = utcnow().date()
        birth = dt.date(today.year - age, 1, 1)
        subject = make_subject(site, date_of_birth=birth)
        nurse = make_user(roles=[(Role.NURSE, site)])
        investigator = make_user(roles=[(Role.INVESTIGATOR, site)])
        return Clinic(app, site, subject, nurse, investigator)

    return make


def png_data_url(seed: int = 1) -> str:
    image = Image.new("RGB", (300, 100), "white")
    draw = ImageDraw.Draw(image)
    draw.line([(10 + i * 20, 50 + (i * seed) % 30) for i in range(14)], fill="navy", width=3)
    out = io.BytesIO()
    image.save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


STROKES = json.dumps([[[10, 20, 0], [40, 35.5, 16], [80, 22, 33]], [[90, 40, 0], [120, 60, 20]]])


def signed(name: str = "Marie Durand", **options: str) -> signing.Signing:
    return signing.Signing(
        printed_name=name,
        strokes_json=STROKES,
        png_data_url=png_data_url(len(name)),
        options=options,
    )


def all_yes(cs, role: str) -> dict[str, str]:
    return {o.id: "yes" for o in sessions.text_for(cs, role).options}


def right_answers(cs, role: str) -> dict[str, str]:
    return sessions.correct_answers(cs, role)
