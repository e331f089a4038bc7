"""A row number no row can have (10^20) against a live redraw of the same form, in one run.

A forged request once named row 99999999999999999999 of the metastases section and the worker
grew until it was killed. It must now be refused before anything is converted, evaluated or read:
this prints its time (target: within 50 ms), the time of an ordinary live redraw for scale, and
the process's peak memory before and after a hundred such requests (it must not grow).

Run: .venv/bin/python -m bench.hostile_rows [--url DATABASE_URL] [--requests 100]
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import time

from bench.portal import demo_portal, signed_in

HOSTILE = "metastases-99999999999999999999-metastasis_site"


def peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=None)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    portal = demo_portal(args.url)
    client = signed_in(portal)
    url = f"/subjects/{portal.subject.study_code}/crf/diagnosis/1/diagnosis"
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get(url).text)
    assert token, "no CSRF token on the CRF page"
    base = {"csrf_token": token.group(1), "row_version": "0", "inrg_stage": "M"}
    headers = {"HX-Request": "true", "X-CRF-Changed": "inrg_stage"}

    def post(data: dict[str, str], expected: int) -> float:
        start = time.perf_counter()
        response = client.post(f"{url}/evaluate", data=data, headers=headers)
        elapsed = (time.perf_counter() - start) * 1000
        assert response.status_code == expected, response.status_code
        return elapsed

    post(base, 200)  # warm up: caches, templates
    before = peak_kib()
    hostile, ordinary = [], []
    for _ in range(args.requests):
        hostile.append(post({**base, HOSTILE: "bone"}, 422))
        ordinary.append(post({**base, "metastases-0-metastasis_site": "bone"}, 200))
    after = peak_kib()
    h, o = statistics.median(hostile), statistics.median(ordinary)
    print(f"row 10^20 refused: median {h:.2f} ms, slowest {max(hostile):.2f} ms (target <= 50)")
    print(f"an ordinary live redraw of the same form: median {o:.2f} ms; ratio {h / o:.2f}")
    print(f"peak memory {before / 1024:.1f} MiB before, {after / 1024:.1f} MiB after "
          f"{args.requests} hostile and {args.requests} ordinary requests")  # fmt: skip


if __name__ == "__main__":
    main()
