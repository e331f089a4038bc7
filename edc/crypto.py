"""Authenticated encryption of data at rest (TOTP seeds, the identity vault).

Keys live outside the database (instance/ or the environment). Fernet is AES-128-CBC with an
HMAC-SHA256 over the whole token, so a changed ciphertext is refused, never decrypted to garbage.
Key rotation: put the new secret in EDC_VAULT_KEY, the previous ones in EDC_VAULT_OLD_KEYS
(comma-separated), then run `flask vault rotate`, which re-encrypts every stored value with the
new key; afterwards the old keys can be dropped.

Blind indexes let the vault be searched for an exact value (duplicate registrations) without
decrypting it: an HMAC-SHA256 of the normalised value under a key derived from the vault secret,
never a plain hash (a plain hash of a name and birth date is guessed in seconds). Old keys still
match during a rotation; `flask vault rotate` recomputes the stored indexes with the new key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_cipher_: MultiFernet | None = None
_index_keys: tuple[bytes, ...] = ()  # the current key first, then the old ones


class DecryptionError(RuntimeError):
    """A stored value cannot be read with the configured keys (wrong or retired key)."""


def _fernet(secret: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


def configure(vault_key: str, old_keys: Sequence[str] = ()) -> None:
    """The current key encrypts; the current and old keys decrypt (during a rotation)."""
    global _cipher_, _index_keys
    _cipher_ = MultiFernet([_fernet(vault_key), *(_fernet(k) for k in old_keys if k)])
    _index_keys = tuple(_index_key(k) for k in (vault_key, *old_keys) if k)


def _index_key(secret: str) -> bytes:
    """A key of its own for blind indexes: knowing an index key never helps to decrypt."""
    info = b"edc identity vault blind index v1"
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret.encode())


def _cipher() -> MultiFernet:
    if _cipher_ is None:
        raise RuntimeError("crypto.configure() was not called")
    return _cipher_


def encrypt(plaintext: str) -> bytes:
    return encrypt_bytes(plaintext.encode())


def decrypt(token: bytes) -> str:
    return decrypt_bytes(token).decode()


def encrypt_bytes(data: bytes) -> bytes:
    """Binary values (a stored document) under the same keys and rotation as the vault."""
    return _cipher().encrypt(data)


def decrypt_bytes(token: bytes) -> bytes:
    try:
        return _cipher().decrypt(token)
    except InvalidToken as exc:
        raise DecryptionError("stored value does not decrypt with the vault keys") from exc


def rotate(token: bytes) -> bytes:
    """The same value encrypted with the current key."""
    try:
        return _cipher().rotate(token)
    except InvalidToken as exc:
        raise DecryptionError("stored value does not decrypt with the vault keys") from exc


def _keyed_index(key: bytes, kind: str, value: str) -> str:
    return hmac.new(key, f"{kind}\x1f{value}".encode(), hashlib.sha256).hexdigest()


def blind_index(kind: str, value: str) -> str:
    """The token stored for `value` (already normalised) of a `kind` (e.g. "hospital_number")."""
    if not _index_keys:
        raise RuntimeError("crypto.configure() was not called")
    return _keyed_index(_index_keys[0], kind, value)


def blind_indexes(kind: str, value: str) -> list[str]:
    """Every token `value` may be stored under: with the current key and each old one."""
    if not _index_keys:
        raise RuntimeError("crypto.configure() was not called")
    return [_keyed_index(key, kind, value) for key in _index_keys]
