"""Application logs in UTC, whatever the server's zone, so they line up with the audit trail."""

from __future__ import annotations

import logging
import time

from flask import Flask
from flask.logging import default_handler

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class UTCFormatter(logging.Formatter):
    """Timestamps as ISO 8601 UTC with a Z ("2026-12-03T15:04:05Z"), like the audit trail's."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return time.strftime(datefmt or "%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))


def configure(app: Flask) -> None:
    """Log through the root logger, stamped in UTC: called first thing by create_app.

    When nobody configured logging (a plain `flask run` or a WSGI server), one stderr handler is
    added and the portal's own loggers say INFO (libraries stay at WARNING); handlers configured
    elsewhere with a plain format keep it, stamped in UTC.
    """
    app.logger.removeHandler(default_handler)  # the root handler prints the app's lines once
    root = logging.getLogger()
    if not root.handlers:
        stderr = logging.StreamHandler()
        stderr.setFormatter(UTCFormatter(FORMAT))
        root.addHandler(stderr)
        for name in ("edc", "econsent", app.logger.name):
            if logging.getLogger(name).level == logging.NOTSET:
                logging.getLogger(name).setLevel(logging.INFO)
    for handler in root.handlers:
        current = handler.formatter
        if current is None or type(current) is logging.Formatter:
            handler.setFormatter(UTCFormatter(current._fmt if current is not None else FORMAT))
