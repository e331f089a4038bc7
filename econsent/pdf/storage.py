"""The stored copy is encrypted at rest with the identity vault's keys (edc.crypto): it names
the signers, so it is as sensitive as the vault, stays in the site zone and rotates with it."""

from __future__ import annotations

from edc import crypto


def encrypt_copy(pdf: bytes) -> bytes:
    """The sealed PDF as an authenticated ciphertext (Fernet, the vault's current key)."""
    return crypto.encrypt_bytes(pdf)


def decrypt_copy(token: bytes) -> bytes:
    """The sealed PDF back; a changed token or a retired key raises crypto.DecryptionError."""
    return crypto.decrypt_bytes(token)
