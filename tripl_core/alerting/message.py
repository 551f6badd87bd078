"""The value objects shared by rendering and channels: message formats and the rendered message."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class MessageFormat(enum.StrEnum):
    """The reference's AlertMessageFormat: which markup the templates are written in and escaped for."""

    plain = "plain"
    slack_mrkdwn = "slack_mrkdwn"
    telegram_html = "telegram_html"
    telegram_markdownv2 = "telegram_markdownv2"


@dataclass(frozen=True)
class RenderedMessage:
    """One alert, rendered once and handed to any channel.

    `text` is in `format` (what Slack/Telegram show); `plain_text` is the same content without markup (email text
    part, Jira, Linear, webhook consumers); `subject` is one plain line (email subject, issue title, fallback text).
    `context` is the JSON-safe template context, so webhooks can post structured data and email can render its
    subject template.
    """

    format: MessageFormat
    text: str
    plain_text: str
    subject: str
    footer: str = ""
    url: str | None = None
    labels: tuple[str, ...] = ("tripl",)
    context: dict[str, Any] = field(default_factory=dict)
    delivery_id: str | None = None
    template_error: str | None = None  # a custom template failed at send time and the default one was used
