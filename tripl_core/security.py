"""Password hashing (argon2) and opaque tokens (sessions, API keys) of which only a hash is stored."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# Verified against when the email is unknown, so that a login takes as long either way.
_DUMMY_HASH = _hasher.hash("tripl-dummy-password")


def configure_hasher(hasher: PasswordHasher) -> None:
    """Swap the argon2 parameters (tests use cheap ones: the defaults cost ~0.1-1 s per hash on a busy CI box).
    Existing hashes keep verifying: argon2 stores its parameters in each hash."""
    global _hasher, _DUMMY_HASH
    _hasher = hasher
    _DUMMY_HASH = hasher.hash("tripl-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    """Tokens are long and random, so a fast hash is enough (unlike passwords)."""
    return hashlib.sha256(token.encode()).hexdigest()


API_KEY_PREFIX = "tripl_"


def new_api_key() -> tuple[str, str]:
    """Return (token, key_prefix). The prefix is shown in listings to tell keys apart."""
    token = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return token, token[: len(API_KEY_PREFIX) + 8]
