"""GET /health for load balancers: "ok" while the database answers, and nothing else.

No template, no session, no audit event, no version: the answer says only whether this process
can serve. It answers whatever Host it is asked by (see hosts.any_host): a load balancer probes
by address, and the answer builds no link from the Host header.
"""

from __future__ import annotations

from flask import Blueprint, Response

from edc.access import public
from edc.extensions import db
from edc.hosts import any_host
from edc.services import health as health_check

bp = Blueprint("health", __name__)


@bp.route("/health", methods=["GET"])
@public
@any_host
def health() -> Response:
    assert db.engine is not None
    ok = health_check.database_answers(db.engine)
    return Response(
        "ok\n" if ok else "unavailable\n",
        status=200 if ok else 503,
        mimetype="text/plain",
        headers={"Cache-Control": "no-store"},
    )
