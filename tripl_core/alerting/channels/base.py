"""What every channel shares: the destination config, the send result and error classification.

A sender never raises for a remote failure: it returns a `SendResult` saying whether the failure is worth
retrying (429, 5xx, timeouts, connection errors) and how long the remote asked us to wait (Retry-After), so the
dispatcher owns the retry policy and the delivery row records what happened.
"""

from __future__ import annotations

import email.utils
import socket
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol
from urllib.parse import urlsplit

import httpx

from tripl_core import outbound, redaction
from tripl_core.alerting.message import RenderedMessage
from tripl_core.errors import Invalid
from tripl_core.settings import Settings, get_settings

EXCERPT_CHARS = 500
USER_AGENT = "tripl-alerts/0.1.0"


@dataclass(frozen=True)
class DestinationConfig:
    """A destination's fields as in the reference, secrets already decrypted (the caller decrypts)."""

    type: str
    name: str = ""
    webhook_url: str | None = None
    bot_token: str | None = None
    chat_id: str | None = None
    target_url: str | None = None
    webhook_header_name: str | None = None
    webhook_header_value: str | None = None
    webhook_signing_secret: str | None = None  # not in the reference yet: signs webhook bodies when set
    email_recipients: str | None = None
    email_from_address: str | None = None
    email_subject_template: str | None = None
    jira_base_url: str | None = None
    jira_auth_email: str | None = None
    jira_api_token: str | None = None
    jira_project_key: str | None = None
    jira_issue_type: str | None = None
    linear_api_key: str | None = None
    linear_team_id: str | None = None
    linear_state_id: str | None = None
    linear_label_ids: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | Any) -> DestinationConfig:
        """From a dict or any object with these attributes (e.g. a row whose secrets were decrypted)."""
        names = [f.name for f in fields(cls)]
        if isinstance(data, Mapping):
            return cls(**{n: data[n] for n in names if n in data})
        return cls(**{n: getattr(data, n) for n in names if hasattr(data, n)})


@dataclass(frozen=True)
class SendResult:
    """The outcome of one attempt. `retryable` and `retry_after_seconds` feed the dispatcher's backoff."""

    ok: bool
    status_code: int | None = None
    response_excerpt: str | None = None
    external_id: str | None = None  # Slack ts, Telegram message ids, Jira key, Linear identifier, …
    error: str | None = None
    retryable: bool = False
    retry_after_seconds: float | None = None
    parts: int = 1  # messages actually sent (Telegram splits long alerts)


class Sender(Protocol):
    """One channel: check a destination's fields, send a rendered message."""

    channel: ClassVar[str]

    def validate(self, config: DestinationConfig) -> None:
        """Raise `Invalid(field, reason)` when the destination cannot work (missing or malformed field)."""

    def send(self, config: DestinationConfig, message: RenderedMessage, settings: Settings) -> SendResult:
        """Send; report failures in the result instead of raising."""


def excerpt(text: str | bytes | None, limit: int = EXCERPT_CHARS) -> str | None:
    """The first `limit` characters, redacted before they are cut (inside `send_alert`'s redaction scope) so no
    truncated secret survives."""
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return redaction.clip(text, limit)


def destination_secrets(config: DestinationConfig, settings: Settings) -> list[str]:
    """Everything of a destination (and the channel settings it uses) that must never appear in an error,
    an excerpt or the log: tokens, keys, passwords, basic-auth, and the path and query of secret URLs."""
    out: list[str] = []
    out += redaction.url_parts(config.webhook_url)  # Slack incoming webhook: the path is the credential
    out += redaction.url_parts(config.target_url)
    out += redaction.url_parts(config.jira_base_url, whole=False)
    for base in (settings.slack_api_base_url, settings.telegram_api_base_url, settings.linear_api_url):
        out += redaction.url_parts(base, whole=False)
    for value in (config.bot_token, config.webhook_header_value, config.webhook_signing_secret,
                  config.jira_api_token, config.linear_api_key):
        if value:
            out.append(value)
            if value.lower().startswith("bearer "):
                out.append(value[7:])
    out += redaction.basic_auth(config.jira_auth_email, config.jira_api_token)
    if config.type == "email":
        out += redaction.basic_auth(settings.smtp_username, settings.smtp_password)
    return out


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def is_retryable_status(status: int) -> bool:
    """429 and 5xx are worth another try (408 too); other 4xx mean the request itself is wrong."""
    return status in (408, 425, 429) or status >= 500


def http_failure(status: int, body: str | bytes | None, headers: Mapping[str, str] | None,
                 what: str) -> SendResult:
    """A non-success HTTP answer as a result, classified and with the remote's Retry-After."""
    lower = {str(k).lower(): v for k, v in (headers or {}).items()}
    value = lower.get("retry-after")
    retry_after = parse_retry_after(value[0] if isinstance(value, list | tuple) and value else value)
    text = excerpt(body)
    return SendResult(
        ok=False, status_code=status, response_excerpt=text,
        error=f"{what} answered HTTP {status}" + (f": {excerpt(text, 200)}" if text else ""),
        retryable=is_retryable_status(status), retry_after_seconds=retry_after,
    )


def exception_failure(exc: BaseException, what: str) -> SendResult:
    """A transport failure: timeouts and connection errors are retryable, bad URLs and TLS setup are not."""
    retryable = isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError
                           | TimeoutError | socket.timeout | ConnectionError)
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol | ValueError):
        retryable = False
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, outbound.OutboundRefused):
        return SendResult(ok=False, error=f"{what} not sent: {exc}", retryable=False)
    kind = "timed out" if isinstance(exc, httpx.TimeoutException | TimeoutError) else "failed"
    return SendResult(ok=False, error=f"{what} {kind}: {reason}", retryable=retryable)


def require(config: DestinationConfig, field: str, reason: str | None = None) -> str:
    value = getattr(config, field)
    if value is None or not str(value).strip():
        raise Invalid(field, reason or f"required for a {config.type} destination")
    return str(value).strip()


def check_header_value(config: DestinationConfig, field: str) -> None:
    """Tokens sent in an HTTP header (`Authorization`) must be printable ASCII: anything else cannot be sent,
    so it is refused when the destination is saved, not when the first alert fails."""
    value = getattr(config, field)
    if value and not all(" " <= ch <= "~" for ch in value):
        raise Invalid(field, "must be printable ASCII without line breaks (it is sent in an HTTP header)")


def check_http_url(config: DestinationConfig, field: str) -> str:
    """An absolute http(s) URL with a host; anything else is a 422 on that field."""
    url = require(config, field)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(field, "must be an absolute http(s) URL")
    return url


def timeout(settings: Settings) -> httpx.Timeout:
    """`alert_delivery_timeout_seconds` for the whole exchange, at most 5 s of it to connect."""
    total = float(settings.alert_delivery_timeout_seconds)
    return httpx.Timeout(total, connect=min(5.0, total))


def http_client(settings: Settings | None = None) -> httpx.Client:
    """A client that never follows redirects by itself (each channel decides), identifies tripl and checks the
    outbound policy before every request (`tripl_core.outbound`: a refused address fails the attempt, not
    retried)."""
    s = settings or get_settings()
    return outbound.client(s, timeout=timeout(s), follow_redirects=False, headers={"User-Agent": USER_AGENT})


def check_outbound(config: DestinationConfig, settings: Settings | None = None) -> None:
    """When a destination is saved: a 422 naming the URL field whose host the outbound policy refuses."""
    for field in ("webhook_url", "target_url", "jira_base_url"):
        outbound.validate_url(field, getattr(config, field), settings or get_settings())
