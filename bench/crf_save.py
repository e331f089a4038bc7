"""Saving the biggest demo form through its endpoint against a bare endpoint writing one row.

Both are HTTP POSTs through WSGI in the same process, on the same database engine, timed
alternately so that load on the machine falls on both alike:

- **save**: `POST /subjects/<code>/crf/diagnosis/1/diagnosis` as a signed-in nurse — session and
  access checks, CSRF, evaluation by forms_dsl, the vault read for the age calculation (audited),
  one audit event per changed item plus the record's, the optimistic version bump, commit, redirect.
  Every save changes every item (worst case: each writes an audit event).
- **bare**: a Flask app with one route that writes the same posted values as one JSON row,
  commits and redirects: what the request costs with no checks, no audit and no model.
- **bare in the portal**: the same write behind the portal's own sign-in, access gate, CSRF
  check and commit point: what validation, item audit and the form model add to a write that
  is as safe as any other in the portal.

The target compares the save with the bare endpoint in the portal: both pay for the same
sign-in, access gate, CSRF check and commit, so the ratio is what validation, the form model and
item-level audit add. The bare Flask app is printed for scale. Parts of the save are also timed on
their own, to show where the time goes: the evaluation, and appending the same number of audit
events.

Run: .venv/bin/python -m bench.crf_save [--url DATABASE_URL] [--saves 60]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections.abc import Callable

from flask import Flask, abort, redirect, request
from flask.typing import ResponseReturnValue
from sqlalchemy import event, text

from bench.portal import Portal, demo_portal, signed_in
from edc import audit
from edc.access import Permission, requires
from edc.actor import Actor
from edc.context import Context
from edc.extensions import db
from edc.forms import EmptyForm
from edc.models.base import utcnow
from edc.models.subjects import Subject
from edc.models.users import User
from edc.services import data_entry, entries

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


def bare_app() -> Flask:
    """The baseline: parse the post, write it as one row on the portal's engine, redirect."""
    app = Flask("bare")
    engine = db.engine

    @app.post("/bare")
    def write() -> ResponseReturnValue:
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO bench_row (data) VALUES (:d)"),
                {"d": json.dumps(request.form.to_dict(flat=False))},
            )
        return redirect("/done")

    return app


def portal_bare(app: Flask) -> None:
    """The same baseline inside the portal: sign-in, access gate, CSRF and the one commit point
    as for the save, then the posted values written as one JSON row, no form and no audit."""

    @requires(Permission.DATA_ENTER)
    def bench_bare_write() -> ResponseReturnValue:
        if not EmptyForm().validate_on_submit():
            abort(400)
        values = {k: request.form.getlist(k) for k in request.form if k != "csrf_token"}
        db.session.execute(
            text("INSERT INTO bench_row (data) VALUES (:d)"), {"d": json.dumps(values)}
        )
        return redirect("/done")

    app.add_url_rule("/bench/bare", view_func=bench_bare_write, methods=["POST"])


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=None)
    parser.add_argument("--saves", type=int, default=60)
    args = parser.parse_args()
    portal = demo_portal(args.url)
    portal_bare(portal.app)  # before the first request, as Flask requires
    client = signed_in(portal)
    url = f"/subjects/{portal.subject.study_code}/crf/diagnosis/1/{FORM}"
    with portal.app.app_context():
        db.session.execute(text("CREATE TABLE bench_row (data TEXT)"))  # any database
        db.session.commit()
        bare = bare_app().test_client()
    page = client.get(url).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token, "no CSRF token on the CRF page"
    version = 0

    def save(i: int) -> None:
        nonlocal version
        data = {**posted(i), "csrf_token": token.group(1), "row_version": str(version)}
        response = client.post(url, data=data)
        assert response.status_code == 302, (response.status_code, response.text[:500])
        version += 1

    def forget_message() -> None:  # the subject page would show it; untimed, like a page view
        with client.session_transaction() as cookie:
            cookie.pop("_flashes", None)

    def write(i: int) -> None:
        response = bare.post("/bare", data=posted(i))
        assert response.status_code == 302, response.status_code

    def write_in_portal(i: int) -> None:
        response = client.post("/bench/bare", data={**posted(i), "csrf_token": token.group(1)})
        assert response.status_code == 302, (response.status_code, response.text[:300])

    save(0)
    forget_message()
    saves, bares, inside = [], [], []
    for i in range(1, args.saves + 1):
        saves.append(timed(lambda i=i: save(i)))
        forget_message()
        bares.append(timed(lambda i=i: write(i)))
        inside.append(timed(lambda i=i: write_in_portal(i)))
    counted = (
        statements(lambda: save(args.saves + 1)),
        statements(lambda: write_in_portal(0)),
        statements(lambda: write(0)),
    )
    forget_message()
    _report(portal, args.saves, (saves, inside, bares), counted)


