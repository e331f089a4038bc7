"""Saving the biggest demo form (evaluation, item audit, commit) against a bare one-row write.

Both run in the same process on the same database: the save goes through the data-entry service
exactly as the CRF page does (minus HTTP); the baseline writes the same values as one JSON row
and commits. Every save changes every item, so each writes one audit event per item (worst case).

Run: .venv/bin/python -m bench.crf_save [--url DATABASE_URL] [--saves 30]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import time
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import text

from app import create_app
from edc.access import Role
from edc.actor import Actor
from edc.extensions import db
from edc.models.base import utcnow
from edc.services import data_entry, subjects, users
from edc.services.definitions import find_or_create_study, load_definition, read_folder
from edc.settings import ROOT, Settings
from tests.databases import fresh_database_url

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
    tmp = Path(tempfile.mkdtemp())
    url = args.url or fresh_database_url(tmp, "crfbench")
    app = create_app(Settings.from_env(database_url=url, instance_path=tmp, testing=True))
    with app.app_context():
        upgrade()
        actor, now = Actor.cli(), utcnow()
        checked = read_folder(ROOT / "studies" / "siopen-nb")
        study, _created = find_or_create_study(db.session, actor, checked)
        load_definition(db.session, actor, study, ROOT / "studies" / "siopen-nb", now)
        from edc.cli import _add_site

        site = _add_site(study, "FR-01", "Bench", "FR")
        nurse, _pw = users.create_user(
            db.session, app.config["EDC_SETTINGS"], actor, email="bench@x.test",
            full_name="Bench", identity_check="bench", ends_at=None, now=now,
        )  # fmt: skip
        db.session.flush()
        users.assign_role(db.session, actor, nurse, users.RoleScope(Role.NURSE, site.id), now)
        who = Actor(user=nurse)
        subject = subjects.register(
            db.session,
            who,
            site.id,
            subjects.Identity("A", "B", dt.date(2024, 1, 1), "female"),
            now,
        )
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
        items = len(data_entry.stored_items(db.session, data_entry.open_entry(
            db.session, who, subject, "diagnosis", 1, FORM).record))  # fmt: skip
        saves = [save(i) for i in range(1, args.saves + 1)]
        bares = [bare(i) for i in range(1, args.saves + 1)]
    s, b = statistics.median(saves), statistics.median(bares)
    print(f"database: {url.split(':', 1)[0]}; form `{FORM}`, {items} stored items changed per save")
    print(f"save (evaluate, {items} audit events, commit): median {s * 1000:7.2f} ms")
    print(f"bare endpoint (one JSON row, commit):          median {b * 1000:7.2f} ms")
    print(f"ratio {s / b:.1f} (target <= 3)")


if __name__ == "__main__":
    main()
