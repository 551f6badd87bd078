"""No destination secret in a delivery's error, its response excerpt or the log (issue 21, item 2).

Each channel talks to a real local server that echoes what it received (path, headers, body) in its error, as
real services do (`Cannot POST /services/T000/B000/XXXX`); the secret must survive in none of the outputs, in any
echoed form (plain, URL-encoded, basic-auth base64, cut off by the excerpt limit).
"""

from __future__ import annotations

import base64
import logging
import socket
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.alerting.helpers import Recorded, Reply, make_message
from tripl_core.alerting.channels import DestinationConfig, send_alert
from tripl_core.redaction import REDACTED, Redactor, redact, strip_url_paths, url_parts

SLACK_SECRET = "XyZsecretPart0123456789"
TOKEN = "123456789:AAE-telegram-secret-token_xyz"


def echo(status: int = 404, json_body: bool = False):
    """A handler answering `status` with everything it was sent, the way error pages and APIs echo requests."""
    def handler(req: Recorded) -> Reply:
        headers = "; ".join(f"{k}: {v}" for k, v in req.headers.items())
        text = f"Cannot POST {req.path} (headers: {headers}) body: {req.body.decode(errors='replace')}"
        if json_body:
            return Reply(status, {"ok": False, "error": text, "description": text, "errorMessages": [text],
                                  "errors": [{"message": text, "extensions": {"code": "FORBIDDEN"}}]})
        return Reply(status, text, {"Content-Type": "text/plain"})
    return handler


def assert_hidden(secret: str, result, caplog) -> None:
    # tripl's log: every record but the test SMTP server's own (`mail.log`, the far end of the connection)
    log = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records if not r.name.startswith("mail."))
    outputs = {"error": result.error or "", "response_excerpt": result.response_excerpt or "", "log": log}
    forms = {secret, quote(secret, safe=""), quote(secret, safe="/")}
    for where, text in outputs.items():
        for form in forms:
            assert form not in text, f"{form!r} leaked into {where}: {text[:600]}"
    assert result.error, "the failure must still be reported"


@pytest.fixture(autouse=True)
def debug_logs(caplog):
    caplog.set_level(logging.DEBUG)


def test_slack_incoming_webhook_path_is_redacted(server, settings, caplog):
    server.handler = echo(404)
    path = f"/services/T0AAA1111/B0BBB2222/{SLACK_SECRET}"
    result = send_alert(DestinationConfig(type="slack", webhook_url=server.url + path), make_message(), settings)
    assert not result.ok and result.status_code == 404
    assert "Cannot POST" in result.error and REDACTED in result.error
    for part in (SLACK_SECRET, "B0BBB2222", "T0AAA1111/B0BBB2222"):
        assert_hidden(part, result, caplog)
    assert server.last.path == path  # the real URL was used


def test_slack_bot_token_is_redacted(server, settings, caplog):
    server.handler = echo(500)
    cfg = DestinationConfig(type="slack", bot_token="xoxb-1111-2222-secretbot", chat_id="C0123456789")
    result = send_alert(cfg, make_message(), settings)
    assert not result.ok and result.retryable
    assert_hidden("xoxb-1111-2222-secretbot", result, caplog)


def test_telegram_bot_token_is_redacted(server, settings, caplog):
    server.handler = echo(401, json_body=True)
    result = send_alert(DestinationConfig(type="telegram", bot_token=TOKEN, chat_id="-100123"), make_message(),
                        settings)
    assert not result.ok and result.status_code == 401
    assert_hidden(TOKEN, result, caplog)
    assert_hidden("AAE-telegram-secret-token_xyz", result, caplog)


def test_generic_webhook_path_query_header_and_signing_secret_are_redacted(server, settings, caplog):
    server.handler = echo(403)
    cfg = DestinationConfig(type="webhook", target_url=f"{server.url}/in/hook-9f8e7d?key=query-secret-42",
                            webhook_header_name="X-Auth", webhook_header_value="header-secret-value",
                            webhook_signing_secret="signing-secret-value")
    result = send_alert(cfg, make_message(), settings)
    assert not result.ok and result.status_code == 403
    for secret in ("hook-9f8e7d", "query-secret-42", "header-secret-value"):
        assert_hidden(secret, result, caplog)


def test_jira_basic_auth_is_redacted(server, settings, caplog):
    server.handler = echo(401, json_body=True)
    cfg = DestinationConfig(type="jira", jira_base_url=server.url, jira_auth_email="bot@shop.io",
                            jira_api_token="atl-secret-token-77", jira_project_key="DATA")
    result = send_alert(cfg, make_message(), settings)
    assert not result.ok and result.status_code == 401
    assert_hidden("atl-secret-token-77", result, caplog)
    assert_hidden(base64.b64encode(b"bot@shop.io:atl-secret-token-77").decode(), result, caplog)


def test_linear_api_key_is_redacted(server, settings, caplog):
    server.handler = echo(400, json_body=True)
    cfg = DestinationConfig(type="linear", linear_api_key="lin_api_secretkey123456",
                            linear_team_id="9cfb482a-81e3-4154-b5b9-2c805e70a02d")
    result = send_alert(cfg, make_message(), settings)
    assert not result.ok
    assert_hidden("lin_api_secretkey123456", result, caplog)


