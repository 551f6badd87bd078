"""Slack through slack-sdk: an incoming webhook, or `chat.postMessage` with a bot token and a channel id.

The message goes as Block Kit (mrkdwn or plain_text section blocks, each under Slack's 3000-character limit, plus a
context block with project, scan and link) with a short fallback `text` for notifications. slack-sdk's own retry
handlers are switched off: the dispatcher retries, and it needs to see each failure.
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from typing import Any, ClassVar
from urllib.parse import urlsplit

from slack_sdk import WebClient, WebhookClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.webhook import WebhookResponse

from tripl_core import outbound, pinning
from tripl_core.alerting.channels.base import (
    USER_AGENT,
    DestinationConfig,
    SendResult,
    check_header_value,
    check_http_url,
    excerpt,
    http_failure,
)
from tripl_core.alerting.escaping import escape_slack
from tripl_core.alerting.message import MessageFormat, RenderedMessage
from tripl_core.alerting.splitting import split_message, truncate
from tripl_core.errors import Invalid
from tripl_core.settings import Settings

SECTION_LIMIT = 3000
MAX_BLOCKS = 50
FALLBACK_LIMIT = 3000
# chat.postMessage `error` codes that a later attempt may not hit (the rest mean the request is wrong).
RETRYABLE_API_ERRORS = {"ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable",
                        "request_timeout", "team_added_to_org"}


def build_blocks(message: RenderedMessage) -> list[dict[str, Any]]:
    """Section blocks for the body (split at line breaks, markup intact) and one context block."""
    if message.format is MessageFormat.slack_mrkdwn:
        text, fmt, kind = message.text, MessageFormat.slack_mrkdwn, "mrkdwn"
    else:  # plain or a Telegram format sent to Slack: show text, no markup
        text, fmt, kind = message.plain_text, MessageFormat.plain, "plain_text"
    chunks = split_message(text, fmt, SECTION_LIMIT, measure=len)
    if len(chunks) > MAX_BLOCKS - 1:
        chunks = chunks[: MAX_BLOCKS - 2] + [truncate(chunks[MAX_BLOCKS - 2], fmt, SECTION_LIMIT, measure=len)]
    blocks: list[dict[str, Any]] = []
    for chunk in chunks:
        obj: dict[str, Any] = {"type": kind, "text": chunk}
        if kind == "plain_text":
            obj["emoji"] = True
        blocks.append({"type": "section", "text": obj})
    footer = escape_slack(message.footer)
    if message.url:
        footer = f"{footer} · <{escape_slack(message.url)}|Open in tripl>" if footer else f"<{escape_slack(message.url)}|Open in tripl>"
    if footer:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer[:SECTION_LIMIT]}]})
    return blocks


def fallback_text(message: RenderedMessage) -> str:
    """Notification text (Slack shows it where blocks cannot be): the subject, escaped for mrkdwn."""
    return escape_slack(message.subject)[:FALLBACK_LIMIT]


def _transport_failure(exc: BaseException) -> SendResult:
    """urllib errors from slack-sdk: timeouts and refused connections are retryable; bad URLs, TLS are not."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ssl.SSLError | ValueError):
        return SendResult(ok=False, error=f"Slack request failed: {reason}", retryable=False)
    kind = "timed out" if isinstance(reason, TimeoutError) else "failed"
    retryable = isinstance(reason, OSError)
    return SendResult(ok=False, error=f"Slack request {kind}: {reason}", retryable=retryable)


