"""Encryption of secrets at rest (TOTP seeds, later the identity vault); key kept outside the DB."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

_fernet: Fernet | None = None


class DecryptionError(RuntimeError):
    """A stored secret cannot be read with the configured key (wrong or rotated key)."""


def configure(vault_key: str) -> None:
    """Derive the Fernet key from the vault secret kept in instance/ or the environment."""
    global _fernet
    digest = hashlib.sha256(vault_key.encode()).digest()
    _fernet = Fernet(base64.urlsafe_b64encode(digest))


def _cipher() -> Fernet:
    if _fernet is None:
        raise RuntimeError("crypto.configure() was not called")
    return _fernet


def encrypt(plaintext: str) -> bytes:
    return _cipher().encrypt(plaintext.encode())


def decrypt(token: bytes) -> str:
    try:
        return _cipher().decrypt(token).decode()
    except InvalidToken as exc:
        raise DecryptionError("stored secret does not decrypt with the vault key") from exc
