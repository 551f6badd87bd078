"""Generic webhook against a local server: body schema, headers, signature, redirects, errors."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tests.alerting.helpers import make_message
from tripl_core.alerting.channels import DestinationConfig, send_alert, validate_destination
from tripl_core.alerting.channels.webhook import SCHEMA
from tripl_core.alerting.message import MessageFormat
from tripl_core.errors import Invalid


def cfg(url: str, **extra) -> DestinationConfig:
    return DestinationConfig(type="webhook", target_url=url, **extra)


def test_posts_documented_json_with_headers(server, settings):
    msg = make_message(MessageFormat.plain)
    result = send_alert(cfg(f"{server.url}/hooks/tripl?x=1", webhook_header_name="X-Api-Key",
                            webhook_header_value="s3cret"), msg, settings)
    assert result.ok and result.status_code == 200
    req = server.last
    assert (req.method, req.path) == ("POST", "/hooks/tripl?x=1")
    assert req.headers["content-type"] == "application/json; charset=utf-8"
    assert req.headers["x-api-key"] == "s3cret"
    assert req.headers["idempotency-key"] == msg.delivery_id == req.headers["x-tripl-delivery"]
    assert req.headers["user-agent"] == "tripl-alerts/0.1.0"
    assert "x-tripl-signature" not in req.headers
    body = req.json()
    assert set(body) == {"schema", "delivery_id", "subject", "text", "plain_text", "format", "url", "rule",
                         "project", "scan", "destination", "counts", "items", "links", "explanation",
                         "generated_at", "status"}
    assert body["schema"] == SCHEMA and body["format"] == "plain"
    assert body["subject"] == msg.subject and body["text"] == msg.text
    assert body["project"]["slug"] == "shop-app" and body["rule"]["name"] == "Checkout volume"
    assert body["counts"] == {"total": 2, "spikes": 0, "drops": 1, "by_kind": {"volume": 1, "schema_drift": 1}}
    first = body["items"][0]
    assert (first["kind"], first["scope_type"], first["event"], first["actual"], first["expected"],
            first["delta_percent"], first["direction"], first["z"], first["bucket"]) == (
        "volume", "event", "checkout.purchase", 120.0, 480.0, -75.0, "drop", -6.2, "2026-01-01T10:00:00Z")


def test_hmac_signature_verifies(server, settings):
    send_alert(cfg(server.url, webhook_signing_secret="whsec"), make_message(), settings)
    req = server.last
    parts = dict(p.split("=", 1) for p in req.headers["x-tripl-signature"].split(","))
    expected = hmac.new(b"whsec", parts["t"].encode() + b"." + req.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    assert abs(int(parts["t"]) - datetime.now(UTC).timestamp()) < 60


def test_redirect_to_same_origin_is_followed_with_the_body(server, settings):
    server.reply(307, "", {"Location": "/moved"})
    result = send_alert(cfg(f"{server.url}/old"), make_message(), settings)
    assert result.ok
    assert [r.path for r in server.requests] == ["/old", "/moved"]
    assert server.requests[0].body == server.requests[1].body


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_to_another_host_is_not_followed(server, other_server, settings, status):
    server.reply(status, "", {"Location": f"{other_server.url}/steal"})
    result = send_alert(cfg(f"{server.url}/hook", webhook_header_name="Authorization",
                            webhook_header_value="Bearer secret"), make_message(), settings)
    assert not result.ok and not result.retryable and result.status_code == status
    assert "redirected to" in result.error and other_server.url in result.error
    assert other_server.requests == []


def test_redirect_to_another_hostname_on_same_port_is_not_followed(server, settings):
    server.reply(308, "", {"Location": f"http://localhost:{server.port}/x"})
    result = send_alert(cfg(f"{server.url}/hook"), make_message(), settings)
    assert not result.ok and len(server.requests) == 1


def test_redirect_loop_stops(server, settings):
    server.default.status, server.default.headers = 307, {"Location": "/again"}
    result = send_alert(cfg(f"{server.url}/hook"), make_message(), settings)
    assert not result.ok and "more than 3" in result.error and len(server.requests) == 4


def test_429_with_http_date_retry_after(server, settings):
    when = datetime.now(UTC) + timedelta(seconds=120)
    server.reply(429, {"error": "slow down"}, {"Retry-After": format_datetime(when, usegmt=True)})
    result = send_alert(cfg(server.url), make_message(), settings)
    assert not result.ok and result.retryable and result.status_code == 429
    assert 100 <= result.retry_after_seconds <= 121
    assert "slow down" in result.response_excerpt


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (400, False), (401, False),
                                                   (404, False), (410, False), (408, True)])
def test_status_classification(server, settings, status, retryable):
    server.reply(status, {"error": "x"})
    result = send_alert(cfg(server.url), make_message(), settings)
    assert (result.ok, result.status_code, result.retryable) == (False, status, retryable)


def test_accepts_any_2xx(server, settings):
    server.reply(202, "")
    assert send_alert(cfg(server.url), make_message(), settings).ok


def test_timeout_and_refused_are_retryable(server, settings, closed_port):
    server.reply(200, {}, delay=2.5)
    timed_out = send_alert(cfg(server.url), make_message(), settings)
    assert not timed_out.ok and timed_out.retryable and "timed out" in timed_out.error
    refused = send_alert(cfg(f"http://127.0.0.1:{closed_port}/"), make_message(), settings)
    assert not refused.ok and refused.retryable


@pytest.mark.parametrize(("fields", "field"), [
    ({}, "target_url"),
    ({"target_url": "javascript:alert(1)"}, "target_url"),
    ({"target_url": "https://"}, "target_url"),
    ({"target_url": "https://x.io", "webhook_header_name": "Bad Header"}, "webhook_header_name"),
    ({"target_url": "https://x.io", "webhook_header_name": "Content-Type", "webhook_header_value": "x"},
     "webhook_header_name"),
    ({"target_url": "https://x.io", "webhook_header_name": "X-Key"}, "webhook_header_value"),
    ({"target_url": "https://x.io", "webhook_header_value": "v"}, "webhook_header_name"),
    ({"target_url": "https://x.io", "webhook_header_name": "X-Key", "webhook_header_value": "a\r\nX-Evil: 1"},
     "webhook_header_value"),
    ({"target_url": "https://x.io", "webhook_header_name": "X-Key", "webhook_header_value": "clé"},
     "webhook_header_value"),
])
def test_validation_names_the_field(fields, field):
    with pytest.raises(Invalid) as exc:
        validate_destination({"type": "webhook", **fields})
    assert exc.value.loc[-1] == field


def test_misconfigured_destination_is_reported_not_raised(settings):
    result = send_alert(cfg("not a url"), make_message(), settings)
    assert not result.ok and not result.retryable and "target_url" in result.error
