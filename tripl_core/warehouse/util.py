"""Helpers shared by adapters."""

from __future__ import annotations

from tripl_core.warehouse.base import ConnectionConfig, is_secret_key


def scrub_message(exc: BaseException | str, config: ConnectionConfig, limit: int = 2000) -> str:
    """The driver's message with every secret of `config` replaced, trimmed for storage and responses."""
    text = str(exc).strip() or type(exc).__name__
    secrets = [config.password] + [str(v) for k, v in (config.extra_params or {}).items()
                                   if is_secret_key(k) and v]
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
    return text[:limit]
