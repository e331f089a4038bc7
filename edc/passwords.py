"""Password policy (length and common-password list, no composition rules) and Argon2id hashing."""

from __future__ import annotations

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from edc.i18n import _

MIN_LENGTH = 12
MAX_LENGTH = 128
_hasher = PasswordHasher()  # Argon2id with the library's RFC 9106 low-memory profile


def configure(*, fast: bool) -> None:
    """Tests use cheap parameters; production keeps the library's defaults."""
    global _hasher
    _hasher = (
        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1) if fast else PasswordHasher()
    )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def burn_time(password: str) -> None:
    """Spend the time of one verification, so unknown e-mail addresses are not told apart."""
    verify(_dummy_hash(), password)


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


@cache
def _common() -> frozenset[str]:
    lists = ("passwords", "english_wikipedia", "us_tv_and_film")
    return frozenset(word.lower() for name in lists for word in FREQUENCY_LISTS.get(name, []))


def problems(password: str, email: str = "", full_name: str = "") -> list[str]:
    """Why a new password is refused; empty when it is acceptable."""
    found: list[str] = []
    if len(password) < MIN_LENGTH:
        found.append(_("Use at least %(n)d characters.", n=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        found.append(_("Use at most %(n)d characters.", n=MAX_LENGTH))
    folded = password.lower()
    personal = {email.lower(), email.split("@")[0].lower(), full_name.lower()} - {""}
    if folded in _common() or folded.rstrip("0123456789!") in _common() or len(set(folded)) < 4:
        found.append(_("This password is too common or too easy to guess. Choose another."))
    elif any(p and p in folded for p in personal):
        found.append(_("Do not use your name or e-mail address in your password."))
    return found


def unusable_secret() -> str:
    """A password nobody is ever told: what an account holds until its owner uses their link."""
    return secrets.token_urlsafe(32)
