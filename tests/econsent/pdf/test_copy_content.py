"""What a reader of the sealed copy finds: every signer's name, role and UTC time, the choices,
PDF/A-3b metadata, the fonts embedded, and the evidence JSON attached exactly as given."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET

import pypdf
import pytest
from flask import Flask
from markupsafe import Markup

from econsent.pdf import (
    EVIDENCE_NAME,
    ConsentEvidence,
    Section,
    evidence_json,
    render_pdf,
)
from econsent.pdf.render import ExternalResourceRefused
from tests.econsent.pdf.conftest import make_evidence

PDFAID = "{http://www.aiim.org/pdfa/ns/id/}"
DC = "{http://purl.org/dc/elements/1.1/}"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"


def _text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_text_names_every_signer_with_role_meaning_and_utc_time(
    sealed: bytes, evidence: ConsentEvidence
) -> None:
    text = _text(sealed)
    for signature in evidence.signatures:
        assert signature.printed_name in text
        assert signature.role_label in text
        assert signature.meaning in text
        assert signature.signed_at.strftime("%Y-%m-%d %H:%M:%S UTC") in text
    assert "2026-11-30 09:43:07 UTC" in text  # the first parent, two minutes after 09:41:07


def test_text_shows_each_choice_with_its_answer(sealed: bytes) -> None:
    lines = _text(sealed).splitlines()
    assert any("Storage of samples in the biobank" in line and "Yes" in line for line in lines)
    assert any(
        "Being contacted again about new research" in line and "No" in line for line in lines
    )


def test_text_shows_the_document_and_the_subject_by_study_code(sealed: bytes) -> None:
    text = _text(sealed)
    assert "Neuroblastoma registry and biobank: information for parents" in text
    assert "EC-BE-2026-0417" in text
    assert "NB-BE02-0031" in text
    assert "neuroblastoma" in text


def _xmp_attributes(pdf: bytes, namespace: str = PDFAID) -> dict[str, str]:
    found = {}
    for element in _xmp(pdf).iter():
        for name, value in element.attrib.items():
            if name.startswith(namespace):
                found[name.removeprefix(namespace)] = value
        if element.tag.startswith(namespace):
            found[element.tag.removeprefix(namespace)] = (element.text or "").strip()
    return found


def _xmp(pdf: bytes) -> ET.Element:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    metadata = reader.trailer["/Root"]["/Metadata"].get_object().get_data()
    return ET.fromstring(metadata)  # noqa: S314 (our own copy, not input)


def test_sealed_copy_declares_pdfa_3b(sealed: bytes) -> None:
    assert _xmp_attributes(sealed) == {"part": "3", "conformance": "B"}
    root = pypdf.PdfReader(io.BytesIO(sealed)).trailer["/Root"]
    assert root["/OutputIntents"][0]["/S"] == "/GTS_PDFA1"


def test_document_information_agrees_with_the_xmp(sealed: bytes) -> None:
    """PDF/A: each entry of the document information equals its XMP counterpart."""
    info = pypdf.PdfReader(io.BytesIO(sealed)).metadata
    assert info is not None
    xmp = _xmp_attributes(sealed, "{http://ns.adobe.com/pdf/1.3/}")
    assert info["/Producer"] == xmp["Producer"]
    for key, name in (("/Title", "title"), ("/Subject", "description")):
        found = _xmp(sealed).find(f".//{DC}{name}//{RDF}li")
        assert found is not None, name
        assert info[key] == found.text


def test_every_font_is_embedded(sealed: bytes) -> None:
    reader = pypdf.PdfReader(io.BytesIO(sealed))
    fonts = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            descendant = font.get_object()["/DescendantFonts"][0].get_object()
            fonts.append(descendant["/FontDescriptor"])
    assert fonts
    assert all("/FontFile2" in descriptor for descriptor in fonts)


def test_evidence_json_is_attached_as_given(sealed: bytes, evidence: ConsentEvidence) -> None:
    reader = pypdf.PdfReader(io.BytesIO(sealed))
    (attached,) = reader.attachments[EVIDENCE_NAME]
    assert attached == evidence_json(evidence)
    parsed = json.loads(attached)
    assert [s["printed_name"] for s in parsed["signatures"]] == [
        "Zoé Van den Berg",
        "Jonas Peeters",
        "Dr Anna Rossi",
    ]
    assert parsed["audit_events"][1] == {
        "action": "consent.signed",
        "at": "2026-11-30T09:41:07+00:00",
        "role": "parent",
        "seq": 2,
    }
    assert parsed["signatures"][0]["strokes"] == [
        [[10.0, 12.5, 0], [40.0, 30.0, 16], [80.5, 22.0, 33]]
    ]


def test_copy_is_in_the_signers_language(app: Flask) -> None:
    with app.app_context():
        text = _text(render_pdf(make_evidence("fr")))
    assert "Oui" in text
    assert "Non" in text
    assert "Yes" not in text


def test_a_section_may_not_load_anything_from_outside(app: Flask) -> None:
    base = make_evidence()
    hostile = Section("Image", Markup('<p><img src="file:///etc/hostname" alt=""></p>'))
    evidence = ConsentEvidence(**{**base.__dict__, "sections": (hostile,)})
    with app.app_context(), pytest.raises(ExternalResourceRefused, match="file:///etc/hostname"):
        render_pdf(evidence)


def test_plain_text_in_a_section_is_escaped(app: Flask) -> None:
    base = make_evidence()
    section = Section("Note", "<b>not bold</b>")  # type: ignore[arg-type]
    evidence = ConsentEvidence(**{**base.__dict__, "sections": (section,)})
    with app.app_context():
        assert "<b>not bold</b>" in _text(render_pdf(evidence))
