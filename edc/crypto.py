"""Authenticated encryption of data at rest (TOTP seeds, the identity vault).

Keys live outside the database (instance/ or the environment). Fernet is AES-128-CBC with an
HMAC-SHA256 over the whole token, so a changed ciphertext is refused, never decrypted to garbage.
Key rotation: put the new secret in EDC_VAULT_KEY, the previous ones in EDC_VAULT_OLD_KEYS
(comma-separated), then run `flask vault rotate`, which re-encrypts every stored value with the
new key; afterwards the old keys can be dropped.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

_cipher_: MultiFernet | None = None


class DecryptionError(RuntimeError):
    """A stored value cannot be read with the configured keys (wrong or retired key)."""


def _fernet(secret: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


def configure(vault_key: str, old_keys: Sequence[str] = ()) -> None:
    """The current key encrypts; the current and old keys decrypt (during a rotation)."""
    global _cipher_
    _cipher_ = MultiFernet([_fernet(vault_key), *(_fernet(k) for k in old_keys if k)])


def _cipher() -> MultiFernet:
    if _cipher_ is None:
        raise RuntimeError("crypto.configure() was not called")
    return _cipher_


def encrypt(plaintext: str) -> bytes:
    return _cipher().encrypt(plaintext.encode())


def decrypt(token: bytes) -> str:
    try:
        return _cipher().decrypt(token).decode()
    except InvalidToken as exc:
        raise DecryptionError("stored value does not decrypt with the vault keys") from exc


def rotate(token: bytes) -> bytes:
    """The same value encrypted with the current key."""
    try:
        return _cipher().rotate(token)
    except InvalidToken as exc:
        raise DecryptionError("stored value does not decrypt with the vault keys") from exc
