"""GET /health for load balancers: "ok" while the database answers, and nothing else.

No template, no session, no audit event, no version: the answer says only whether this process
can serve. It answers whatever Host it is asked by (see hosts.any_host): a load balancer probes
by address, and the answer builds no link from the Host header.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response

from edc.access import public
from edc.extensions import db
from edc.hosts import any_host

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


def database_answers() -> bool:
    """One trivial query on a pooled connection, outside the ORM: no transaction event (SQLite's
    BEGIN IMMEDIATE would take the write lock) and nothing for the request's commit point."""
    assert db.engine is not None
    try:
        conn = db.engine.raw_connection()
        try:
            cursor = conn.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchall()
            cursor.close()
        finally:
            conn.close()  # back to the pool, rolled back
    except Exception as exc:  # any failure means: do not send users here
        log.warning("health check: the database does not answer (%s)", type(exc).__name__)
        return False
    return True


@bp.route("/health", methods=["GET"])
@public
@any_host
def health() -> Response:
    ok = database_answers()
    return Response(
        "ok\n" if ok else "unavailable\n",
        status=200 if ok else 503,
        mimetype="text/plain",
        headers={"Cache-Control": "no-store"},
    )
