"""TOTP (RFC 6238) with a replay guard: each time step is accepted at most once per user."""

from __future__ import annotations

import base64
import enum
import hmac
import io
from datetime import datetime

import pyotp
import segno

ISSUER = "SIOPEN EDC"
DRIFT_STEPS = (0, -1, 1)


class TotpOutcome(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    REPLAY = "replay"


def new_secret() -> str:
    """A fresh base32 seed from the OS CSPRNG."""
    return pyotp.random_base32()


def check(secret: str, code: str, now: datetime, last_step: int) -> tuple[TotpOutcome, int]:
    """Match `code` within ±1 step of `now`; a step at or below `last_step` is a replay."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return TotpOutcome.WRONG, last_step
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for offset in DRIFT_STEPS:
        step = current + offset
        if hmac.compare_digest(totp.generate_otp(step), code):
            if step <= last_step:
                return TotpOutcome.REPLAY, last_step
            return TotpOutcome.OK, step
    return TotpOutcome.WRONG, last_step


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg_data_uri(uri: str) -> str:
    """The enrolment QR code as an SVG data URI (an <img>, so the CSP needs no inline markup)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=5, border=2, xmldecl=False)

    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def current_code(secret: str, now: datetime) -> str:
    """What an authenticator app shows right now (demo helper and tests)."""
    return pyotp.TOTP(secret).at(now)
