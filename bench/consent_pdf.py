"""Sealed consent copy: time to render and seal a 6-page consent PDF (PDF/A-3b with the evidence
attached, PAdES B-T seal with the demo CA and its in-process TSA), beside rendering the same HTML
to PDF without the evidence and the seal, in the same run. Target: < 2 s for the whole.

Run: .venv/bin/python -m bench.consent_pdf [--out sealed.pdf] [--repeat 5]
With --out the last sealed PDF that was timed is written, to check with any validator (the demo
CA is written beside it as <out>.ca.pem).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pypdf
from markupsafe import Markup
from PIL import Image, ImageDraw

from app import create_app
from econsent.pdf import (
    Choice,
    ConsentDocument,
    ConsentEvidence,
    Section,
    SignatureRecord,
    build_evidence,
    seal_consent,
    sealing_keys,
    trust_roots,
    validate_sealed,
)
from econsent.pdf.keys import CA_CERT, init_demo_keys, keys_folder
from econsent.pdf.render import html_to_pdfa, render_html
from edc.settings import Settings

TOPICS = [
    (
        "Why we are asking you",
        "neuroblastoma is the most common solid tumour outside the brain "
        "in young children, and every child treated in the network helps the next one",
    ),
    (
        "What the registry is",
        "the European registry records diagnosis, stage, MYCN status, "
        "treatment and outcome under a study code, never under your child's name",
    ),
    (
        "What the biobank keeps",
        "left-over tumour tissue, blood and bone marrow taken during "
        "routine care are stored frozen so that researchers can study the disease later",
    ),
    (
        "Who can see the data",
        "only the staff of your hospital know who your child is; monitors "
        "and researchers see coded data, and every access is recorded in an audit trail",
    ),
    (
        "Risks and burdens",
        "no extra needle, visit or scan is needed; the main risk is a breach "
        "of confidentiality, which coding, encryption and access rules keep as small as possible",
    ),
    (
        "Your choices",
        "you may agree to the registry but not the biobank, or refuse to be "
        "contacted again; each option can be withdrawn on its own at any time",
    ),
    (
        "Withdrawing",
        "you can withdraw without giving a reason and without any effect on your "
        "child's care; samples not yet used are destroyed and no new data are collected",
    ),
    (
        "When your child grows up",
        "at the age of majority your child will be asked to give "
        "their own consent, and may decide differently from you",
    ),
    (
        "Your rights",
        "under the General Data Protection Regulation you may ask to see, correct "
        "or erase data, and you may complain to the data protection authority",
    ),
    (
        "Contacts",
        "the investigator and the research nurse of your hospital answer your "
        "questions; their names and telephone numbers are on the first page of the booklet",
    ),
]


def sections(paragraphs: int) -> list[Section]:
    """Plausible information-sheet text: `paragraphs` paragraphs per topic."""
    out = []
    for heading, gist in TOPICS:
        paragraph = Markup(
            "<p>{}. In practice this means that {}; the research nurse will go through this "
            "part with you (point {}), and you may take the sheet home, talk it over with your "
            "family and ask us again before you decide. Nothing in this section changes the "
            "treatment your child receives.</p>"
        )
        body = Markup("").join(
            paragraph.format(gist[0].upper() + gist[1:], gist, n + 1) for n in range(paragraphs)
        )
        out.append(Section(heading, body))
    return out


def scribble(seed: int) -> tuple[bytes, tuple[tuple[float, float, int], ...]]:
    """A drawn-looking signature: a looping pen trace, as PNG and as the stroke points."""
    points = []
    for i in range(160):
        t = i / 20
        x = 20 + i * 2.7 + 14 * math.sin(t * 3.1 + seed)
        y = 70 + 28 * math.sin(t * 2.3 + seed) * math.cos(t * 0.7) + 6 * math.sin(t * 9)
        points.append((round(x, 1), round(y, 1), i * 8))
    image = Image.new("RGB", (500, 140), "white")
    ImageDraw.Draw(image).line([(x, y) for x, y, _t in points], fill=(12, 24, 80), width=3)
    png = io.BytesIO()
    image.save(png, "PNG", optimize=True)
    return png.getvalue(), tuple(points)


def consent(paragraphs: int) -> ConsentEvidence:
    signed = dt.datetime(2026, 12, 4, 9, 30, tzinfo=dt.UTC)
    people = [
        ("parent", "Parent or legal guardian", "Zoé Van den Berg", "I give consent for my child"),
        ("parent", "Parent or legal guardian", "Jonas Peeters", "I give consent for my child"),
        ("investigator", "Investigator", "Dr Anna Rossi", "I explained the study and answered"),
    ]
    signatures = []
    for n, (role, label, name, meaning) in enumerate(people):
        png, points = scribble(n)
        at = signed + dt.timedelta(minutes=3 * n)
        signatures.append(SignatureRecord(role, label, name, meaning, at, png, (points,)))
    return build_evidence(
        document=ConsentDocument(
            "Neuroblastoma registry and biobank: information and consent for parents",
            "4.0", "EC-BE-2026-0417", "en", "3b" * 32,
        ),
        sections=sections(paragraphs),
        signatures=signatures,
        choices=[
            Choice("registry", "Transfer of coded data to the European registry", True),
            Choice("biobank", "Storage of samples in the biobank", True),
            Choice("recontact", "Being contacted again about new research", False),
        ],
        site_name="UZ Gent paediatric oncology",
        study_code="SIOPEN-NB-REG",
        subject_code="NB-BE02-0031",
        audit_events=[{"action": f"consent.step{i}", "at": signed.isoformat()} for i in range(40)],
    )  # fmt: skip


def median_seconds(work: Callable[[], bytes], repeat: int) -> tuple[float, bytes]:
    times, result = [], b""
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def pages(pdf: bytes) -> int:
    return len(pypdf.PdfReader(io.BytesIO(pdf)).pages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, help="write the sealed PDF that was timed here")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp())
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'bench.sqlite3'}", secret_key="bench", vault_key="bench",
        audit_key="bench", instance_path=tmp, testing=True,
    )  # fmt: skip
    app = create_app(settings)
    init_demo_keys(keys_folder(settings), ["BE02"])
    with app.app_context():
        paragraphs = 1
        while pages(html_to_pdfa(render_html(consent(paragraphs)))) < 6:
            paragraphs += 1  # grow the text until the copy has six pages (not timed)
        evidence = consent(paragraphs)
        keys = sealing_keys(settings, "BE02")
        html = render_html(evidence)
        html_to_pdfa(html)  # warm-up: fonts and styles are loaded once per process
        seal_consent(evidence, keys)
        base, plain = median_seconds(lambda: html_to_pdfa(html), args.repeat)
        full, sealed = median_seconds(lambda: seal_consent(evidence, keys), args.repeat)
    check = validate_sealed(sealed, trust_roots(settings))
    print(f"{pages(plain)}-page consent, {len(evidence.signatures)} signatures, "
          f"median of {args.repeat}; sealed PDF {len(sealed) / 1024:.0f} KiB")  # fmt: skip
    print(f"render the HTML to PDF/A (baseline)          {base * 1000:7.0f} ms   1.00x")
    print(f"render + evidence + PAdES B-T seal (whole)   {full * 1000:7.0f} ms "
          f"{full / base:6.2f}x")  # fmt: skip
    print(f"whole < 2 s: {'yes' if full < 2 else 'NO'}; check of the copy: {check.summary}")
    if args.out:
        args.out.write_bytes(sealed)
        ca = args.out.with_suffix(".ca.pem")
        ca.write_bytes((keys_folder(settings) / CA_CERT).read_bytes())
        print(f"wrote {args.out} (trust root: {ca})")


if __name__ == "__main__":
    main()
