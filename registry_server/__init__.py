"""A reference stand-in for the central neuroblastoma registry: a small FHIR R4 endpoint.

It receives the portal's pseudonymised transaction Bundles (docs/registry-payload.md), checks
them whole, stores them in its own SQLite file, answers reads, and reports likely duplicates
across sites from the linkage keys. It is a separate application: it shares no code with the
portal (`edc`, `econsent`, `forms_dsl`) and the portal imports nothing of it, so the contract
between the two is only what travels over HTTP. See docs/registry-server.md.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from registry_server import store
from registry_server.web import MAX_BODY, Config, blueprint, register_errors


def create_app(db_path: Path, token: str, duplicate_threshold: float = 0.8) -> Flask:
    """The registry app over the SQLite file `db_path` (created if missing), accepting requests
    that carry `Authorization: Bearer <token>`.

    An empty token is refused: a registry that accepts anybody must not start by mistake.
    """
    if not token:
        raise ValueError("the registry needs a bearer token")
    if not 0.0 < duplicate_threshold <= 1.0:
        raise ValueError("the duplicate threshold is a Dice coefficient in (0, 1]")
    store.initialise(db_path)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY + 1
    # A FHIR client follows no HTML redirects: `/Patient/` is `/Patient`, `//` is not merged.
    app.url_map.strict_slashes = False
    app.url_map.merge_slashes = False
    app.extensions["registry"] = Config(db_path, token, duplicate_threshold)
    app.register_blueprint(blueprint)
    register_errors(app)
    return app


__all__ = ["create_app"]