def _report(
    portal: Portal,
    n: int,
    times: tuple[list[float], list[float], list[float]],
    counted: tuple[int, int, int],
) -> None:
    """The figures: the save beside the bare endpoints, then the parts of the save."""
    evaluations, appends, items = parts(portal, n)
    s, p, b = (statistics.median(t) for t in times)
    e, a = statistics.median(evaluations), statistics.median(appends)
    print(f"database: {portal.url.split(':', 1)[0]}; form `{FORM}`, {items} items changed per save")
    print(
        f"save endpoint (sign-in, access, CSRF, evaluation, {items + 1} audit events, commit): "
        f"{ms(s)}, {counted[0]} SQL statements"
    )
    print(
        "bare endpoint in the portal (the same sign-in, access, CSRF and commit; the values as "
        f"one JSON row): {ms(p)}, {counted[1]} SQL statements"
    )
    print(f"ratio {s / p:.1f} (target <= 3): what validation, the form and item audit add")
    print(
        f"for scale, a bare Flask app writing the same row (no sign-in, no CSRF): {ms(b)}, "
        f"{counted[2]} SQL statements; ratio {s / b:.1f}"
    )
    print("parts of the save, each against the bare endpoint in the portal:")
    print(f"  forms_dsl evaluation of the form:            {ms(e)} ({e / p:.1f}x)")
    print(f"  appending {items + 1} chained audit events + commit: {ms(a)} ({a / p:.1f}x)")


def statements(call: Callable[[], object]) -> int:
    """How many SQL statements one call sends (BEGIN and COMMIT as the driver sees them)."""
    seen: list[int] = []

    def count(*_args: object) -> None:
        seen.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(seen)


def parts(portal: Portal, n: int) -> tuple[list[float], list[float], int]:
    """The evaluation alone and the audit append alone, as the save does them."""
    with portal.app.app_context():
        who = Actor(user=db.session.get(User, portal.nurse.id))
        subject = db.session.get(Subject, portal.subject.id)
        entry = entries.open_entry(Context(db.session(), who), subject, "diagnosis", 1, FORM)
        assert entry is not None
        assert entry.record is not None
        items = len(entries.stored_items(Context(db.session(), who), entry.record))
        now = utcnow()
        evaluations = [
            timed(lambda i=i: data_entry.evaluate(entry, posted(i), birth=None, lang="en", now=now))
            for i in range(n)
        ]

        def append(i: int) -> None:
            events = [
                {"action": "bench.item", "entity_type": "form_record", "entity_id": 1,
                 "item_path": f"diagnosis/1/diagnosis@3/item{k}", "old": i, "new": i + 1}
                for k in range(items + 1)
            ]  # fmt: skip
            audit.record_many(db.session, who, events)
            db.session.commit()

        appends = [timed(lambda i=i: append(i)) for i in range(n)]
    return evaluations, appends, items


def ms(seconds: float) -> str:
    return f"median {seconds * 1000:6.2f} ms"


if __name__ == "__main__":
    main()
