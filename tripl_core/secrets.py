"""Secrets at rest (warehouse passwords, channel tokens): encrypted with a key derived from the secret key.

Responses never carry them back; they say `*_set: true` instead.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from tripl_core.settings import get_settings


def _fernet() -> Fernet:
    raw = hashlib.sha256(("tripl-secrets:" + get_settings().resolved_secret_key()).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(raw))


def encrypt(plaintext: str | None) -> str | None:
    if plaintext is None or plaintext == "":
        return None
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str | None) -> str | None:
    if not ciphertext:
        return None
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise RuntimeError("stored secret cannot be decrypted: was TRIPL_SECRET_KEY changed?") from exc


def mask(value: object) -> bool:
    """What a response shows for a secret: only whether one is set."""
    return bool(value)
