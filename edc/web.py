"""Request plumbing: page-or-fragment render(), the actor, the one commit point, headers, errors."""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    has_app_context,
    make_response,
    render_template,
    request,
)
from flask_babel import get_locale
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, ValidationError

from edc import access, audit, audit_anchor
from edc.actor import Actor, current_actor
from edc.context import Context
from edc.errors import DomainError
from edc.extensions import db, htmx
from edc.forms import EmptyForm, LanguageForm
from edc.i18n import _, _l, language_names

log = logging.getLogger(__name__)

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def render(template: str, block: str | None = None, status: int = 200, **context: Any) -> Response:
    """The page, or for an htmx request one named `{% block %}` of the same template."""
    if block and htmx and not htmx.history_restore_request:
        tmpl = current_app.jinja_env.get_template(template)
        current_app.update_template_context(context)
        ctx = tmpl.new_context(context)
        body = "".join(tmpl.blocks[block](ctx))
    else:
        body = render_template(template, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def _finish(response: Response) -> Response:
    """The single commit point: commit below 400, otherwise roll back and keep durable events."""
    session = db.session()
    if response.status_code < 400:
        session.commit()
        audit.forget_durable(session)
        audit_anchor.after_commit(session, current_app)
    else:
        session.rollback()
        if audit.replay_durable(session):
            session.commit()
    return response


def _headers(response: Response) -> Response:
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h["X-Content-Type-Options"] = "nosniff"
    h["X-Frame-Options"] = "DENY"
    h["Referrer-Policy"] = "same-origin"
    h["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if request.endpoint != "static":
        # Shared tablets: nothing a signed-in page showed may come back from the cache.
        h["Cache-Control"] = "no-store"
    return response


ERRORS = {
    400: (
        _l("Bad request"),
        _l("The request could not be understood. Reload the page and try again."),
    ),
    403: (_l("Not allowed"), _l("You are not allowed to do this.")),
    404: (_l("Not found"), _l("This page does not exist, or you do not have access to it.")),
    405: (_l("Not available"), _l("This action is not available here.")),
    413: (_l("Too large"), _l("What you sent is too large.")),
    422: (_l("Please check your input"), _l("Some of what you entered needs correcting.")),
    429: (_l("Too many attempts"), _l("Too many attempts. Please wait and try again.")),
    500: (
        _l("Server error"),
        _l("Something went wrong on our side. Nothing you entered was saved by this request."),
    ),
}


def error_page(status: int, message: str | None = None) -> Response:
    """A friendly error page (or fragment) that reveals nothing about the cause."""
    title, text = ERRORS.get(status, ERRORS[500])
    return render(
        "error.html", block="content", status=status, title=title, message=message or text
    )


def _http_error(exc: HTTPException) -> Response:
    return error_page(exc.code or 500)


def _csrf_error(exc: CSRFError) -> Response:
    """A form without a valid token: maybe a forged cross-site request, so it leaves a durable,
    throttled `security.csrf_failed` trace (see access.trace_denial); the user gets a 400."""
    access.trace_denial(
        db.session(),
        current_actor(),
        "endpoint",
        request.endpoint or "-",
        {"path": request.path[:200], "method": request.method, "why": str(exc.description)[:200]},
        action="security.csrf_failed",
    )
    return error_page(400, _("Your form expired or was sent from elsewhere. Reload and retry."))


def _domain_error(exc: DomainError) -> Response:
    """The one place a service's refusal becomes a status: 404 for a thing the actor may not
    know of, 409 for a conflict, 422 for content that cannot be accepted."""
    db.session.rollback()
    return error_page(exc.status, exc.message or None)


def request_context() -> Context:
    """The context of this request, for the services a view calls."""
    return app_context(current_actor(), language=str(get_locale()))


def app_context(actor: Actor, language: str = "en") -> Context:
    """A context for `actor` (a request's, or the operator's at the command line): the app's
    database session, and its settings when an app is running (none: nothing is mailed)."""
    return Context(
        session=db.session(),
        actor=actor,
        language=language,
        settings=current_app.config["EDC_SETTINGS"] if has_app_context() else None,
    )


def _server_error(exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    db.session.rollback()
    return error_page(500)


#: Far beyond any list of the portal, and an offset every database can still compute.
MAX_PAGE = 100_000


def page_arg() -> int:
    """The `?page=` of a paginated list: 1 for anything missing or odd, at most MAX_PAGE."""
    return min(MAX_PAGE, max(1, request.args.get("page", 1, type=int) or 1))


def page_count(total: int, size: int) -> int:
    return max(1, -(-total // size))


#: The largest id or number a column of ours holds (PostgreSQL `integer`).
DB_INT_MAX = 2**31 - 1


class DatabaseInt(IntegerConverter):
    """`<int:...>` of every route: a number no row can have is no page (404), instead of an
    overflow in the database driver."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", DB_INT_MAX)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> Any:
        if len(value) > len(str(DB_INT_MAX)):
            raise ValidationError()  # before int() spends time on a megabyte of digits
        return super().to_python(value)


def _control(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


#: Headers the portal reads (the user agent is cleaned where it is stored instead).
READ_HEADERS = ("HX-Request", "HX-Current-URL", "Referer", "X-CSRFToken", "X-CRF-Changed")


def _refuse_nul() -> None:
    """NUL characters have no place in any field, and PostgreSQL cannot store them; control
    characters have no place in a page's address or in the headers we read."""
    if _control(request.path) or any(
        _control(request.headers.get(name, "")) for name in READ_HEADERS
    ):
        abort(400)
    for source in (request.args, request.form):
        for key, value in source.items(multi=True):
            if "\x00" in key or "\x00" in value:
                abort(400)


def init_app(app: Flask) -> None:
    """Before any blueprint: the routes' `<int:...>` are compiled with the bounded converter."""
    app.url_map.converters["int"] = DatabaseInt
    app.before_request(_refuse_nul)
    app.after_request(_headers)
    app.after_request(_finish)  # registered last, so it runs first: commit before headers
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(Exception, _server_error)
    app.context_processor(template_globals)


def template_globals() -> dict[str, Any]:
    """What every template may use: the language switcher and the reader's permissions."""
    settings = current_app.config["EDC_SETTINGS"]
    form = LanguageForm(formdata=None, lang=str(get_locale()), next=request.full_path)
    form.lang.choices = language_names(settings.languages)
    can: frozenset[access.Permission] = frozenset()
    if current_user and current_user.is_authenticated:
        try:
            grants = access.grants(db.session(), current_user)
        except Exception:  # an error page must still render; show no permission at all
            log.exception("could not load permissions for the page frame")
            grants = []
        can = access.permissions(grants)
    return {
        "language_form": form,
        "logout_form": EmptyForm(formdata=None),
        "can": can,
        "lang": str(get_locale()),
        "Permission": access.Permission,
        "role_labels": access.ROLE_LABELS,
    }
