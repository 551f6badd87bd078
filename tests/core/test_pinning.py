"""Clients with an HTTP stack of their own connect to the address the outbound policy checked (issue 21, item 4):
slack-sdk (webhook and Web API), smtplib, clickhouse-connect, google-cloud-bigquery and its token refresh.

DNS rebinding, made deterministic: a `*.rebind.test` name answers the policy's own lookup (`tripl_core.outbound`)
with 127.0.0.1, where the test's real server listens, and every other lookup — a client library resolving the
name again — with 127.0.0.3, where nothing listens (and is recorded). A client that resolves again cannot reach
the server; only the connection to the checked address does.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from aiosmtpd.controller import Controller

from tests.alerting.helpers import FakeServer, Reply, make_message
from tests.warehouse.fake_bigquery import FakeBigQuery
from tripl_core import outbound, pinning
from tripl_core.alerting.channels import DestinationConfig, send_alert
from tripl_core.settings import Settings
from tripl_core.warehouse import ConnectionConfig, DBType, WarehouseError, WarehouseUnavailable, connect

CHECKED, ELSEWHERE = "127.0.0.1", "127.0.0.3"


@pytest.fixture
def rebinding(monkeypatch) -> list[str]:
    """Install the rebinding resolver; returns the names looked up outside the policy check."""
    real = socket.getaddrinfo
    unchecked: list[str] = []

    def resolver(host, port, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".rebind.test"):
            checked = sys._getframe(1).f_globals.get("__name__") == "tripl_core.outbound"
            if not checked:
                unchecked.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (CHECKED if checked else ELSEWHERE, port or 0))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    return unchecked


@pytest.fixture
def server() -> Iterator[FakeServer]:
    srv = FakeServer()
    yield srv
    srv.close()


def settings(tmp_path, **values) -> Settings:
    return Settings(**{"data_dir": tmp_path, "alert_delivery_timeout_seconds": 2, "outbound_allow": "127.0.0.1/32",
                       **values})


def test_slack_webhook_goes_to_the_checked_address(rebinding, server, tmp_path):
    url = f"http://hooks.rebind.test:{server.port}/services/T0/B0/secret"
    result = send_alert(DestinationConfig(type="slack", webhook_url=url), make_message(), settings(tmp_path))
    assert result.ok, result.error
    assert server.last.path == "/services/T0/B0/secret"
    assert server.last.headers["host"] == f"hooks.rebind.test:{server.port}"
    assert rebinding == []


def test_slack_web_api_goes_to_the_checked_address(rebinding, server, tmp_path):
    server.default = Reply(body={"ok": True, "channel": "C1", "ts": "1.2"})
    cfg = settings(tmp_path, slack_api_base_url=f"http://slack.rebind.test:{server.port}/api/")
    result = send_alert(DestinationConfig(type="slack", bot_token="xoxb-1", chat_id="C1"), make_message(), cfg)
    assert result.ok and result.external_id == "C1:1.2", result.error
    assert server.last.path == "/api/chat.postMessage"
    assert server.last.headers["host"] == f"slack.rebind.test:{server.port}"
    assert rebinding == []


def test_slack_clients_still_refuse_non_http_urls():
    from slack_sdk.errors import SlackRequestError

    from tripl_core.alerting.channels.slack import _http_only

    with pytest.raises(SlackRequestError):
        _http_only("file:///etc/passwd")


class _Inbox:
    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((CHECKED, 0))
        return s.getsockname()[1]


def test_smtp_goes_to_the_checked_address(rebinding, tmp_path):
    inbox, port = _Inbox(), _free_port()
    controller = Controller(inbox, hostname=CHECKED, port=port)
    controller.start()
    try:
        cfg = settings(tmp_path, smtp_host="mail.rebind.test", smtp_port=port, smtp_starttls=False, smtp_ssl=False,
                       smtp_from="tripl@example.com")
        result = send_alert(DestinationConfig(type="email", email_recipients="data@example.com"), make_message(),
                            cfg)
    finally:
        controller.stop()
    assert result.ok, result.error
    assert [e.rcpt_tos for e in inbox.envelopes] == [["data@example.com"]]
    assert rebinding == []


# --- TLS: the name is still what the certificate is checked against ------------------------------------------
@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> Path:
    """A self-signed certificate for `tls.rebind.test` (key and certificate in one PEM file)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tls.rebind.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("tls.rebind.test")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path = tmp_path_factory.mktemp("tls") / "tls.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture
