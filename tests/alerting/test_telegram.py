"""Telegram Bot API sendMessage against a local server: parse modes, splitting, error classification."""

from __future__ import annotations

import pytest

from tests.alerting.helpers import Reply, make_message
from tripl_core.alerting.channels import DestinationConfig, send_alert, validate_destination
from tripl_core.alerting.context import AlertItem, build_context
from tripl_core.alerting.message import MessageFormat
from tripl_core.alerting.render import render_message
from tripl_core.alerting.splitting import utf16_len
from tripl_core.errors import Invalid

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
CFG = DestinationConfig(type="telegram", bot_token=TOKEN, chat_id="-1001234567890")


def ok_reply(server) -> None:
    counter = iter(range(100, 200))
    server.handler = lambda req: Reply(200, {"ok": True, "result": {"message_id": next(counter)}})


@pytest.mark.parametrize(("fmt", "mode"), [
    (MessageFormat.telegram_html, "HTML"),
    (MessageFormat.telegram_markdownv2, "MarkdownV2"),
])
def test_send_message_with_parse_mode(server, settings, fmt, mode):
    ok_reply(server)
    msg = make_message(fmt)
    result = send_alert(CFG, msg, settings)
    assert result.ok and result.external_id == "100" and result.parts == 1
    req = server.last
    assert (req.method, req.path) == ("POST", f"/bot{TOKEN}/sendMessage")
    assert req.headers["content-type"] == "application/json"
    assert req.json() == {
        "chat_id": "-1001234567890",
        "text": msg.text,
        "parse_mode": mode,
        "disable_web_page_preview": True,
        "link_preview_options": {"is_disabled": True},
    }


def test_plain_and_slack_formats_go_without_parse_mode(server, settings):
    ok_reply(server)
    send_alert(CFG, make_message(MessageFormat.plain), settings)
    assert "parse_mode" not in server.last.json()
    msg = make_message(MessageFormat.slack_mrkdwn)
    send_alert(CFG, msg, settings)
    body = server.last.json()
    assert "parse_mode" not in body and body["text"] == msg.plain_text


def test_long_alert_split_into_ordered_valid_messages(server, settings):
    ok_reply(server)
    items = [AlertItem(scope_type="event", scope_name=f"screen.{i}.<tap>&go", actual=float(i), expected=100.0,
                       link=f"https://tripl.example/a/{i}") for i in range(50)]
    ctx = build_context(rule={"name": "big"}, project={"name": "p"}, items=items)
    long_item = ("{{ item.arrow }} <b>{{ item.scope_label }}</b> " + "padding " * 12
                 + '<a href="{{ item.link }}">details</a>')
    msg = render_message(ctx, "telegram_html", items_template=long_item)
    assert utf16_len(msg.text) > 4096
    result = send_alert(CFG, msg, settings)
    assert result.ok and result.parts == len(server.requests) >= 2
    assert result.external_id == ",".join(str(100 + i) for i in range(result.parts))
    texts = [r.json()["text"] for r in server.requests]
    assert all(utf16_len(t) <= 4096 for t in texts)
    assert texts[0].startswith("🚨 <b>50 alerts in p</b>")
    joined = "\n".join(texts)
    assert all(f"screen.{i}.&lt;tap&gt;&amp;go" in joined for i in range(50))


def test_429_with_retry_after_parameter(server, settings):
    server.reply(429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 17",
                       "parameters": {"retry_after": 17}})
    result = send_alert(CFG, make_message(), settings)
    assert not result.ok and result.retryable and result.retry_after_seconds == 17
    assert "Too Many Requests" in result.error


def test_400_parse_error_is_not_retryable(server, settings):
    server.reply(400, {"ok": False, "error_code": 400,
                       "description": "Bad Request: can't parse entities: Unsupported start tag"})
    result = send_alert(CFG, make_message(MessageFormat.telegram_html), settings)
    assert not result.ok and not result.retryable and result.status_code == 400
    assert "can't parse entities" in result.error


def test_migrated_group_tells_the_new_chat_id(server, settings):
    server.reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: group chat was upgraded",
                       "parameters": {"migrate_to_chat_id": -1009876543210}})
    result = send_alert(CFG, make_message(), settings)
    assert "-1009876543210" in result.error and not result.retryable


def test_500_is_retryable_and_failure_mid_split_is_reported(server, settings):
    server.reply(200, {"ok": True, "result": {"message_id": 1}})
    server.reply(502, "<html>Bad Gateway</html>", {"Content-Type": "text/html"})
    items = [AlertItem(scope_type="event", scope_name="e" * 200, actual=1.0, expected=2.0) for _ in range(40)]
    msg = render_message(build_context(rule={"name": "r"}, project={"name": "p"}, items=items), "telegram_html")
    result = send_alert(CFG, msg, settings)
    assert not result.ok and result.retryable and result.status_code == 502
    assert result.parts == 1 and "after 1 of" in result.error


def test_timeout_and_refused_do_not_leak_the_token(server, settings, closed_port):
    server.reply(200, {"ok": True, "result": {"message_id": 1}}, delay=2.5)
    timed_out = send_alert(CFG, make_message(), settings)
    assert not timed_out.ok and timed_out.retryable and "timed out" in timed_out.error
    refused_settings = settings.model_copy(update={"telegram_api_base_url": f"http://127.0.0.1:{closed_port}"})
    refused = send_alert(CFG, make_message(), refused_settings)
    assert not refused.ok and refused.retryable
    assert TOKEN not in (timed_out.error + refused.error)


@pytest.mark.parametrize(("fields", "field"), [
    ({"chat_id": "1"}, "bot_token"),
    ({"bot_token": "not-a-token", "chat_id": "1"}, "bot_token"),
    ({"bot_token": TOKEN}, "chat_id"),
    ({"bot_token": TOKEN, "chat_id": "my group"}, "chat_id"),
])
def test_validation_names_the_field(fields, field):
    with pytest.raises(Invalid) as exc:
        validate_destination({"type": "telegram", **fields})
    assert exc.value.loc[-1] == field


def test_validation_accepts_ids_and_usernames():
    validate_destination({"type": "telegram", "bot_token": TOKEN, "chat_id": "-1001234567890"})
    validate_destination({"type": "telegram", "bot_token": TOKEN, "chat_id": "@tripl_alerts"})
