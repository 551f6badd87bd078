"""Slack through slack-sdk against a local server: incoming webhook and chat.postMessage."""

from __future__ import annotations

import pytest

from tests.alerting.helpers import make_message
from tripl_core.alerting.channels import DestinationConfig, send_alert, validate_destination
from tripl_core.alerting.channels.slack import build_blocks
from tripl_core.alerting.context import AlertItem, build_context
from tripl_core.alerting.message import MessageFormat
from tripl_core.alerting.render import render_message
from tripl_core.errors import Invalid


def webhook_cfg(server) -> DestinationConfig:
    return DestinationConfig(type="slack", webhook_url=f"{server.url}/services/T000/B000/XXXX")


def bot_cfg() -> DestinationConfig:
    return DestinationConfig(type="slack", bot_token="xoxb-test-token", chat_id="C0123456789")


def test_incoming_webhook_posts_blocks_and_fallback(server, settings):
    server.default.body = "ok"
    server.default.headers = {"Content-Type": "text/plain"}
    msg = make_message(MessageFormat.slack_mrkdwn)
    result = send_alert(webhook_cfg(server), msg, settings)
    assert result.ok and result.status_code == 200 and result.response_excerpt == "ok"
    req = server.last
    assert (req.method, req.path) == ("POST", "/services/T000/B000/XXXX")
    assert req.headers["content-type"].startswith("application/json")
    assert "tripl-alerts/0.1.0" in req.headers["user-agent"]
    body = req.json()
    assert body["text"] == "[tripl] 2 alerts in Shop App: Checkout volume"
    assert body["unfurl_links"] is False and body["unfurl_media"] is False
    section, context = body["blocks"][0], body["blocks"][-1]
    assert section == {"type": "section", "text": {"type": "mrkdwn", "text": msg.text}}
    assert context["type"] == "context"
    assert context["elements"][0]["text"] == ("tripl · Shop App · Hourly events · 2026-01-01 11:05 UTC · "
                                              "<https://tripl.example/p/shop-app/deliveries/1|Open in tripl>")


def test_chat_post_message_with_bot_token(server, settings):
    server.default.body = {"ok": True, "channel": "C0123456789", "ts": "1700000000.000100"}
    msg = make_message(MessageFormat.slack_mrkdwn)
    result = send_alert(bot_cfg(), msg, settings)
    assert result.ok and result.external_id == "C0123456789:1700000000.000100"
    req = server.last
    assert (req.method, req.path) == ("POST", "/api/chat.postMessage")
    assert req.headers["authorization"] == "Bearer xoxb-test-token"
    body = req.json()
    assert body["channel"] == "C0123456789"
    assert body["blocks"][0]["text"]["text"] == msg.text
    assert body["text"] == msg.subject


def test_plain_format_uses_plain_text_sections_and_escapes_footer(server, settings):
    ctx = build_context(rule={"name": "r"}, project={"name": "A & <B>"}, scan={"name": "s"},
                        items=[AlertItem(scope_type="event", scope_name="<!channel>", actual=1.0, expected=2.0)])
    msg = render_message(ctx, "plain")
    blocks = build_blocks(msg)
    assert blocks[0]["text"]["type"] == "plain_text" and "<!channel>" in blocks[0]["text"]["text"]
    assert blocks[-1]["elements"][0]["text"].startswith("tripl · A &amp; &lt;B&gt; · s")


def test_long_message_split_into_sections_under_3000():
    items = [AlertItem(scope_type="event", scope_name=f"event_{i}_" + "x" * 60, actual=1.0, expected=2.0)
             for i in range(50)]
    msg = render_message(build_context(rule={"name": "r"}, project={"name": "p"}, items=items), "slack_mrkdwn")
    blocks = build_blocks(msg)
    sections = [b for b in blocks if b["type"] == "section"]
    assert len(sections) >= 2 and all(len(b["text"]["text"]) <= 3000 for b in sections)
    assert len(blocks) <= 50


def test_webhook_429_is_retryable_with_retry_after(server, settings):
    server.reply(429, "rate_limited", {"Retry-After": "30", "Content-Type": "text/plain"})
    result = send_alert(webhook_cfg(server), make_message(), settings)
    assert not result.ok and result.retryable and result.status_code == 429
    assert result.retry_after_seconds == 30
    assert len(server.requests) == 1  # slack-sdk's own retries are off


def test_webhook_500_retryable_and_404_not(server, settings):
    server.reply(500, "rollup_error", {"Content-Type": "text/plain"})
    server.reply(404, "no_service", {"Content-Type": "text/plain"})
    first = send_alert(webhook_cfg(server), make_message(), settings)
    second = send_alert(webhook_cfg(server), make_message(), settings)
    assert (first.ok, first.retryable, first.status_code) == (False, True, 500)
    assert (second.ok, second.retryable, second.status_code) == (False, False, 404)
    assert "no_service" in second.error


def test_api_ok_false_is_not_retryable_but_ratelimited_is(server, settings):
    server.reply(200, {"ok": False, "error": "channel_not_found"})
    server.reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"})
    server.reply(200, {"ok": False, "error": "internal_error"})
    a = send_alert(bot_cfg(), make_message(), settings)
    b = send_alert(bot_cfg(), make_message(), settings)
    c = send_alert(bot_cfg(), make_message(), settings)
    assert not a.ok and not a.retryable and "channel_not_found" in a.error
    assert not b.ok and b.retryable and b.retry_after_seconds == 7 and b.status_code == 429
    assert not c.ok and c.retryable
    assert len(server.requests) == 3


def test_api_html_error_page_is_reported(server, settings):
    server.reply(502, "<html>bad gateway</html>", {"Content-Type": "text/html"})
    result = send_alert(bot_cfg(), make_message(), settings)
    assert not result.ok and result.retryable and result.status_code == 502


def test_timeout_and_connection_refused_are_retryable(server, settings, closed_port):
    server.reply(200, "ok", delay=2.5)
    timed_out = send_alert(webhook_cfg(server), make_message(), settings)
    assert not timed_out.ok and timed_out.retryable and "timed out" in timed_out.error
    refused = send_alert(DestinationConfig(type="slack", webhook_url=f"http://127.0.0.1:{closed_port}/x"),
                         make_message(), settings)
    assert not refused.ok and refused.retryable and "refused" in refused.error.lower()


@pytest.mark.parametrize(("fields", "field"), [
    ({}, "webhook_url"),
    ({"bot_token": "xoxb-1"}, "chat_id"),
    ({"webhook_url": "ftp://hooks.slack.com/x"}, "webhook_url"),
    ({"webhook_url": "hooks.slack.com/services/x"}, "webhook_url"),
])
def test_validation_names_the_field(fields, field):
    with pytest.raises(Invalid) as exc:
        validate_destination({"type": "slack", **fields})
    assert exc.value.loc[-1] == field


def test_validation_accepts_either_mode():
    validate_destination({"type": "slack", "webhook_url": "https://hooks.slack.com/services/T/B/X"})
    validate_destination({"type": "slack", "bot_token": "xoxb-1", "chat_id": "C1"})
