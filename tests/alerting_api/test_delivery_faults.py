"""A channel that is rate-limited or down (issue 21, item 5): retried with backoff honouring Retry-After (bounded),
delivered once when it recovers, failed with a readable reason after the last try; secrets stay out of errors.

The receiver is a real local HTTP server; dispatch cycles run at chosen times, as the sensor runs them.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.alerting.helpers import Recorded, Reply
from tests.alerting_api.helpers import BASE, DELIVERIES, NOW, at, only_delivery, run_dispatch, signal

URL = DELIVERIES


def test_429_then_503_then_recovery_delivers_exactly_once(owner, world, db, hook, webhook_dest, make_rule):
    make_rule(webhook_dest)
    signal(db, world)
    hook.reply(429, {"error": "slow down"}, headers={"Retry-After": "300"})
    hook.reply(503, "upstream down", headers={"Content-Type": "text/plain"})
    run_dispatch(NOW)
    d = only_delivery(owner)
    assert d["status"] == "failed" and "429" in d["error_message"]
    assert at(d["next_attempt_at"]) == NOW + timedelta(seconds=300)  # Retry-After beats the 60 s base
    run_dispatch(NOW + timedelta(seconds=300))
    d = only_delivery(owner)
    assert d["attempts"] == 2 and "503" in d["error_message"] and "upstream down" in d["error_message"]
    assert at(d["next_attempt_at"]) == NOW + timedelta(seconds=300 + 120)
    run_dispatch(NOW + timedelta(seconds=420))  # the receiver answers 200 now
    d = only_delivery(owner)
    assert d["status"] == "sent" and d["attempts"] == 3 and d["error_message"] is None
    for later in (600, 3600, 86400):
        run_dispatch(NOW + timedelta(seconds=later))
    assert len(hook.requests) == 3  # one accepted message, never resent
    assert len({r.headers["idempotency-key"] for r in hook.requests}) == 1


@pytest.mark.parametrize("retry_after", ["99999999999", "inf", "1e400"])
def test_an_absurd_retry_after_is_capped(owner, world, db, hook, webhook_dest, make_rule, retry_after):
    make_rule(webhook_dest)
    signal(db, world)
    hook.reply(429, {"error": "go away"}, headers={"Retry-After": retry_after})
    run_dispatch(NOW)
    d = only_delivery(owner)
    assert d["status"] == "failed" and at(d["next_attempt_at"]) == NOW + timedelta(hours=1)  # retry max


def test_last_try_says_it_gave_up(owner, world, db, hook, webhook_dest, make_rule, monkeypatch):
    from tripl_core.settings import reset_settings_cache

    monkeypatch.setenv("TRIPL_ALERT_DELIVERY_MAX_ATTEMPTS", "2")
    reset_settings_cache()
    make_rule(webhook_dest)
    signal(db, world)
    hook.default = Reply(503, "still down", {"Content-Type": "text/plain"})
    run_dispatch(NOW)
    run_dispatch(NOW + timedelta(minutes=1))
    d = only_delivery(owner)
    assert d["status"] == "failed" and d["next_attempt_at"] is None
    assert "HTTP 503" in d["error_message"] and "gave up after 2 attempts" in d["error_message"]


def test_an_echoed_secret_never_reaches_list_deliveries(owner, world, db, hook, project, make_rule):
    """The issue's reproduction: the receiver's error page echoes the secret path (and the custom header)."""
    def echo(req: Recorded) -> Reply:
        return Reply(404, f"Cannot POST {req.path} (X-Token: {req.headers.get('x-token')})",
                     {"Content-Type": "text/html"})

    hook.handler = echo
    r = owner.post(f"{BASE}/alerts/destinations", json={
        "type": "webhook", "name": "secret hook", "target_url": f"{hook.url}/services/T000/B000/XXXXsecretXXXX",
        "webhook_header_name": "X-Token", "webhook_header_value": "hdr-secret-123"})
    assert r.status_code == 201, r.text
    make_rule(r.json())
    signal(db, world)
    run_dispatch(NOW)
    d = only_delivery(owner)
    assert d["status"] == "failed" and "Cannot POST" in d["error_message"]
    listed = owner.get(URL).text + owner.get(f"{URL}/{d['id']}").text
    for secret in ("XXXXsecretXXXX", "T000/B000", "hdr-secret-123"):
        assert secret not in listed


CHANNELS = {  # destination fields (server = the echoing receiver) and the secrets they carry
    "slack": (lambda url: {"webhook_url": f"{url}/services/T0SECRET1/B0SECRET2/slackSECRETpart3"},
              ["slackSECRETpart3", "T0SECRET1/B0SECRET2"]),
    "telegram": (lambda url: {"bot_token": "987654:tgSECRET-token_value", "chat_id": "-1001234567890"},
                 ["987654:tgSECRET-token_value", "tgSECRET-token_value"]),
    "jira": (lambda url: {"jira_base_url": url, "jira_auth_email": "bot@shop.io",
                          "jira_api_token": "jiraSECRETtoken77", "jira_project_key": "DATA"},
             ["jiraSECRETtoken77", "Ym90QHNob3AuaW86amlyYVNFQ1JFVHRva2VuNzc="]),
    "linear": (lambda url: {"linear_api_key": "lin_api_SECRETkey99", "linear_team_id": "team-1"},
               ["lin_api_SECRETkey99"]),
}


@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_echoed_secrets_of_every_channel_stay_out_of_list_deliveries(owner, world, db, hook, project, make_rule,
                                                                      monkeypatch, caplog, channel):
    import logging

    from tripl_core.settings import reset_settings_cache

    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("TRIPL_TELEGRAM_API_BASE_URL", hook.url)
    monkeypatch.setenv("TRIPL_LINEAR_API_URL", f"{hook.url}/graphql")
    reset_settings_cache()

    def echo(req: Recorded) -> Reply:
        text = f"Cannot POST {req.path} headers={dict(req.headers)} body={req.body[:200]!r}"
        return Reply(403, {"ok": False, "description": text, "error": text, "errorMessages": [text],
                           "errors": [{"message": text}]})

    hook.handler = echo
    fields, secrets = CHANNELS[channel]
    r = owner.post(f"{BASE}/alerts/destinations", json={"type": channel, "name": f"{channel} dest",
                                                        **fields(hook.url)})
    assert r.status_code == 201, r.text
    make_rule(r.json())
    signal(db, world)
    run_dispatch(NOW)
    d = only_delivery(owner)
    assert d["status"] == "failed" and "Cannot POST" in d["error_message"] and hook.requests, d
    shown = owner.get(URL).text + owner.get(f"{URL}/{d['id']}").text
    log = "\n".join(rec.getMessage() for rec in caplog.records)
    for secret in secrets:
        assert secret not in shown, shown
        assert secret not in log
    reset_settings_cache()
