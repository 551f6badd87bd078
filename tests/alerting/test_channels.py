"""The channel interface: registry, never-raising send, Retry-After parsing, format compatibility."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from tests.alerting.helpers import make_message
from tripl_core.alerting.channels import (
    CHANNELS,
    DestinationConfig,
    check_message_format,
    send_alert,
    validate_destination,
)
from tripl_core.alerting.channels.base import is_retryable_status, parse_retry_after
from tripl_core.errors import Invalid


def test_six_channels():
    assert set(CHANNELS) == {"slack", "telegram", "webhook", "email", "jira", "linear"}


def test_unknown_type_is_invalid_type():
    with pytest.raises(Invalid) as exc:
        validate_destination({"type": "pager"})
    assert exc.value.loc[-1] == "type"
    result = send_alert(DestinationConfig(type="pager"), make_message())
    assert not result.ok and not result.retryable


def test_a_crashing_sender_is_reported_not_raised(monkeypatch, settings):
    def boom(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(CHANNELS["webhook"], "send", boom)
    result = send_alert(DestinationConfig(type="webhook", target_url="https://x.io"), make_message(), settings)
    assert not result.ok and not result.retryable and "RuntimeError: bug" in result.error


def test_config_from_row_like_object():
    row = SimpleNamespace(type="telegram", name="ops", bot_token="1:a", chat_id="5", id="ignored")
    cfg = DestinationConfig.from_mapping(row)
    assert (cfg.type, cfg.bot_token, cfg.chat_id, cfg.webhook_url) == ("telegram", "1:a", "5", None)


@pytest.mark.parametrize(("value", "seconds"), [
    ("30", 30.0), (" 2.5 ", 2.5), ("-3", 0.0), ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
    ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0), ("soon", None), (None, None), ("", None),
])
def test_parse_retry_after(value, seconds):
    now = datetime(2015, 10, 21, 7, 28, tzinfo=UTC)
    assert parse_retry_after(value, now) == seconds


@pytest.mark.parametrize(("status", "retryable"), [
    (429, True), (500, True), (502, True), (503, True), (504, True), (408, True),
    (400, False), (401, False), (403, False), (404, False), (410, False), (422, False),
])
def test_status_classification(status, retryable):
    assert is_retryable_status(status) is retryable


@pytest.mark.parametrize(("channel", "fmt", "ok"), [
    ("slack", "slack_mrkdwn", True), ("slack", "plain", True), ("slack", "telegram_html", False),
    ("telegram", "telegram_markdownv2", True), ("telegram", "slack_mrkdwn", False),
    ("email", "telegram_html", True), ("webhook", "slack_mrkdwn", True), ("jira", "plain", True),
])
def test_message_format_must_suit_the_channel(channel, fmt, ok):
    if ok:
        check_message_format(channel, fmt)
    else:
        with pytest.raises(Invalid) as exc:
            check_message_format(channel, fmt)
        assert exc.value.loc[-1] == "message_format"
