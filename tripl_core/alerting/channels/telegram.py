"""Telegram Bot API `sendMessage`, with parse mode HTML, MarkdownV2 or none.

Texts over 4096 characters are split into several messages at line breaks, never inside an entity (open tags or
markers are closed and reopened), and sent in order. Telegram answers rate limits with HTTP 429 and
`parameters.retry_after`, which becomes the result's `retry_after_seconds`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, ClassVar

import httpx

from tripl_core.alerting.channels.base import (
    DestinationConfig,
    SendResult,
    exception_failure,
    excerpt,
    http_client,
    is_retryable_status,
    parse_retry_after,
    require,
)
from tripl_core.alerting.message import MessageFormat, RenderedMessage
from tripl_core.alerting.splitting import split_message, truncate
from tripl_core.errors import Invalid
from tripl_core.settings import Settings

MESSAGE_LIMIT = 4096
MAX_PARTS = 10
PARSE_MODES = {MessageFormat.telegram_html: "HTML", MessageFormat.telegram_markdownv2: "MarkdownV2"}
_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_CHAT = re.compile(r"^(-?\d+|@[A-Za-z][A-Za-z0-9_]{3,})$")


def message_parts(message: RenderedMessage) -> tuple[list[str], str | None]:
    """The texts to send and their parse mode; formats Telegram cannot parse go as plain text."""
    mode = PARSE_MODES.get(message.format)
    fmt = message.format if mode else MessageFormat.plain
    text = message.text if mode else message.plain_text
    parts = split_message(text, fmt, MESSAGE_LIMIT)
    if len(parts) > MAX_PARTS:
        parts = parts[: MAX_PARTS - 1] + [truncate(parts[MAX_PARTS - 1], fmt, MESSAGE_LIMIT)]
    return parts, mode


class TelegramSender:
    channel: ClassVar[str] = "telegram"

    def validate(self, config: DestinationConfig) -> None:
        token = require(config, "bot_token")
        if not _TOKEN.match(token):
            raise Invalid("bot_token", "must look like 123456789:AA… (the token BotFather gave)")
        chat = require(config, "chat_id")
        if not _CHAT.match(chat):
            raise Invalid("chat_id", "must be a numeric chat id (e.g. -1001234567890) or @channelusername")

    def send(self, config: DestinationConfig, message: RenderedMessage, settings: Settings) -> SendResult:
        token = (config.bot_token or "").strip()
        url = f"{settings.telegram_api_base_url.rstrip('/')}/bot{token}/sendMessage"
        parts, mode = message_parts(message)
        ids: list[str] = []
        with http_client(settings) as client:
            for index, text in enumerate(parts):
                body: dict[str, Any] = {
                    "chat_id": (config.chat_id or "").strip(),
                    "text": text,
                    # the first is what older Bot API servers know, the second what current ones prefer
                    "disable_web_page_preview": True,
                    "link_preview_options": {"is_disabled": True},
                }
                if mode:
                    body["parse_mode"] = mode
                result = self._send_one(client, url, body, token)
                if not result.ok:
                    note = f" (after {index} of {len(parts)} parts were sent)" if index else ""
                    return replace(result, error=f"{result.error}{note}", parts=index,
                                   external_id=",".join(ids) or None)
                ids.append(result.external_id or "")
        return SendResult(ok=True, status_code=200, external_id=",".join(ids), parts=len(parts))

    @staticmethod
    def _send_one(client: httpx.Client, url: str, body: dict[str, Any], token: str) -> SendResult:
        try:
            resp = client.post(url, json=body)
        except httpx.HTTPError as exc:
            failure = exception_failure(exc, "Telegram request")
            return replace(failure, error=(failure.error or "").replace(token, "<token>"))
        try:
            data = resp.json()
        except ValueError:
            data = {}
        if resp.status_code == 200 and data.get("ok"):
            return SendResult(ok=True, status_code=200, external_id=str(data.get("result", {}).get("message_id")))
        params = data.get("parameters") or {}
        retry_after = params.get("retry_after")
        description = data.get("description") or f"HTTP {resp.status_code}"
        if params.get("migrate_to_chat_id"):
            description += f" (the group is now chat {params['migrate_to_chat_id']}: update chat_id)"
        return SendResult(
            ok=False, status_code=resp.status_code, response_excerpt=excerpt(resp.text),
            error=f"Telegram answered {resp.status_code}: {description}",
            retryable=is_retryable_status(resp.status_code),
            retry_after_seconds=float(retry_after) if retry_after is not None
            else parse_retry_after(resp.headers.get("retry-after")),
        )
