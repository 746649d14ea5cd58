"""Encryption with Fernet keys from ENCRYPTION_KEYS, newest first (MultiFernet).

The newest key encrypts; every key listed decrypts, so a key can be rotated in by putting it
first and retired once nothing encrypted with it is left.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

__all__ = ["InvalidToken", "MultiFernet", "generate_key", "keyring"]


def keyring(keys: Sequence[str]) -> MultiFernet:
    """A MultiFernet over the configured keys: encrypts with the first, decrypts with any."""
    if not keys:
        raise ValueError("at least one Fernet key is needed")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def generate_key() -> str:
    """A new random Fernet key, as ENCRYPTION_KEYS expects it."""
    return Fernet.generate_key().decode()
