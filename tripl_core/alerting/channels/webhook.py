"""Generic webhook: a documented JSON body POSTed to the destination's target_url.

Receivers get the rendered text and the structured context (rule, project, scan, items…), an `Idempotency-Key`
(the delivery id, so a retried delivery can be recognised), the optional custom header (e.g. an auth token) and,
when a signing secret is configured, an HMAC-SHA256 signature. Redirects are followed only to the same origin
(or its http → https upgrade), at most 3, re-POSTing the same body: a redirect elsewhere could carry the custom
header and the alert to a host the owner never configured.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from typing import Any, ClassVar
from urllib.parse import urljoin, urlsplit

import httpx

from tripl_core.alerting.channels.base import (
    DestinationConfig,
    SendResult,
    check_http_url,
    exception_failure,
    excerpt,
    http_client,
    http_failure,
)
from tripl_core.alerting.message import RenderedMessage
from tripl_core.errors import Invalid
from tripl_core.settings import Settings

SCHEMA = "tripl.alert.v1"
MAX_REDIRECTS = 3
SIGNATURE_HEADER = "X-Tripl-Signature"
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field-name
RESERVED_HEADERS = {"host", "content-length", "content-type", "transfer-encoding", "connection",
                    "idempotency-key", "user-agent", SIGNATURE_HEADER.lower(), "x-tripl-delivery"}


def payload(message: RenderedMessage) -> dict[str, Any]:
    """The JSON body (schema `tripl.alert.v1`, documented in docs/alerting.md)."""
    ctx = message.context
    return {
        "schema": SCHEMA,
        "delivery_id": message.delivery_id,
        "subject": message.subject,
        "text": message.text,
        "plain_text": message.plain_text,
        "format": message.format.value,
        "url": message.url,
        "rule": ctx.get("rule"),
        "project": ctx.get("project"),
        "scan": ctx.get("scan"),
        "destination": ctx.get("destination"),
        "counts": ctx.get("counts"),
        "items": ctx.get("items", []),
        "links": ctx.get("links"),
        "explanation": ctx.get("explanation"),
        "generated_at": ctx.get("generated_at"),
        "status": ctx.get("status", "firing"),  # resolved: the listed incidents ended (a recovery)
    }


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`: the timestamp lets receivers refuse replays."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


def _same_host(origin: str, target: str) -> bool:
    """Same scheme, host and port; or the http → https upgrade of the same host on default ports."""
    a, b = _origin(origin), _origin(target)
    if a == b:
        return True
    return a[1] == b[1] and a[0] == "http" and a[2] == 80 and b[0] == "https" and b[2] == 443


class WebhookSender:
    channel: ClassVar[str] = "webhook"

    def validate(self, config: DestinationConfig) -> None:
        check_http_url(config, "target_url")
        name, value = config.webhook_header_name, config.webhook_header_value
        if name:
            if not _TOKEN.match(name):
                raise Invalid("webhook_header_name", "must be an HTTP header name (letters, digits, - and _)")
            if name.lower() in RESERVED_HEADERS:
                raise Invalid("webhook_header_name", f"{name} is set by tripl and cannot be overridden")
            if value is None or value == "":
                raise Invalid("webhook_header_value", "required when webhook_header_name is set")
        elif value:
            raise Invalid("webhook_header_name", "required when webhook_header_value is set")
        if value and ("\r" in value or "\n" in value):
            raise Invalid("webhook_header_value", "must not contain line breaks")
        if value and not value.isascii():
            raise Invalid("webhook_header_value", "must be ASCII (HTTP header values cannot carry other text)")

    def send(self, config: DestinationConfig, message: RenderedMessage, settings: Settings) -> SendResult:
        body = json.dumps(payload(message), ensure_ascii=False, separators=(",", ":"), default=str).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if message.delivery_id:
            headers["Idempotency-Key"] = message.delivery_id
            headers["X-Tripl-Delivery"] = message.delivery_id
        if config.webhook_header_name and config.webhook_header_value:
            headers[config.webhook_header_name] = config.webhook_header_value
        if config.webhook_signing_secret:
            headers[SIGNATURE_HEADER] = signature(config.webhook_signing_secret, int(time.time()), body)
        url = (config.target_url or "").strip()
        try:
            with http_client(settings) as client:
                for _ in range(MAX_REDIRECTS + 1):
                    resp = client.post(url, content=body, headers=headers)
                    if not resp.is_redirect:
                        break
                    location = urljoin(url, resp.headers.get("location", ""))
                    if not _same_host(url, location):
                        return SendResult(
                            ok=False, status_code=resp.status_code, response_excerpt=excerpt(resp.text),
                            error=f"webhook redirected to {location}: redirects are followed only on the same host",
                        )
                    url = location
                else:
                    return SendResult(ok=False, status_code=resp.status_code,
                                      error=f"webhook redirected more than {MAX_REDIRECTS} times")
        except httpx.HTTPError as exc:
            return exception_failure(exc, "webhook request")
        if resp.is_success:
            return SendResult(ok=True, status_code=resp.status_code, response_excerpt=excerpt(resp.text))
        return http_failure(resp.status_code, resp.text, resp.headers, "webhook")
