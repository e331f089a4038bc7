"""Compressed weight of the login page with the CSS and JS it loads, against the 60 KB budget.

Run: .venv/bin/python -m bench.page_weight
"""

from __future__ import annotations

import gzip
import re
import tempfile
from pathlib import Path

from app import create_app
from edc.settings import Settings

BUDGET = 60 * 1024


def _gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6))


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    settings = Settings.from_env(
        database_url=f"sqlite:///{tmp / 'bench.sqlite3'}", instance_path=tmp, testing=True
    )
    app = create_app(settings)
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    page = client.get("/login")
    html = page.get_data()
    assets = re.findall(rb'(?:href|src)="(/static/[^"]+)"', html)
    rows = [("login page HTML", len(html), _gz(html))]
    for path in assets:
        response = client.get(path.decode())
        body = response.get_data()
        response.close()
        rows.append((path.decode(), len(body), _gz(body)))
    total = sum(r[2] for r in rows)
    print(f"{'resource':45s} {'raw bytes':>10s} {'gzip bytes':>11s}")
    for name, raw, gz in rows:
        print(f"{name:45s} {raw:10d} {gz:11d}")
    print(f"{'total':45s} {sum(r[1] for r in rows):10d} {total:11d}")
    print(
        f"budget {BUDGET} bytes: the page uses {total / BUDGET:.2f} of it ({total / 1024:.1f} KB)"
    )


if __name__ == "__main__":
    main()
