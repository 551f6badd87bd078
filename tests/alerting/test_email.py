"""Email over SMTP against aiosmtpd: message structure, auth, STARTTLS, reply-code classification."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.alerting.helpers import make_message
from tests.serving import free_port
from tripl_core.alerting.channels import DestinationConfig, send_alert, validate_destination
from tripl_core.alerting.message import MessageFormat
from tripl_core.errors import Invalid


class Recorder:
    """An SMTP handler keeping every envelope; `rcpt_reply` / `data_reply` simulate refusals."""

    def __init__(self) -> None:
        self.envelopes: list = []
        self.rcpt_reply: dict[str, str] = {}
        self.data_reply: str | None = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.rcpt_reply:
            return self.rcpt_reply[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply:
            return self.data_reply
        self.envelopes.append((session.authenticated, envelope))
        return "250 Message accepted"


def _auth(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"alerts", b"pw")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp() -> Iterator[tuple[Recorder, int]]:
    handler, port = Recorder(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, authenticator=_auth, auth_require_tls=False)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture
def smtp_settings(settings, smtp):
    return settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": smtp[1], "smtp_starttls": False,
                                       "smtp_ssl": False, "smtp_from": "tripl@example.com",
                                       "smtp_username": None, "smtp_password": None})


CFG = DestinationConfig(type="email", email_recipients="data@example.com, oncall@example.com; pm@example.com")


def test_sends_text_and_html_alternative(smtp, smtp_settings):
    handler, _ = smtp
    msg = make_message(MessageFormat.plain)
    result = send_alert(CFG, msg, smtp_settings)
    assert result.ok and result.status_code == 250 and result.external_id.startswith("<")
    authenticated, envelope = handler.envelopes[0]
    assert envelope.mail_from == "tripl@example.com"
    assert envelope.rcpt_tos == ["data@example.com", "oncall@example.com", "pm@example.com"]
    parsed = email.message_from_bytes(envelope.original_content, policy=policy.default)
    assert parsed["Subject"] == "[tripl] 2 alerts in Shop App: Checkout volume"
    assert parsed["To"] == "data@example.com, oncall@example.com, pm@example.com"
    assert parsed["X-Tripl-Delivery"] == msg.delivery_id
    assert parsed.get_content_type() == "multipart/alternative"
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert text.replace("\r\n", "\n").strip() == msg.plain_text
    assert "event checkout.purchase" in html and 'href="https://tripl.example/p/shop-app/deliveries/1"' in html
    assert "<td" in html and "type of `price` in checkout: string, declared integer" in html and "120 vs ~480 expected" in html
    assert "https://tripl.example/a/1" in html  # the finding's page


def test_subject_template_and_from_address(smtp, smtp_settings):
    handler, _ = smtp
    cfg = DestinationConfig(type="email", email_recipients="a@example.com", email_from_address="alerts@shop.io",
                            email_subject_template="{{ project.name }}: {{ counts.total }} · {{ rule.name }}\nBcc: x")
    assert send_alert(cfg, make_message(), smtp_settings).ok
    _, envelope = handler.envelopes[0]
    parsed = email.message_from_bytes(envelope.original_content, policy=policy.default)
    assert envelope.mail_from == "alerts@shop.io"
    assert parsed["Subject"] == "Shop App: 2 · Checkout volume Bcc: x"
    assert parsed["Bcc"] is None


def test_hostile_values_are_escaped_in_html(smtp, smtp_settings):
    handler, _ = smtp
    msg = make_message(project={"name": "<script>x</script>", "slug": "s"})
    assert send_alert(CFG, msg, smtp_settings).ok
    parsed = email.message_from_bytes(handler.envelopes[0][1].original_content, policy=policy.default)
    html = parsed.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_login_with_credentials(smtp, smtp_settings):
    handler, _ = smtp
    ok = smtp_settings.model_copy(update={"smtp_username": "alerts", "smtp_password": "pw"})
    assert send_alert(CFG, make_message(), ok).ok
    assert handler.envelopes[0][0] is True
    bad = smtp_settings.model_copy(update={"smtp_username": "alerts", "smtp_password": "wrong"})
    result = send_alert(CFG, make_message(), bad)
    assert not result.ok and not result.retryable and result.status_code == 535


def test_starttls_required_but_not_offered(smtp, smtp_settings):
    result = send_alert(CFG, make_message(), smtp_settings.model_copy(update={"smtp_starttls": True}))
    assert not result.ok and not result.retryable and "STARTTLS" in result.error.upper()


def test_recipient_refusals_classified(smtp, smtp_settings):
    handler, _ = smtp
    handler.rcpt_reply = {"data@example.com": "550 5.1.1 no such user", "oncall@example.com": "550 5.1.1 no",
                          "pm@example.com": "550 5.1.1 no"}
    permanent = send_alert(CFG, make_message(), smtp_settings)
    assert not permanent.ok and not permanent.retryable and permanent.status_code == 550
    handler.rcpt_reply = {k: "451 4.3.0 try later" for k in handler.rcpt_reply}
    temporary = send_alert(CFG, make_message(), smtp_settings)
    assert not temporary.ok and temporary.retryable and temporary.status_code == 451
    handler.rcpt_reply = {"pm@example.com": "550 5.1.1 no such user"}
    partial = send_alert(CFG, make_message(), smtp_settings)
    assert partial.ok and "pm@example.com" in partial.response_excerpt


def test_data_refusal_4xx_retryable_5xx_not(smtp, smtp_settings):
    handler, _ = smtp
    handler.data_reply = "452 4.3.1 insufficient storage"
    assert send_alert(CFG, make_message(), smtp_settings).retryable
    handler.data_reply = "554 5.7.1 rejected as spam"
    result = send_alert(CFG, make_message(), smtp_settings)
    assert not result.ok and not result.retryable and result.status_code == 554


def test_connection_refused_is_retryable(smtp_settings, closed_port):
    result = send_alert(CFG, make_message(), smtp_settings.model_copy(update={"smtp_port": closed_port}))
    assert not result.ok and result.retryable


def test_smtp_not_configured(settings):
    result = send_alert(CFG, make_message(), settings)
    assert not result.ok and not result.retryable and "smtp_host" in result.error


@pytest.mark.parametrize(("fields", "field"), [
    ({}, "email_recipients"),
    ({"email_recipients": " , "}, "email_recipients"),
    ({"email_recipients": "a@example.com, not-an-address"}, "email_recipients"),
    ({"email_recipients": ",".join(f"u{i}@example.com" for i in range(51))}, "email_recipients"),
    ({"email_recipients": "a@example.com", "email_from_address": "nobody"}, "email_from_address"),
    ({"email_recipients": "a@example.com", "email_subject_template": "{{ rule.name "}, "email_subject_template"),
    ({"email_recipients": "a@example.com", "email_subject_template": "{{ ''.__class__ }}"},
     "email_subject_template"),
])
def test_validation_names_the_field(fields, field):
    with pytest.raises(Invalid) as exc:
        validate_destination({"type": "email", **fields})
    assert exc.value.loc[-1] == field
