"""The kiosk: the tablet handed to the signers shows nothing but the consent.

The browser session holds the kiosk token while the tablet is handed over; every other page
sends it back here, and only staff (password and a new TOTP code) take it out of kiosk mode.
Reading position and passed comprehension answers stay in the browser session; signatures,
refusals, wrong answers and the language chosen are recorded by the services.

The signing pages (language, reading, questions, signature) are one flow for both modes: the
remote signer's pages (econsent/views/remote.py) register these same views under their own
blueprint, with its own way to find the session from the token (`Flow`), and every link here
is relative to the blueprint that serves the page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, redirect, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from econsent.forms import CredentialsForm, KioskLanguageForm, RefuseForm, SignForm
from econsent.models import ConsentSession, Role
from econsent.services import sessions, signing
from econsent.views.common import TEMPLATES, role_labels
from edc.access import Permission, requires
from edc.context import Context
from edc.errors import Denied, Invalid
from edc.i18n import LANGUAGE_NAMES, _
from edc.web import render, request_context

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk", template_folder=TEMPLATES)
STATE = "kiosk"
MAX_ANSWER = 64


@dataclass(frozen=True)
class Flow:
    """How one mode reaches its session: the browser-session key holding the token, the
    context its services act in and the session the token opens, and its closing page."""

    state_key: str
    open: Callable[[str], tuple[Context, ConsentSession]]
    done_template: str


def _kiosk_open(token: str) -> tuple[Context, ConsentSession]:
    ctx = request_context()
    return ctx, sessions.kiosk_session(ctx, token)


#: The flows by blueprint name (the remote pages add theirs).
FLOWS: dict[str, Flow] = {"kiosk": Flow(STATE, _kiosk_open, "econsent/kiosk/done.html")}


def _flow() -> Flow:
    return FLOWS[request.blueprint or "kiosk"]


def keep_in_kiosk() -> BaseResponse | None:
    """before_request: a browser in kiosk mode reaches only the kiosk (and static files)."""
    state = session.get(STATE)
    if not state or not current_user or not current_user.is_authenticated:
        return None
    endpoint = request.endpoint or ""
    if endpoint == "static" or endpoint.startswith("kiosk."):
        return None
    if not sessions.kiosk_live(request_context(), str(state.get("token", ""))):
        # Staff already took this session back (or handed it over again elsewhere): the
        # browser is no kiosk any more.
        session.pop(STATE, None)
        session.pop("kiosk_lang", None)
        return None
    return redirect(url_for("kiosk.home", token=state["token"]))


def _state(token: str) -> dict[str, Any]:
    state = session.get(_flow().state_key)
    if not isinstance(state, dict) or state.get("token") != token:
        raise Denied()  # a kiosk is bound to the browser it was handed over in
    return state


def _save(state: dict[str, Any]) -> None:
    session[_flow().state_key] = state
    session.modified = True


def _open(token: str) -> tuple[Context, ConsentSession, dict[str, Any]]:
    state = _state(token)
    ctx, cs = _flow().open(token)
    return ctx, cs, state


def _page(template: str, cs: ConsentSession, status: int = 200, **context: Any) -> BaseResponse:
    path = template if "/" in template else f"econsent/kiosk/{template}"
    return render(
        path, status=status, cs=cs, role_labels=role_labels(), token=_state_token(),
        remote=cs.mode == "remote", **context,
    )  # fmt: skip


def _state_token() -> str:
    state = session.get(_flow().state_key) or {}
    return str(state.get("token", ""))


@bp.route("/<token>")
@requires(Permission.CONSENT_RUN)
def home(token: str) -> BaseResponse:
    """Where the current signer stands: language, reading, questions or signature."""
    _ctx, cs, state = _open(token)
    role = sessions.next_signer(cs)
    if cs.status not in sessions.OPEN or role is None:
        return _page(_flow().done_template, cs, form=CredentialsForm(), role=None)
    if state.get("role") != role:
        return redirect(url_for(".language", token=token))
    return redirect(url_for(".read", token=token, number=1))


@bp.route("/<token>/language", methods=["GET", "POST"])
@requires(Permission.CONSENT_RUN)
def language(token: str) -> BaseResponse:
    """The next signer is welcomed and chooses the language of the text."""
    ctx, cs, _unused = _open(token)
    role = sessions.next_signer(cs)
    if role is None or cs.status not in sessions.OPEN:
        return redirect(url_for(".home", token=token))
    form = KioskLanguageForm()
    if form.validate_on_submit():
        sessions.choose_language(ctx, cs, form.language.data or "")
        session["kiosk_lang"] = cs.language
        _save({"token": token, "role": role, "passed": None})
        return redirect(url_for(".read", token=token, number=1))
    languages = [(code, LANGUAGE_NAMES.get(code, code)) for code in _languages(cs)]
    return _page(
        "language.html", cs, form=form, role=role, languages=languages,
        status=422 if form.is_submitted() else 200,
    )  # fmt: skip


def _languages(cs: ConsentSession) -> tuple[str, ...]:
    return sessions.library_of(cs).languages


def _signer(token: str) -> tuple[Context, ConsentSession, dict[str, Any], str]:
    """The session and the signer whose turn it is, once they chose their language."""
    ctx, cs, state = _open(token)
    role = sessions.next_signer(cs)
    if role is None or cs.status not in sessions.OPEN or state.get("role") != role:
        raise _Back()
    return ctx, cs, state, role


class _Back(Exception):
    """Not this page now: back to where the signer stands."""


@bp.errorhandler(_Back)
def back(_exc: _Back) -> BaseResponse:
    token = (request.view_args or {}).get("token", "")
    return redirect(url_for(".home", token=token))


@bp.route("/<token>/read/<int:number>")
@requires(Permission.CONSENT_RUN)
def read(token: str, number: int) -> BaseResponse:
    """One section at a time, with progress; back, next and pause."""
    _ctx, cs, _unused, role = _signer(token)
    text = sessions.text_for(cs, role)
    total = len(text.sections)
    if not 1 <= number <= total:
        return redirect(url_for(".read", token=token, number=1))
    return _page(
        "read.html", cs, role=role, text=text, section=text.sections[number - 1],
        number=number, total=total, last=number == total, has_questions=bool(text.questions),
    )  # fmt: skip


@bp.route("/<token>/pause")
@requires(Permission.CONSENT_RUN)
def pause(token: str) -> BaseResponse:
    _ctx, cs, _unused, role = _signer(token)
    number = min(max(request.args.get("at", 1, type=int) or 1, 1), 999)
    return _page("pause.html", cs, role=role, number=number)


@bp.route("/<token>/questions", methods=["GET", "POST"])
@requires(Permission.CONSENT_RUN)
def questions(token: str) -> BaseResponse:
    """The comprehension questions; a wrong answer sends the tablet back to staff."""
    ctx, cs, state, role = _signer(token)
    text = sessions.text_for(cs, role)
    form = RefuseForm()  # the token only: answers are read below, bounded
    if not text.questions or role == Role.WITNESS.value:  # a witness attests, is not tested
        state["passed"] = {"role": role, "answers": {}}
        _save(state)
        return redirect(url_for(".sign", token=token))
    if form.validate_on_submit():
        given = {q.id: request.form.get(f"q-{q.id}", "")[:MAX_ANSWER] for q in text.questions}
        if not all(given.values()):
            return _page("questions.html", cs, 422, role=role, text=text, form=form,
                         given=given, error=_("Answer every question."))  # fmt: skip
        if not signing.check_answers(ctx, cs, role, given):
            return redirect(url_for(".home", token=token))
        state["passed"] = {"role": role, "answers": given}
        _save(state)
        return redirect(url_for(".sign", token=token))
    return _page("questions.html", cs, role=role, text=text, form=form, given={}, error="")


def _passed(state: dict[str, Any], role: str) -> dict[str, str] | None:
    passed = state.get("passed")
    if isinstance(passed, dict) and passed.get("role") == role:
        return dict(passed.get("answers") or {})
    return None


@bp.route("/<token>/sign", methods=["GET", "POST"])
@requires(Permission.CONSENT_RUN)
def sign(token: str) -> BaseResponse:
    """The optional items, then the signature drawn with a finger and the typed name."""
    ctx, cs, state, role = _signer(token)
    answers = _passed(state, role)
    if answers is None:
        return redirect(url_for(".questions", token=token))
    text = sessions.text_for(cs, role)
    form, error = SignForm(), ""
    if form.validate_on_submit():
        posted = signing.Signing(
            printed_name=form.printed_name.data or "", strokes_json=form.strokes.data or "",
            png_data_url=form.image.data or "", relationship=form.relationship.data or "",
            options={o.id: request.form.get(f"option-{o.id}", "")[:8] for o in text.options},
        )  # fmt: skip
        try:
            signing.sign(ctx, cs, role, posted, answers)
        except Invalid as refused:
            error = refused.message
        else:
            return redirect(url_for(".home", token=token))
    chosen = {o.id: request.form.get(f"option-{o.id}", "") for o in text.options}
    return _page(
        "sign.html", cs, 422 if form.is_submitted() else 200, role=role, text=text, form=form,
        error=error, chosen=chosen, chooses=role in signing.CHOOSERS,
        refuse_form=RefuseForm(), meaning=signing.MEANINGS[role],
    )  # fmt: skip


@bp.route("/<token>/refuse", methods=["POST"])
@requires(Permission.CONSENT_RUN)
def refuse(token: str) -> BaseResponse:
    """The child says no: the consent stops, whatever the parents decided."""
    ctx, cs, state, role = _signer(token)
    if role != Role.CHILD.value or _passed(state, role) is None:
        raise Denied()
    if RefuseForm().validate_on_submit():
        signing.sign(ctx, cs, role, signing.Signing(refuse=True), {})
    return redirect(url_for(".home", token=token))


@bp.route("/<token>/exit", methods=["GET", "POST"])
@requires(Permission.CONSENT_RUN)
def leave(token: str) -> BaseResponse:
    """Staff take the tablet back with their password and a new code."""
    ctx, cs, _unused = _open(token)
    form = CredentialsForm()
    error = ""
    if not form.is_submitted():
        return _page("exit.html", cs, form=form, error="")
    if form.validate_on_submit():
        try:
            sessions.leave_kiosk(ctx, cs, form.password.data or "", form.code.data or "")
        except sessions.CredentialsRefused as refused:
            error = refused.message
        else:
            session.pop(STATE, None)
            session.pop("kiosk_lang", None)
            return redirect(url_for("consent.session_page", session_id=cs.id))
    return _page("exit.html", cs, 422, form=form, error=error or _("Enter your password and code."))
