"""Compressed weight of pages with the CSS and JS they load, against the 60 KB budget:
the login page and the CRF page of the biggest demo form (signed in, as a nurse sees it).

Run: .venv/bin/python -m bench.page_weight
"""

from __future__ import annotations

import gzip
import re

from flask.testing import FlaskClient

from bench.portal import demo_portal, signed_in
from edc.extensions import db
from edc.services.definitions import study_model

BUDGET = 60 * 1024


def _gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6))


def weigh(client: FlaskClient, path: str, title: str) -> None:
    """Print the gzip weight of a page plus every CSS and JS file it loads."""
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    html = page.get_data()
    rows = [(f"{title} HTML", len(html), _gz(html))]
    for asset in re.findall(rb'(?:href|src)="(/static/[^"]+)"', html):
        response = client.get(asset.decode())
        body = response.get_data()
        response.close()
        rows.append((asset.decode(), len(body), _gz(body)))
    total = sum(r[2] for r in rows)
    print(f"{'resource':52s} {'raw bytes':>10s} {'gzip bytes':>11s}")
    for name, raw, gz in rows:
        print(f"{name:52s} {raw:10d} {gz:11d}")
    print(f"{'total':52s} {sum(r[1] for r in rows):10d} {total:11d}")
    print(
        f"budget {BUDGET} bytes: the page uses {total / BUDGET:.2f} of it ({total / 1024:.1f} KB)"
    )
    print()


def main() -> None:
    portal = demo_portal()
    anonymous = portal.app.test_client()
    anonymous.environ_base["wsgi.url_scheme"] = "https"
    weigh(anonymous, "/login", "login page")
    with portal.app.app_context():
        study = study_model(db.session, portal.subject.study_id)
        assert study is not None
        biggest = max(study.forms.values(), key=lambda form: len(form.fields))
        event = next(e for e in study.events if biggest.id in e.forms)
    client = signed_in(portal)
    weigh(
        client,
        f"/subjects/{portal.subject.study_code}/crf/{event.id}/1/{biggest.id}",
        f"CRF page `{biggest.id}` ({len(biggest.fields)} fields)",
    )


if __name__ == "__main__":
    main()