def test_a_secret_cut_by_the_excerpt_limit_leaves_no_prefix(server, settings, caplog):
    # The echoed path starts just before the excerpt's 500-character limit, so the limit cuts the secret.
    server.handler = lambda req: Reply(404, "x" * 490 + f" {req.path}", {"Content-Type": "text/plain"})
    result = send_alert(DestinationConfig(type="slack", webhook_url=f"{server.url}/services/T1/B2/{SLACK_SECRET}"),
                        make_message(), settings)
    for text in (result.response_excerpt or "", result.error or ""):
        assert SLACK_SECRET[:6] not in text and "/T1/B" not in text


class _EchoAuth:
    def __call__(self, server, session, envelope, mechanism, auth_data):
        login = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else "?"
        password = auth_data.password.decode() if isinstance(auth_data, LoginPassword) else "?"
        return AuthResult(success=False, handled=False, message=f"535 5.7.8 bad credentials {login}:{password}")


@pytest.fixture
def echo_smtp() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    class Sink:
        async def handle_DATA(self, server, session, envelope):
            return "250 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=port, authenticator=_EchoAuth(),
                            auth_require_tls=False)
    controller.start()
    yield port
    controller.stop()


def test_smtp_password_is_redacted(settings, echo_smtp, caplog):
    smtp = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": echo_smtp, "smtp_starttls": False,
                                       "smtp_ssl": False, "smtp_username": "alerts",
                                       "smtp_password": "smtp-secret-pw-99"})
    result = send_alert(DestinationConfig(type="email", email_recipients="data@example.com"), make_message(), smtp)
    assert not result.ok and result.status_code == 535
    assert_hidden("smtp-secret-pw-99", result, caplog)


# --- the redactor itself ---------------------------------------------------------------------------------------
def test_redactor_forms():
    r = Redactor(["p@ss/w0rd secret", None, "", "ab"])
    assert r("x p@ss/w0rd secret y") == f"x {REDACTED} y"
    assert r("x p%40ss%2Fw0rd%20secret y") == f"x {REDACTED} y"
    assert r("x p%40ss%2fw0rd%20secret y") == f"x {REDACTED} y"  # lower-case hex
    assert r("x p%40ss/w0rd+secret y") == f"x {REDACTED} y"
    assert r("x p@ss\\/w0rd secret y") == f"x {REDACTED} y"  # JSON-escaped slash
    assert r("ab stays: too short to be a secret") == "ab stays: too short to be a secret"
    assert r(None) is None


def test_short_secrets_are_replaced_only_as_words():
    r = Redactor(["k3y9"])
    assert r("token k3y9 refused; k3y9x is another word") == f"token {REDACTED} refused; k3y9x is another word"


def test_url_parts_of_a_webhook_and_of_a_base_url():
    hook = url_parts("https://user:pw-1234@hooks.example.com/services/T1/B2/SECRET?sig=abc123")
    assert {"pw-1234", "/services/T1/B2/SECRET", "SECRET", "B2/SECRET", "abc123"} <= set(hook)
    assert "services" not in hook  # a public segment alone is not redacted everywhere
    base = url_parts("https://api.example.com/v1?api-key=k-5678", whole=False)
    assert "k-5678" in base and "/v1" not in base


def test_truncated_tail_is_cut():
    secrets = url_parts("https://h/services/T1/B2/SECRETVALUE")
    assert redact("answer: /services/T1/B2/SEC…", secrets) == f"answer: {REDACTED}…"
    assert redact("no ellipsis ends in SEC", ["SECRETVALUE"]) == "no ellipsis ends in SEC"


def test_strip_url_paths_for_library_logs():
    text = 'HTTP Request: POST https://u:p@hooks.slack.com/services/T/B/X?a=1 "HTTP/1.1 200 OK"'
    assert strip_url_paths(text) == f'HTTP Request: POST https://hooks.slack.com/{REDACTED} "HTTP/1.1 200 OK"'


def test_ai_endpoint_error_is_redacted(server, caplog):
    from tripl_core.ai import client as ai_client
    from tripl_core.errors import UpstreamError
    from tripl_core.service_settings import EffectiveSettings
    from tripl_core.settings import Settings

    server.handler = lambda req: Reply(401, {"error": {"message": f"Incorrect API key provided: "
                                                                  f"{req.headers.get('authorization')}"}})
    key = "sk-proj-secretAIkey0123456789"
    eff = EffectiveSettings(values={"ai_enabled": True, "ai_base_url": f"{server.url}/v1?api-key=q-secret-77",
                                    "ai_model": "m", "ai_api_key": key, "ai_timeout_seconds": 2,
                                    "ai_max_output_tokens": 5}, sources={}, base=Settings())
    with pytest.raises(UpstreamError) as caught:
        ai_client.chat(eff, "system", "user")
    assert "HTTP 401" in caught.value.message and "Incorrect API key" in caught.value.message
    assert key not in caught.value.message and key not in caplog.text
    assert "q-secret-77" not in caught.value.message and "q-secret-77" not in caplog.text


def test_a_hostile_url_gives_a_bounded_number_of_forms():
    url = "https://h/" + "/".join(f"seg{i:03d}" for i in range(900)) + "?" + "&".join(f"k{i}=v{i:04d}"
                                                                                     for i in range(900))
    parts = url_parts(url)
    assert len(parts) < 300  # was every run of segments: ~400,000 strings for this URL
    assert "seg000/seg001" in parts and REDACTED in Redactor(parts)("echo: /seg000/seg001/seg002")
