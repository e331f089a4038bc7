"""Saving the biggest demo form (evaluation, item audit, commit) against a bare one-row write.

Both run in the same process on the same database: the save goes through the data-entry service
exactly as the CRF page does (minus HTTP); the baseline writes the same values as one JSON row
and commits. Every save changes every item, so each writes one audit event per item (worst case).

Run: .venv/bin/python -m bench.crf_save [--url DATABASE_URL] [--saves 30]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from sqlalchemy import text

from bench.portal import demo_portal
from edc.actor import Actor
from edc.extensions import db
from edc.models.base import utcnow
from edc.models.subjects import Subject
from edc.models.users import User
from edc.services import data_entry

FORM = "diagnosis"


def posted(variant: int) -> dict[str, str | list[str]]:
    """Answers to most diagnosis fields; the two variants differ in every value."""
    a = variant % 2 == 0
    values: dict[str, str | list[str]] = {
        "diagnosis_date": "2026-03-10" if a else "2026-03-11",
        "primary_site": "adrenal" if a else "thorax",
        "inss_stage": "3" if a else "2B",
        "inrg_stage": "L2",
        "idrf_modality": "ct" if a else "mri",
        "idrf_date": "2026-03-12" if a else "2026-03-13",
        "idrf_present": "yes",
        "idrfs": ["abdomen_sma_branches"] if a else ["thorax_aorta"],
        "histology": "nb",
        "grade": "differentiating" if a else "poorly_differentiated",
        "mki": "low" if a else "intermediate",
        "pathology_review_date": "2026-03-20" if a else "2026-03-21",
        "mycn": "not_amplified" if a else "gain",
        "mycn_method": ["fish"] if a else ["mlpa"],
        "chr11q": "no" if a else "yes",
        "chr1p_deletion": "no" if a else "yes",
        "chr17q_gain": "yes" if a else "no",
        "chr3p_loss": "no" if a else "yes",
        "chr4p_loss": "no" if a else "yes",
        "chr1q_gain": "no" if a else "yes",
        "chr2p_gain": "no" if a else "yes",
        "dna_index": "1.2" if a else "1.4",
        "alk_status": "none" if a else "amplification",
        "national_reference_lab": "yes" if a else "no",
    }
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=None)
    parser.add_argument("--saves", type=int, default=30)
    args = parser.parse_args()
    portal = demo_portal(args.url)
    with portal.app.app_context():
        who = Actor(user=db.session.get(User, portal.nurse.id))
        subject = db.session.get(Subject, portal.subject.id)
        db.session.execute(text("CREATE TABLE bench_row (id INTEGER PRIMARY KEY, data TEXT)"))
        db.session.commit()

        def save(i: int) -> float:
            entry = data_entry.open_entry(db.session, who, subject, "diagnosis", 1, FORM)
            assert entry is not None
            start = time.perf_counter()
            result = data_entry.save(
                db.session, who, entry, posted(i), expected_version=entry.row_version,
                complete=False, reasons={}, confirmed={}, lang="en", now=utcnow(),
            )  # fmt: skip
            db.session.commit()
            elapsed = time.perf_counter() - start
            assert result.outcome is data_entry.Outcome.SAVED, result.outcome
            return elapsed

        def bare(i: int) -> float:
            start = time.perf_counter()
            db.session.execute(
                text("INSERT INTO bench_row (id, data) VALUES (:i, :d)"),
                {"i": i, "d": json.dumps(posted(i))},
            )
            db.session.commit()
            return time.perf_counter() - start

        save(0)
        record = data_entry.open_entry(db.session, who, subject, "diagnosis", 1, FORM).record
        items = len(data_entry.stored_items(db.session, record))
        saves = [save(i) for i in range(1, args.saves + 1)]
        bares = [bare(i) for i in range(1, args.saves + 1)]
    s, b = statistics.median(saves), statistics.median(bares)
    print(f"database: {portal.url.split(':', 1)[0]}; form `{FORM}`, {items} items changed per save")
    print(f"save (evaluate, {items} audit events, commit): median {s * 1000:7.2f} ms")
    print(f"bare endpoint (one JSON row, commit):          median {b * 1000:7.2f} ms")
    print(f"ratio {s / b:.1f} (target <= 3)")


if __name__ == "__main__":
    main()
