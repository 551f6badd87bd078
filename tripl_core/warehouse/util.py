"""Helpers shared by adapters."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from tripl_core import outbound, redaction
from tripl_core.warehouse.base import ConnectionConfig, DBType, WarehouseUnavailable, is_secret_key


def _secret_values(value: Any) -> list[str]:
    """A secret extra and, for a service-account document, the secrets inside it (a driver may quote one)."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = json.loads(value)
        except ValueError:
            return [value]
    if isinstance(value, dict):
        return [str(v) for k, v in value.items() if v and (is_secret_key(k) or k == "private_key_id")]
    return [str(value)]


def connection_secrets(config: ConnectionConfig) -> list[str]:
    out = [config.password, *redaction.basic_auth(config.username, config.password)]
    for key, value in (config.extra_params or {}).items():
        if value and is_secret_key(key):
            out += _secret_values(value)
    return out


def scrub_message(exc: BaseException | str, config: ConnectionConfig, limit: int = 2000) -> str:
    """The driver's message through the redaction step (`tripl_core.redaction`: every secret of `config`, in
    any echoed form), trimmed for storage and responses."""
    text = str(exc).strip() or type(exc).__name__
    clean = redaction.redact(text, connection_secrets(config)) or ""
    return clean if len(clean) <= limit else clean[:limit] + "…"


def network_hosts(config: ConnectionConfig) -> list[tuple[str, int | None]]:
    """The (host, port) pairs a connection reaches over the network: not the embedded chdb engine nor a
    PostgreSQL Unix-socket directory; all of a libpq multi-host list; BigQuery's `api_endpoint` override."""
    if config.is_chdb:
        return []
    if config.db_type == DBType.bigquery:
        endpoint = (config.extra_params or {}).get("api_endpoint")
        parts = urlsplit(endpoint) if isinstance(endpoint, str) else None
        port = (parts.port or outbound.DEFAULT_PORTS.get(parts.scheme)) if parts else None
        return [(parts.hostname, port)] if parts and parts.hostname else []
    hosts = [h.strip() for h in config.host.split(",")] if config.db_type == DBType.postgres else [config.host]
    return [(h, config.port) for h in hosts if h and not h.startswith("/")]


def check_outbound(config: ConnectionConfig) -> dict[str, str]:
    """Before every connection: the outbound policy (`tripl_core.outbound`) must allow the warehouse's host.
    Returns the checked address of each host, for drivers that can connect to it directly (libpq `hostaddr`)."""
    checked: dict[str, str] = {}
    for host, port in network_hosts(config):
        try:
            checked[host] = str(outbound.check_host(host, port)[0])
        except outbound.OutboundRefused as exc:
            raise WarehouseUnavailable(f"{exc} (warehouse host {host})") from None
        except (OSError, UnicodeError):
            continue  # does not resolve: the driver reports it in its own words
    return checked