class SlackSender:
    channel: ClassVar[str] = "slack"

    def validate(self, config: DestinationConfig) -> None:
        if config.webhook_url:
            check_http_url(config, "webhook_url")
            return
        if config.bot_token:
            check_header_value(config, "bot_token")
            if not (config.chat_id or "").strip():
                raise Invalid("chat_id", "required with bot_token: the Slack channel id (e.g. C0123456789)")
            return
        raise Invalid("webhook_url", "a Slack destination needs webhook_url, or bot_token with chat_id")

    def send(self, config: DestinationConfig, message: RenderedMessage, settings: Settings) -> SendResult:
        blocks, text = build_blocks(message), fallback_text(message)
        if config.webhook_url:
            return self._webhook(config.webhook_url, text, blocks, settings)
        return self._post_message(config, text, blocks, settings)

    def _webhook(self, url: str, text: str, blocks: list[dict[str, Any]], settings: Settings) -> SendResult:
        pins = _pins(url, settings)
        if isinstance(pins, SendResult):
            return pins
        client = _PinnedWebhookClient(url, timeout=settings.alert_delivery_timeout_seconds, retry_handlers=[],
                                      user_agent_prefix=USER_AGENT)
        client.tripl_opener = pinning.opener(pins, settings, client.ssl)
        try:
            resp = client.send(text=text, blocks=blocks, unfurl_links=False, unfurl_media=False)
        except Exception as exc:  # noqa: BLE001 — reported, not raised
            return _transport_failure(exc)
        if resp.status_code != 200:
            return http_failure(resp.status_code, resp.body, resp.headers, "Slack webhook")
        return SendResult(ok=True, status_code=200, response_excerpt=excerpt(resp.body))

    def _post_message(self, config: DestinationConfig, text: str, blocks: list[dict[str, Any]],
                      settings: Settings) -> SendResult:
        base = settings.slack_api_base_url.rstrip("/") + "/"
        pins = _pins(base, settings)
        if isinstance(pins, SendResult):
            return pins
        client = _PinnedWebClient(token=config.bot_token, base_url=base,
                                  timeout=settings.alert_delivery_timeout_seconds, retry_handlers=[],
                                  user_agent_prefix=USER_AGENT)
        client.tripl_opener = pinning.opener(pins, settings, client.ssl)
        try:
            resp = client.chat_postMessage(channel=(config.chat_id or "").strip(), text=text, blocks=blocks,
                                           unfurl_links=False, unfurl_media=False)
        except SlackApiError as exc:
            return _api_error(exc)
        except Exception as exc:  # noqa: BLE001
            return _transport_failure(exc)
        data = resp.data if isinstance(resp.data, dict) else {}
        return SendResult(ok=True, status_code=resp.status_code, response_excerpt=excerpt(str(data)),
                          external_id=f"{data.get('channel')}:{data.get('ts')}")


def _pins(url: str, settings: Settings) -> pinning.Pins | SendResult:
    """slack-sdk brings its own HTTP stack (urllib): the outbound policy is checked just before it connects, and
    the connection goes to the checked address (`pinning.opener`). A refusal is the delivery's outcome."""
    host = urlsplit(url).hostname or ""
    try:
        return {host: str(outbound.check_url(url, settings)[0])}
    except outbound.OutboundRefused as exc:
        return SendResult(ok=False, error=f"Slack request not sent: {exc}", retryable=False)
    except (OSError, ValueError, UnicodeError):
        return {}  # does not resolve: checked again when connecting, and slack-sdk reports the failure


def _http_only(url: str) -> None:
    """urllib also opens file:// and ftp:// URLs; slack-sdk refuses them, and so do its replacements here."""
    if not url.lower().startswith(("http://", "https://")):
        raise SlackRequestError(f"Invalid URL detected: {url}")


class _PinnedWebhookClient(WebhookClient):
    """slack-sdk's webhook client over `pinning.opener` (its own opens urllib's default, which resolves again)."""

    tripl_opener: urllib.request.OpenerDirector

    def _perform_http_request_internal(self, url: str, req: urllib.request.Request) -> WebhookResponse:
        _http_only(url)
        resp = self.tripl_opener.open(req, timeout=self.timeout)
        body = resp.read().decode(resp.headers.get_content_charset() or "utf-8")
        return WebhookResponse(url=url, status_code=resp.status, body=body, headers=resp.headers)


class _PinnedWebClient(WebClient):
    """slack-sdk's Web API client over `pinning.opener`."""

    tripl_opener: urllib.request.OpenerDirector

    def _perform_urllib_http_request_internal(self, url: str, req: urllib.request.Request) -> dict[str, Any]:
        _http_only(url)
        resp = self.tripl_opener.open(req, timeout=self.timeout)
        body = resp.read().decode(resp.headers.get_content_charset() or "utf-8")
        return {"status": resp.code, "headers": resp.headers, "body": body}


def _api_error(exc: SlackApiError) -> SendResult:
    """chat.postMessage failures: HTTP errors (429 with Retry-After, 5xx) or HTTP 200 with `ok: false`."""
    resp = exc.response
    if isinstance(resp, dict):  # slack-sdk hands a raw dict when the body was not JSON
        status, headers, body = resp.get("status"), resp.get("headers") or {}, resp.get("body")
    else:
        status, headers, body = resp.status_code, resp.headers or {}, resp.data
    if status and status != 200:
        return http_failure(status, str(body) if body is not None else None, headers, "Slack API")
    code = body.get("error") if isinstance(body, dict) else None
    return SendResult(ok=False, status_code=status, response_excerpt=excerpt(str(body)),
                      error=f"Slack API error: {code or exc}", retryable=code in RETRYABLE_API_ERRORS)
