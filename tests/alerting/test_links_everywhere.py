"""Every alert on every channel carries the link to each finding's page in the web console (issue 19 item 5),
sent through the real senders to local servers (Slack, Telegram, webhook, Jira, Linear) and aiosmtpd (email)."""

from __future__ import annotations

import json
import re
from email import message_from_bytes

import pytest

from tests.alerting.helpers import Reply, make_message
from tests.alerting.test_email import smtp, smtp_settings  # noqa: F401 — fixtures
from tripl_core.alerting.channels import DestinationConfig, send_alert
from tripl_core.alerting.message import MessageFormat

FINDING_LINKS = ("https://tripl.example/a/1", "https://tripl.example/a/2", "https://tripl.example/a/3")

CHANNELS = {
    "slack": (lambda url: DestinationConfig(type="slack", webhook_url=f"{url}/services/T/B/X"),
              MessageFormat.slack_mrkdwn, Reply(200, "ok", {"Content-Type": "text/plain"})),
    "telegram": (lambda url: DestinationConfig(type="telegram", bot_token="123456:AAtoken", chat_id="-1001"),
                 MessageFormat.telegram_html, Reply(200, {"ok": True, "result": {"message_id": 7}})),
    "webhook": (lambda url: DestinationConfig(type="webhook", target_url=f"{url}/hook"), MessageFormat.plain,
                Reply(200, {"ok": True})),
    "jira": (lambda url: DestinationConfig(type="jira", jira_base_url=url, jira_auth_email="bot@shop.io",
                                           jira_api_token="t", jira_project_key="DATA"),
             MessageFormat.plain, Reply(201, {"id": "1", "key": "DATA-1"})),
    "linear": (lambda url: DestinationConfig(type="linear", linear_api_key="lin_api_key", linear_team_id="team-1"),
               MessageFormat.plain, Reply(200, {"data": {"issueCreate": {
                   "success": True, "issue": {"id": "i", "identifier": "DAT-1", "url": "https://linear.app/x"}}}})),
}


@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_every_http_channel_carries_each_finding_link(channel, server, settings):
    make_cfg, fmt, reply = CHANNELS[channel]
    server.default = reply
    result = send_alert(make_cfg(server.url), make_message(fmt), settings)
    assert result.ok, result.error
    sent = json.dumps(server.last.json(), ensure_ascii=False)
    if channel == "linear":  # Markdown: every punctuation character of the text is backslash-escaped
        sent = re.sub(r"\\\\(.)", r"\1", sent)
    for link in FINDING_LINKS:
        assert link in sent, (channel, link)
    assert "checkout.purchase 120 vs ~480 expected" in sent  # the content, not an empty summary


def test_email_carries_each_finding_link(smtp, smtp_settings):  # noqa: F811
    handler, _ = smtp
    result = send_alert(DestinationConfig(type="email", email_recipients="data@example.com"),
                        make_message(MessageFormat.plain), smtp_settings)
    assert result.ok, result.error
    mail = message_from_bytes(handler.envelopes[-1][1].original_content)
    parts = [p.get_payload(decode=True).decode() for p in mail.walk() if not p.is_multipart()]
    for body in parts:  # the text and the HTML alternative
        for link in FINDING_LINKS:
            assert link in body
