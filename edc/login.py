"""Flask-Login wiring: the server-side session behind the cookie, and the half-signed-in state."""

from __future__ import annotations

import secrets
from datetime import datetime
from urllib.parse import urlsplit

from flask import (
    Response,
    after_this_request,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    request,
    session,
    url_for,
)
from flask_login import LoginManager
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from edc import crypto
from edc.extensions import db
from edc.i18n import _, ngettext
from edc.models.base import utcnow
from edc.models.users import User
from edc.services import auth
from edc.settings import Settings
from edc.web import request_context


def settings() -> Settings:
    return current_app.config["EDC_SETTINGS"]


def _load_from_request(_request: object) -> User | None:
    token = session.get("sid")
    if not token:
        return None
    resumed = auth.resume_session(db.session(), settings(), token, utcnow())
    if resumed.user is None:
        session.pop("sid", None)
        g.session_ended = resumed.ended
        return None
    g.user_session_id = resumed.session_id
    g.unread_notices = resumed.unread_notices
    return resumed.user


def _unauthorized() -> BaseResponse:
    ended = g.get("session_ended", "")
    if ended == "idle":
        flash(_("Your session ended after 30 minutes without activity. Please sign in again."))
    elif ended == "expired":
        flash(_("Your session reached its 12-hour limit. Please sign in again."))
    elif ended:
        flash(_("Your session has ended. Please sign in again."))
    target = url_for("auth.login_page", next=_return_to())
    if request.headers.get("HX-Request"):
        response = jsonify(error="sign-in required")
        response.status_code = 401
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def _return_to() -> str | None:
    """The page to come back to after signing in again: this page, or for a form post or an
    htmx call, the page it came from (where the browser keeps what was typed)."""
    if request.method == "GET" and not request.headers.get("HX-Request"):
        return request.full_path
    came_from = request.headers.get("HX-Current-URL") or request.referrer or ""
    try:
        parts = urlsplit(came_from)
    except ValueError:  # e.g. "http://[bad": a header we cannot read names no page of ours
        return None
    if parts.netloc != request.host or not parts.path.startswith("/"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def init_app(app: object, manager: LoginManager) -> None:
    manager.request_loader(_load_from_request)
    manager.unauthorized_handler(_unauthorized)


#: Longer than any page of the portal: a longer `next` is no page of ours.
MAX_NEXT = 2000


def safe_next(target: str | None) -> str:
    """Only a known page of the portal is followed after sign-in, else the start page.

    Browsers drop tabs and line breaks from a URL (`/`, a tab, `/evil.example/` becomes
    `//evil.example/`), so a target with any control character, space or backslash is refused
    outright, and what is left must be a path (no scheme, no host) that one of our routes answers.
    """
    home = url_for("home.index")
    if not target or len(target) > MAX_NEXT:
        return home
    if any(ord(c) <= 0x20 or c in "\\\x7f" for c in target):
        return home
    try:
        parts = urlsplit(target)
    except ValueError:  # "//[bad" and the like
        return home
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or target.startswith("//"):
        return home
    try:
        current_app.url_map.bind("localhost").match(parts.path, method="GET")
    except HTTPException:  # no such page (or a redirect to one elsewhere)
        return home
    return target


# The half-signed-in state lives in the signed cookie for a few minutes, never a session row.


def set_pending(user: User, factor_passed: bool, now: datetime, via_link: bool = False) -> None:
    session["pending"] = {
        "uid": user.id,
        "since": now.timestamp(),
        "factor": factor_passed,
        "link": via_link,
    }


def pending_via_link() -> bool:
    """The half-signed-in person came from their single-use link (the only way to enrol)."""
    pending = session.get("pending")
    return isinstance(pending, dict) and bool(pending.get("link"))


def pending_user() -> tuple[User, bool] | None:
    pending = session.get("pending")
    if not isinstance(pending, dict):
        return None
    age = utcnow().timestamp() - float(pending.get("since", 0))
    if age > settings().pending_login_timeout.total_seconds():
        session.pop("pending", None)
        return None
    user = db.session.get(User, pending.get("uid"))
    if user is None:
        return None
    return user, bool(pending.get("factor"))


def remember_enrol_secret(secret: str) -> None:
    session["enrol"] = crypto.encrypt(secret).decode()


def enrol_secret() -> str | None:
    value = session.get("enrol")
    return crypto.decrypt(value.encode()) if isinstance(value, str) else None


def complete(user: User) -> None:
    """Start the server-side session with a fresh cookie (new id at every sign-in)."""
    notices = auth.notices_since(request_context(), user, user.last_login_at)
    device = _device()
    token, session_id = auth.start_session(request_context(), user, utcnow(), device)
    lang = session.get("lang") or user.locale
    session.clear()
    session["sid"] = token
    if lang:
        session["lang"] = lang
    g._login_user = user  # Flask-Login's per-request user: the page answering this is signed in
    g.user_session_id = session_id
    _tell(notices)


def _device_cookie() -> str:
    return "__Host-edc-device" if settings().cookie_secure else "edc-device"


def _device() -> str:
    """This browser's long-lived random id (set on first sign-in), so a sign-in from a browser
    new to the account can be told to its owner. It proves nothing and grants nothing."""
    device = request.cookies.get(_device_cookie(), "")
    if len(device) != 43:  # token_urlsafe(32); anything else is replaced
        device = secrets.token_urlsafe(32)

        @after_this_request
        def _remember(response: Response) -> Response:
            response.set_cookie(
                _device_cookie(),
                device,
                max_age=400 * 24 * 3600,
                secure=settings().cookie_secure,
                httponly=True,
                samesite="Lax",
                path="/",
            )
            return response

    return device


def _tell(notices: auth.Notices) -> None:
    """Tell the owner about attempts on their account; they may spot what nobody else can."""
    if notices.failures or notices.replays:
        flash(
            ngettext(
                "There was %(num)d failed sign-in attempt on your account since your last "
                "sign-in. If it was not you, tell your study administrator.",
                "There were %(num)d failed sign-in attempts on your account since your last "
                "sign-in. If it was not you, tell your study administrator.",
                notices.failures + notices.replays,
            ),
            "error",
        )
    if notices.factor_reset:
        flash(_("Your password or two-step sign-in was reset by an administrator."), "error")


def end_current() -> None:
    sid = g.get("user_session_id")
    if sid is not None:
        auth.end_session(request_context(), sid, "logout", utcnow())
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
