"""Email over SMTP (smtplib): a text part and an HTML alternative, subject from the destination's template.

Server settings (host, port, STARTTLS or implicit TLS, credentials, default sender) are service settings; the
destination gives recipients, an optional sender address and subject template. SMTP reply codes decide retries:
4xx and dropped connections are temporary, 5xx (bad recipient, authentication) are not.
"""

from __future__ import annotations

import html
import re
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, ClassVar

from email_validator import EmailNotValidError, validate_email

from tripl_core import outbound, pinning
from tripl_core.alerting.channels.base import DestinationConfig, SendResult, excerpt, require
from tripl_core.alerting.message import RenderedMessage
from tripl_core.alerting.render import render_subject, validate_template
from tripl_core.errors import Invalid
from tripl_core.settings import Settings

MAX_RECIPIENTS = 50
_SPLIT = re.compile(r"[,;\s]+")


def recipients(value: str | None) -> list[str]:
    """`a@x.io, b@y.io; c@z.io` → the list (commas, semicolons or spaces separate)."""
    return [r for r in _SPLIT.split(value or "") if r]


def _check_address(field: str, address: str) -> str:
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise Invalid(field, f"{address!r} is not a valid email address: {exc}") from exc


def _num(value: Any) -> str:
    if not isinstance(value, int | float):
        return "" if value is None else str(value)
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def html_body(message: RenderedMessage) -> str:
    """The HTML alternative: the text (escaped, line breaks kept), an items table and the link."""
    rows = []
    for item in message.context.get("items") or []:
        cells = [item.get("scope_label"), item.get("kind", "").replace("_", " "), item.get("bucket_label")]
        if item.get("kind") == "volume":
            pct = item.get("delta_percent")
            cells.append(f"{_num(item.get('actual'))} vs expected {_num(item.get('expected'))}"
                         + (f" ({pct:+.1f}%)" if pct is not None else ""))
        else:
            cells.append(item.get("summary"))
        rows.append("<tr>" + "".join(
            f'<td style="padding:4px 8px;border-bottom:1px solid #eee">{html.escape(str(c or ""))}</td>'
            for c in cells) + "</tr>")
    table = (f'<table style="border-collapse:collapse;margin:12px 0">{"".join(rows)}</table>' if rows else "")
    link = (f'<p><a href="{html.escape(message.url, quote=True)}">Open in tripl</a></p>' if message.url else "")
    return (
        '<!doctype html><html><body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;'
        'font-size:14px;color:#1f2328">'
        f'<div style="white-space:pre-wrap">{html.escape(message.plain_text)}</div>{table}{link}'
        f'<p style="color:#6e7781;font-size:12px">{html.escape(message.footer)}</p></body></html>'
    )


def build_email(config: DestinationConfig, message: RenderedMessage, settings: Settings) -> EmailMessage:
    sender = (config.email_from_address or settings.smtp_from).strip()
    msg = EmailMessage()
    msg["Subject"] = (render_subject(config.email_subject_template, message.context)
                      if config.email_subject_template else message.subject)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients(config.email_recipients))
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "tripl.local")
    if message.delivery_id:
        msg["X-Tripl-Delivery"] = message.delivery_id
    msg.set_content(message.plain_text)
    msg.add_alternative(html_body(message), subtype="html")
    return msg


def _smtp_failure(exc: BaseException) -> SendResult:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(f"{r}: {c} {m.decode(errors='replace') if isinstance(m, bytes) else m}"
                           for r, (c, m) in exc.recipients.items())
        return SendResult(ok=False, status_code=codes[0] if codes else None, response_excerpt=excerpt(detail),
                          error=f"SMTP refused every recipient: {excerpt(detail, 200)}",
                          retryable=bool(codes) and all(400 <= c < 500 for c in codes))
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return SendResult(ok=False, status_code=exc.smtp_code, response_excerpt=excerpt(text),
                          error=f"SMTP answered {exc.smtp_code}: {excerpt(text, 200)}",
                          retryable=400 <= exc.smtp_code < 500)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return SendResult(ok=False, error=f"SMTP server: {exc} (check smtp_starttls / smtp_ssl)", retryable=False)
    if isinstance(exc, ssl.SSLError):
        return SendResult(ok=False, error=f"SMTP TLS failed: {exc}", retryable=False)
    if isinstance(exc, smtplib.SMTPException) and not isinstance(exc, smtplib.SMTPServerDisconnected):
        return SendResult(ok=False, error=f"SMTP failed: {exc}", retryable=False)
    if isinstance(exc, smtplib.SMTPServerDisconnected | socket.timeout | TimeoutError | OSError):
        return SendResult(ok=False, error=f"SMTP connection failed: {exc or type(exc).__name__}", retryable=True)
    return SendResult(ok=False, error=f"SMTP failed: {exc}", retryable=False)


class EmailSender:
    channel: ClassVar[str] = "email"

    def validate(self, config: DestinationConfig) -> None:
        addresses = recipients(require(config, "email_recipients"))
        if not addresses:
            raise Invalid("email_recipients", "give at least one address (separate several with commas)")
        if len(addresses) > MAX_RECIPIENTS:
            raise Invalid("email_recipients", f"at most {MAX_RECIPIENTS} recipients")
        for address in addresses:
            _check_address("email_recipients", address)
        if config.email_from_address:
            _check_address("email_from_address", config.email_from_address.strip())
        validate_template(config.email_subject_template, "email_subject_template")

    def send(self, config: DestinationConfig, message: RenderedMessage, settings: Settings) -> SendResult:
        if not settings.smtp_host:
            return SendResult(ok=False, error="email is not configured: set smtp_host in the email settings")
        address: str | None = None
        try:  # checked just before connecting, and the socket goes to the checked address (pinning.SMTP)
            address = str(outbound.check_host(settings.smtp_host, settings.smtp_port, settings)[0])
        except outbound.OutboundRefused as exc:
            return SendResult(ok=False, error=f"SMTP not used: {exc}", retryable=False)
        except (OSError, UnicodeError):
            pass  # does not resolve: smtplib reports it in its own words
        msg = build_email(config, message, settings)
        timeout = float(settings.smtp_timeout_seconds)
        try:
            smtp: smtplib.SMTP
            if settings.smtp_ssl:
                smtp = pinning.SMTP_SSL(settings.smtp_host, settings.smtp_port, address=address, timeout=timeout,
                                        context=ssl.create_default_context())
            else:
                smtp = pinning.SMTP(settings.smtp_host, settings.smtp_port, address=address, timeout=timeout)
            with smtp:
                smtp.ehlo()
                if settings.smtp_starttls and not settings.smtp_ssl:
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if settings.smtp_username:
                    smtp.login(settings.smtp_username, settings.smtp_password or "")
                refused: dict[str, Any] = smtp.send_message(msg)
        except Exception as exc:  # noqa: BLE001 — reported, not raised
            return _smtp_failure(exc)
        note = f"refused: {', '.join(refused)}" if refused else None
        return SendResult(ok=True, status_code=250, external_id=msg["Message-ID"], response_excerpt=note)
