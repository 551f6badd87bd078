"""One sender per destination type behind one interface (`Sender`): `validate` then `send`.

`send_alert` is what the dispatcher calls: it never raises, whatever the channel does, and returns a
`SendResult` whose `retryable` / `retry_after_seconds` drive the retry policy.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from tripl_core import redaction
from tripl_core.alerting.channels.base import (
    DestinationConfig,
    Sender,
    SendResult,
    check_outbound,
    destination_secrets,
)
from tripl_core.alerting.channels.email import EmailSender
from tripl_core.alerting.channels.jira import JiraSender
from tripl_core.alerting.channels.linear import LinearSender
from tripl_core.alerting.channels.slack import SlackSender
from tripl_core.alerting.channels.telegram import TelegramSender
from tripl_core.alerting.channels.webhook import WebhookSender
from tripl_core.alerting.message import MessageFormat, RenderedMessage
from tripl_core.errors import Invalid
from tripl_core.settings import Settings, get_settings

__all__ = ["CHANNELS", "FORMATS_BY_CHANNEL", "DestinationConfig", "SendResult", "Sender", "check_message_format",
           "get_sender", "send_alert", "validate_destination"]

log = logging.getLogger(__name__)

CHANNELS: dict[str, Sender] = {
    s.channel: s
    for s in (SlackSender(), TelegramSender(), WebhookSender(), EmailSender(), JiraSender(), LinearSender())
}


# Formats a channel renders natively. Email, Jira, Linear and webhooks accept any: they use the plain-text
# conversion (webhooks also carry `text` as rendered, for receivers that forward it).
FORMATS_BY_CHANNEL: dict[str, set[MessageFormat]] = {
    "slack": {MessageFormat.plain, MessageFormat.slack_mrkdwn},
    "telegram": {MessageFormat.plain, MessageFormat.telegram_html, MessageFormat.telegram_markdownv2},
}


def check_message_format(channel: str, fmt: MessageFormat | str) -> None:
    """A rule's message_format must suit its destination (Telegram cannot show mrkdwn, nor Slack HTML)."""
    allowed = FORMATS_BY_CHANNEL.get(channel)
    if allowed is not None and MessageFormat(fmt) not in allowed:
        names = ", ".join(sorted(f.value for f in allowed))
        raise Invalid("message_format", f"a {channel} destination takes {names}")


def get_sender(channel: str) -> Sender:
    try:
        return CHANNELS[channel]
    except KeyError:
        raise Invalid("type", f"unknown destination type {channel!r}; one of {', '.join(CHANNELS)}") from None


def validate_destination(config: DestinationConfig | Mapping[str, Any]) -> DestinationConfig:
    """Check the fields a destination of its type needs; raises `Invalid(field, reason)` (a 422)."""
    cfg = config if isinstance(config, DestinationConfig) else DestinationConfig.from_mapping(config)
    get_sender(cfg.type).validate(cfg)
    check_outbound(cfg)
    return cfg


def send_alert(config: DestinationConfig, message: RenderedMessage, settings: Settings | None = None) -> SendResult:
    """Send through the destination's channel. Our own bugs are reported too (not retryable), never raised.

    Whatever the channel answers passes through the destination's redactor (`tripl_core.redaction`) before it
    is returned, and so before it is stored on the delivery; log records made while sending are redacted too."""
    settings = settings or get_settings()
    redactor = redaction.Redactor(destination_secrets(config, settings))
    with redaction.scope(redactor):
        result = _send(config, message, settings)
    return replace(result, error=redactor(result.error), response_excerpt=redactor(result.response_excerpt))


def _send(config: DestinationConfig, message: RenderedMessage, settings: Settings) -> SendResult:
    try:
        sender = get_sender(config.type)
        sender.validate(config)
        return sender.send(config, message, settings)
    except Invalid as exc:
        return SendResult(ok=False, error=f"destination is misconfigured: {exc.loc[-1]}: {exc.message}")
    except Exception as exc:  # noqa: BLE001 — the dispatcher records it on the delivery
        log.error("alert channel %s crashed:\n%s", config.type, "".join(traceback.format_exception(exc)))
        return SendResult(ok=False, error=f"{config.type} sender failed: {type(exc).__name__}: {exc}")