def tls_server(certificate) -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"host": self.headers["Host"]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer((CHECKED, 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_requests_session_pins_and_verifies_the_name(rebinding, tls_server, certificate, tmp_path):
    http = pinning.session(settings(tmp_path))
    resp = http.get(f"https://tls.rebind.test:{tls_server}/x", verify=str(certificate), timeout=5)
    assert resp.json() == {"host": f"tls.rebind.test:{tls_server}"}
    assert resp.url == f"https://tls.rebind.test:{tls_server}/x"  # the caller sees its own URL
    assert rebinding == []
    with pytest.raises(requests.exceptions.SSLError):  # the certificate is for another name: refused
        http.get(f"https://other.rebind.test:{tls_server}/x", verify=str(certificate), timeout=5)
    with pytest.raises(outbound.OutboundRefused, match="loopback"):
        pinning.session(settings(tmp_path, outbound_allow="")).get(f"https://tls.rebind.test:{tls_server}/x")


def test_urllib_opener_pins_and_verifies_the_name(rebinding, tls_server, certificate, tmp_path):
    context = ssl.create_default_context(cafile=str(certificate))
    opener = pinning.opener({"tls.rebind.test": CHECKED}, settings(tmp_path), context)
    with opener.open(f"https://tls.rebind.test:{tls_server}/x", timeout=5) as resp:
        assert json.loads(resp.read()) == {"host": f"tls.rebind.test:{tls_server}"}
    assert rebinding == []
    # a name without a pin (a redirect elsewhere) is checked when it is connected to
    with pytest.raises(Exception, match="loopback"):
        pinning.opener({}, settings(tmp_path, outbound_allow=""), context).open(
            f"https://tls.rebind.test:{tls_server}/x", timeout=5)


# --- warehouses ----------------------------------------------------------------------------------------------
def test_clickhouse_connects_to_the_checked_address(rebinding, server):
    """Not a ClickHouse server, but a real HTTP one: the request must reach it, naming the configured host."""
    server.default = Reply(status=500, body="Code: 999. not ClickHouse")
    cfg = ConnectionConfig(db_type=DBType.clickhouse, host="ch.rebind.test", port=server.port, database="default",
                           username="reader", password="pw", timeout_seconds=5)
    with pytest.raises(WarehouseError):
        connect(cfg).test_connection()
    assert server.requests, "clickhouse-connect never reached the checked address"
    assert server.last.headers["host"] == "ch.rebind.test"  # clickhouse-connect's Host: server_host_name
    assert rebinding == []


def _responder(sql: str, params: dict):
    return [("ok", "INT64")], [[1]]


@pytest.fixture
def bigquery() -> Iterator[FakeBigQuery]:
    srv = FakeBigQuery(_responder).start()
    yield srv
    srv.stop()


def _service_account(token_uri: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return json.dumps({"type": "service_account", "project_id": "proj", "private_key_id": "k1",
                       "private_key": pem, "client_email": "reader@proj.iam.gserviceaccount.com",
                       "token_uri": token_uri})


def test_bigquery_api_and_token_refresh_go_to_checked_addresses(rebinding, bigquery, server):
    server.default = Reply(body={"access_token": "ya29.test", "token_type": "Bearer", "expires_in": 3600})
    port = bigquery.url.rsplit(":", 1)[1]
    cfg = ConnectionConfig(db_type=DBType.bigquery, host="proj", database="ds", timeout_seconds=5, extra_params={
        "api_endpoint": f"http://bq.rebind.test:{port}",
        "credentials_json": _service_account(f"http://token.rebind.test:{server.port}/token")})
    assert "proj" in connect(cfg).test_connection()
    assert server.last.path == "/token" and server.last.headers["host"] == f"token.rebind.test:{server.port}"
    assert rebinding == []


def test_bigquery_token_uri_is_checked_by_the_policy(bigquery):
    """`token_uri` comes from the owner's service-account JSON: google-auth would post a signed assertion there
    (the metadata service, tripl's own API) without the policy."""
    cfg = ConnectionConfig(db_type=DBType.bigquery, host="proj", database="ds", timeout_seconds=5, extra_params={
        "api_endpoint": bigquery.url, "credentials_json": _service_account("http://169.254.169.254/token")})
    with pytest.raises(WarehouseUnavailable, match="never connects there"):
        connect(cfg).test_connection()


def test_postgres_multi_host_lists_connect_to_checked_addresses(rebinding, pg_server_url):
    """libpq resolves names itself (in C: the resolver above never sees it, and `*.rebind.test` resolves nowhere):
    each host of a list is handed to it with its checked address (`hostaddr`). The server is reached over TCP
    through the fault tests' forwarder (the suite's PostgreSQL may listen on a Unix socket only)."""
    from sqlalchemy.engine import make_url

    from tests.pipelines.test_warehouse_faults import Forwarder

    url = make_url(pg_server_url)
    forwarder = Forwarder({"host": url.host or url.query.get("host"), "port": url.port or 5432})
    try:
        cfg = ConnectionConfig(db_type=DBType.postgres, host="standby.rebind.test, primary.rebind.test",
                               port=forwarder.port, database=url.database, username=url.username or "",
                               password=url.password or "", timeout_seconds=5)
        assert "PostgreSQL" in connect(cfg).test_connection()
    finally:
        forwarder.close()
    assert forwarder.connections >= 1 and rebinding == []
