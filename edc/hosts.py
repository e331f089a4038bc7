"""Where a request came from: the Host it was sent to, and the client behind reverse proxies.

The Host check is ours rather than Flask's TRUSTED_HOSTS: Flask refuses a bad Host before it
can build any URL, so the error page itself fails (a 500). Here the request is routed as usual
and refused first thing, with the portal's own 400 page, whose links are relative anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, abort, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.sansio.utils import host_is_trusted

from edc.settings import Settings

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def any_host(view: F) -> F:
    """Exempt a view from the Host check: only for answers built from nothing the Host header
    names (GET /health, which load balancers probe by IP address)."""
    setattr(view, "_edc_any_host", True)  # noqa: B010 - a mark read back with getattr
    return view


def _refuse_untrusted_host() -> None:
    """before_request, first of all: a Host the portal is not reached by is a 400, so no page,
    link or e-mail is ever built from a name an attacker chose."""
    trusted = current_app.config["EDC_SETTINGS"].trusted_hosts
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "_edc_any_host", False):
        return
    if trusted and not host_is_trusted(request.host.lower(), trusted):  # names ignore case
        log.info("request for untrusted host %r refused", request.host[:100])
        abort(400)


def init_app(app: Flask, settings: Settings) -> None:
    """Call before any other before_request is registered (the CSRF check included).

    Behind N = `trusted_proxies` reverse proxies, ProxyFix takes the client address (lockouts,
    the audit trail) and the scheme (secure cookies, the CSRF referrer check) from the N-th last
    X-Forwarded-For / X-Forwarded-Proto entry: the one the outermost proxy wrote, naming whoever
    connected to it. Entries further left come from the client itself and are ignored; with
    N = 0 the headers are ignored altogether. X-Forwarded-Host is not believed: a proxy that
    passes the Host header through keeps the Host check meaningful, while many proxies pass a
    client's own X-Forwarded-Host along unchanged.
    """
    proxied = behind_proxies(app.wsgi_app, settings.trusted_proxies)
    # Flask documents wrapping `wsgi_app` in middleware, but types it as the bound method.
    app.wsgi_app = proxied  # type: ignore[assignment]
    app.before_request(_refuse_untrusted_host)


def behind_proxies(wsgi_app: WSGIApplication, proxies: int) -> WSGIApplication:
    """`wsgi_app` believing the last `proxies` entries of X-Forwarded-For/-Proto (0: none)."""
    if not proxies:
        return wsgi_app
    return ProxyFix(wsgi_app, x_for=proxies, x_proto=proxies, x_host=0)
