"""Fixtures for the sealed consent copy: demo keys made once per run, a consent signed by two
parents and the investigator, and its sealed PDF (rendered and sealed once per run)."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import replace

import pytest
from flask import Flask
from markupsafe import Markup
from PIL import Image, ImageDraw

from econsent.pdf import (
    Choice,
    ConsentDocument,
    ConsentEvidence,
    Section,
    SignatureRecord,
    build_evidence,
    seal_consent,
    sealing_keys,
)
from econsent.pdf.keys import init_demo_keys, keys_folder
from edc.settings import Settings

SIGNED = dt.datetime(2026, 11, 30, 9, 41, 7, tzinfo=dt.UTC)


def signature_png(seed: int) -> bytes:
    """A drawn-looking scribble, different for each signer."""
    image = Image.new("RGB", (480, 140), "white")
    draw = ImageDraw.Draw(image)
    points = [(20 + i * 28, 70 + ((i * (7 + seed)) % 9 - 4) * 9) for i in range(16)]
    draw.line(points, fill=(10, 20, 90), width=4, joint="curve")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def signer(role: str, label: str, name: str, meaning: str, minutes: int) -> SignatureRecord:
    return SignatureRecord(
        role_code=role,
        role_label=label,
        printed_name=name,
        meaning=meaning,
        signed_at=SIGNED + dt.timedelta(minutes=minutes),
        image_png=signature_png(minutes),
        strokes=(((10.0, 12.5, 0), (40.0, 30.0, 16), (80.5, 22.0, 33)),),
    )


def make_evidence(language: str = "en") -> ConsentEvidence:
    return build_evidence(
        document=ConsentDocument(
            title="Neuroblastoma registry and biobank: information for parents",
            version="3.2",
            approval_reference="EC-BE-2026-0417",
            language=language,
            text_sha256="9f" * 32,
        ),
        sections=[
            Section(
                "Why we ask you", Markup("<p>Your child has <strong>neuroblastoma</strong>.</p>")
            ),
            Section("What happens to the samples", Markup("<p>Tumour tissue is stored.</p>")),
        ],
        signatures=[
            signer("investigator", "Investigator", "Dr Anna Rossi", "I explained the study", 9),
            signer("parent", "Parent or legal guardian", "Zoé Van den Berg", "I give consent", 2),
            signer("parent", "Parent or legal guardian", "Jonas Peeters", "I give consent", 5),
        ],
        choices=[
            Choice("biobank", "Storage of samples in the biobank", True),
            Choice("recontact", "Being contacted again about new research", False),
        ],
        site_name="UZ Gent paediatric oncology",
        study_code="SIOPEN-NB-REG",
        subject_code="NB-BE02-0031",
        audit_events=[
            {"action": "consent.session_started", "at": SIGNED, "actor": "nurse@site.test"},
            {"action": "consent.signed", "at": SIGNED, "role": "parent", "seq": 2},
        ],
    )


@pytest.fixture(scope="session")
def demo_settings(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The test app's settings with demo sealing keys for site BE02 (made once per run)."""
    settings: Settings = replace(
        app.config["EDC_SETTINGS"], instance_path=tmp_path_factory.mktemp("seal-instance")
    )
    init_demo_keys(keys_folder(settings), ["BE02"])
    return settings


@pytest.fixture(scope="session")
def other_ca_settings(app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose demo CA is another one: nothing sealed with `demo_settings` chains to it."""
    settings: Settings = replace(
        app.config["EDC_SETTINGS"], instance_path=tmp_path_factory.mktemp("other-instance")
    )
    init_demo_keys(keys_folder(settings), ["BE02"])
    return settings


@pytest.fixture(scope="session")
def evidence() -> ConsentEvidence:
    return make_evidence()


@pytest.fixture(scope="session")
def sealed(app: Flask, demo_settings: Settings, evidence: ConsentEvidence) -> bytes:
    with app.app_context():
        return seal_consent(evidence, sealing_keys(demo_settings, "BE02"))
