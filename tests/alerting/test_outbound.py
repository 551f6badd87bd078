"""Outbound calls only where the operator allows (issue 21, item 4): checked when saved and before every call.

The suite allows loopback (tests/conftest.py sets TRIPL_OUTBOUND_ALLOW); these tests take that away where they
check the default policy.
"""

from __future__ import annotations

import ipaddress
import socket

import httpx
import pytest

from tests.alerting.helpers import make_message
from tripl_core import outbound
from tripl_core.ai import client as ai_client
from tripl_core.alerting.channels import DestinationConfig, send_alert
from tripl_core.errors import Invalid, UpstreamError
from tripl_core.service_settings import EffectiveSettings
from tripl_core.settings import Settings, reset_settings_cache
from tripl_core.warehouse import ConnectionConfig, DBType, WarehouseUnavailable, connect

DEFAULT = outbound.Policy()


@pytest.fixture
def default_policy(monkeypatch):
    """The process settings as on a fresh install: no loopback."""
    monkeypatch.setenv("TRIPL_OUTBOUND_ALLOW", "")
    reset_settings_cache()
    yield
    reset_settings_cache()


@pytest.mark.parametrize("address", ["169.254.169.254", "169.254.0.1", "fe80::1", "100.100.100.200",
                                     "fd00:ec2::254", "::ffff:169.254.169.254", "0.0.0.0", "::", "224.0.0.1"])
def test_metadata_link_local_and_unspecified_are_always_refused(address):
    everything = outbound.Policy(allow=outbound.parse_cidrs("0.0.0.0/0, ::/0"))
    assert DEFAULT.refusal(address) and everything.refusal(address)


def test_loopback_needs_the_operator_and_private_ranges_are_allowed():
    assert "loopback" in DEFAULT.refusal("127.0.0.1") and DEFAULT.refusal("::1")
    assert DEFAULT.refusal("::ffff:127.0.0.1")
    for private in ("10.1.2.3", "172.16.0.9", "192.168.1.1", "fd12::1", "8.8.8.8"):
        assert DEFAULT.refusal(private) is None
    only_one = outbound.Policy(allow=outbound.parse_cidrs("127.0.0.1/32"))
    assert only_one.refusal("127.0.0.1") is None and only_one.refusal("127.0.0.2")
    denied = outbound.Policy(allow=outbound.parse_cidrs("10.0.0.0/8"), deny=outbound.parse_cidrs("10.9.0.0/16"))
    assert denied.refusal("10.9.1.1") == "10.9.1.1 is in TRIPL_OUTBOUND_DENY" and denied.refusal("10.8.1.1") is None


def test_settings_refuse_a_malformed_cidr():
    with pytest.raises(ValueError, match="not an IP address or CIDR"):
        Settings(outbound_allow="127.0.0.1/32, localhost")
    assert Settings(outbound_deny="10.0.0.0/8,fd00::/8").outbound_deny


def test_names_are_checked_by_what_they_resolve_to():
    with pytest.raises(outbound.OutboundRefused, match="localhost resolves to 127.0.0.1 is a loopback"):
        outbound.check_host("localhost", 80, policy=DEFAULT)


def test_the_transport_connects_to_the_address_it_checked(server, monkeypatch):
    """DNS rebinding: the name is resolved once, checked, and that address is the one connected to (the name
    itself would not even resolve for httpx here). Host header and TLS name stay the configured name."""
    real = socket.getaddrinfo
    calls = []

    def fake(host, *args, **kwargs):
        if host == "hooks.rebind.test":
            calls.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    allow = Settings(outbound_allow="127.0.0.1/32")
    with outbound.client(allow) as http:
        resp = http.post(f"http://hooks.rebind.test:{server.port}/in", json={})
    assert resp.status_code == 200 and calls == ["hooks.rebind.test"]
    assert server.last.headers["host"] == f"hooks.rebind.test:{server.port}" and server.last.path == "/in"
    with outbound.client(Settings(outbound_allow="")) as http, pytest.raises(outbound.OutboundRefused):
        http.post(f"http://hooks.rebind.test:{server.port}/in", json={})
    assert len(server.requests) == 1


def test_webhook_to_a_refused_address_fails_without_retry_and_without_a_request(server, settings):
    closed = settings.model_copy(update={"outbound_allow": ""})
    result = send_alert(DestinationConfig(type="webhook", target_url=f"{server.url}/hook"), make_message(), closed)
    assert not result.ok and not result.retryable
    assert "refused" in result.error and "loopback" in result.error and "TRIPL_OUTBOUND_ALLOW" in result.error
    assert server.requests == []
    meta = send_alert(DestinationConfig(type="webhook", target_url="http://169.254.169.254/latest/meta-data/"),
                      make_message(), settings)
    assert not meta.ok and not meta.retryable and "never connects there" in meta.error


@pytest.mark.parametrize("cfg", [
    lambda url: DestinationConfig(type="slack", webhook_url=f"{url}/services/T/B/X"),
    lambda url: DestinationConfig(type="slack", bot_token="xoxb-1", chat_id="C1"),
    lambda url: DestinationConfig(type="telegram", bot_token="1:abc", chat_id="1"),
    lambda url: DestinationConfig(type="jira", jira_base_url=url, jira_auth_email="a@b.io", jira_api_token="t",
                                  jira_project_key="DATA"),
    lambda url: DestinationConfig(type="linear", linear_api_key="k", linear_team_id="team-1"),
])
def test_every_channel_checks_before_it_calls(server, settings, cfg):
    closed = settings.model_copy(update={"outbound_allow": ""})
    result = send_alert(cfg(server.url), make_message(), closed)
    assert not result.ok and not result.retryable and "loopback" in result.error, result.error
    assert server.requests == []


def test_destination_urls_are_checked_when_saved(owner, project, default_policy):
    base = "/api/v1/projects/shop-app/alerts/destinations"
    for body, field in (
        ({"type": "webhook", "target_url": "http://169.254.169.254/latest/meta-data/iam/"}, "target_url"),
        ({"type": "webhook", "target_url": "http://127.0.0.1:8000/api/v1/users"}, "target_url"),
        ({"type": "slack", "webhook_url": "http://[::1]:9/services/T/B/X"}, "webhook_url"),
        ({"type": "jira", "jira_base_url": "http://localhost", "jira_auth_email": "a@b.io",
          "jira_api_token": "t", "jira_project_key": "DATA"}, "jira_base_url"),
    ):
        r = owner.post(base, json={"name": "x", **body})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"][-1] == field, r.text
    ok = owner.post(base, json={"name": "lan", "type": "webhook", "target_url": "http://10.20.30.40/hook"})
    assert ok.status_code == 201, ok.text


def test_channel_and_ai_endpoints_are_checked_when_saved(owner, default_policy):
    r = owner.patch("/api/v1/settings", json={"ai": {"ai_base_url": "http://169.254.169.254/v1"}})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "ai", "ai_base_url"], r.text
    r = owner.patch("/api/v1/settings", json={"observability": {"slack_api_base_url": "http://127.0.0.1:9/api/"}})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "slack_api_base_url", r.text


def test_warehouse_hosts_are_checked_when_saved_and_before_connecting(owner, default_policy):
    r = owner.post("/api/v1/data-sources", json={"name": "meta", "db_type": "postgres", "host": "169.254.169.254",
                                                 "database_name": "x"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "host", r.text
    r = owner.post("/api/v1/data-sources", json={"name": "bq", "db_type": "bigquery", "host": "my-project",
                                                 "database_name": "ds",
                                                 "extra_params": {"api_endpoint": "http://127.0.0.1:9050"}})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-2:] == ["extra_params", "api_endpoint"], r.text
    for db_type, port in ((DBType.postgres, 5432), (DBType.clickhouse, 8123)):
        adapter = connect(ConnectionConfig(db_type=db_type, host="127.0.0.1", port=port, database="x"))
        with pytest.raises(WarehouseUnavailable, match="loopback"):
            adapter.test_connection()


def test_the_ai_endpoint_is_checked_before_the_call(server, default_policy):
    eff = EffectiveSettings(values={"ai_enabled": True, "ai_base_url": f"{server.url}/v1", "ai_model": "m",
                                    "ai_api_key": None, "ai_timeout_seconds": 2, "ai_max_output_tokens": 5},
                            sources={}, base=Settings())
    with pytest.raises(UpstreamError, match="not allowed.*loopback"):
        ai_client.chat(eff, "s", "u")
    assert server.requests == []


def test_validate_accepts_names_that_do_not_resolve_here():
    outbound.validate_url("target_url", "https://hooks.example.invalid/x", Settings(outbound_allow=""))
    with pytest.raises(Invalid):
        outbound.validate_url("target_url", "http://[fe80::1]/x", Settings())
    assert ipaddress.ip_address("::1") in outbound.LOOPBACK[1]


def test_refused_transport_error_is_an_httpx_error():
    assert issubclass(outbound.OutboundRefused, httpx.HTTPError)


def _self_signed(tmp_path, name: str):
    """A certificate for `name` (and the key), made with cryptography; the client trusts only it."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_pinned_https_still_verifies_the_configured_name(server, tmp_path, monkeypatch):
    """Connecting to the checked IP must not weaken TLS: the certificate is verified against the URL's name."""
    import ssl

    cert, key = _self_signed(tmp_path, "hooks.tls.test")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    server.httpd.socket = tls.wrap_socket(server.httpd.socket, server_side=True)
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host in ("hooks.tls.test", "other.tls.test"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    trust = ssl.create_default_context(cafile=str(cert))
    allow = Settings(outbound_allow="127.0.0.1/32")
    with outbound.client(allow, verify=trust) as http:
        assert http.post(f"https://hooks.tls.test:{server.port}/in", json={}).status_code == 200
    with outbound.client(allow, verify=trust) as http, pytest.raises(httpx.ConnectError, match="certificate"):
        http.post(f"https://other.tls.test:{server.port}/in", json={})  # the name the certificate lacks


def test_smtp_host_is_checked_when_saved_and_before_sending(owner, settings, default_policy):
    r = owner.patch("/api/v1/settings", json={"email": {"smtp_host": "169.254.169.254"}})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "email", "smtp_host"], r.text
    with socket.socket() as s:  # a real SMTP-less port on loopback: the policy refuses before any connect
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    closed = settings.model_copy(update={"outbound_allow": "", "smtp_host": "127.0.0.1", "smtp_port": port})
    result = send_alert(DestinationConfig(type="email", email_recipients="a@example.com"), make_message(), closed)
    assert not result.ok and not result.retryable and "loopback" in result.error, result.error


def test_the_demo_allows_only_what_it_needs(monkeypatch):
    from tripl_core.cli import _allow_demo_outbound

    monkeypatch.setenv("TRIPL_WEBHOOK_SINK_PORT", "18787")
    reset_settings_cache()
    env = {"TRIPL_OUTBOUND_ALLOW": "10.0.0.0/8"}
    _allow_demo_outbound(env)
    _allow_demo_outbound(env)  # idempotent
    assert env["TRIPL_OUTBOUND_ALLOW"] == "10.0.0.0/8,127.0.0.1:18787"  # the webhook sink, nothing else
    embedded: dict[str, str] = {}  # the embedded app database is a Unix socket: nothing more
    _allow_demo_outbound(embedded, "postgresql+psycopg://tripl@/tripl?host=/tmp/tripl-pg")
    policy = outbound.Policy(allow=outbound.parse_cidrs(embedded["TRIPL_OUTBOUND_ALLOW"]))
    assert policy.refusal("127.0.0.1", 18787) is None
    assert policy.refusal("127.0.0.1", 8000) and policy.refusal("127.0.0.2", 18787) and policy.refusal("::1", 18787)
    tcp: dict[str, str] = {}  # an app database on loopback over TCP hosts the demo warehouse too
    _allow_demo_outbound(tcp, "postgresql://u:p@127.0.0.2:5433/tripl")
    assert tcp["TRIPL_OUTBOUND_ALLOW"] == "127.0.0.1:18787,127.0.0.2:5433"
    remote: dict[str, str] = {}
    _allow_demo_outbound(remote, "postgresql://u:p@10.1.2.3:5432/tripl")
    assert remote["TRIPL_OUTBOUND_ALLOW"] == "127.0.0.1:18787"
    reset_settings_cache()


def test_rules_limited_to_one_port():
    policy = outbound.Policy(allow=outbound.parse_cidrs("127.0.0.1:8787, [::1]:9000"),
                             deny=outbound.parse_cidrs("10.0.0.5:22"))
    assert policy.refusal("127.0.0.1", 8787) is None and policy.refusal("::1", 9000) is None
    assert "127.0.0.1:8000" in policy.refusal("127.0.0.1", 8000)  # tripl's own API: still refused
    assert policy.refusal("127.0.0.1") is None  # saved before its port is known: checked again at each call
    assert policy.refusal("10.0.0.5", 22) and policy.refusal("10.0.0.5", 5432) is None
    with pytest.raises(ValueError, match="optionally with a port"):
        outbound.parse_cidrs("127.0.0.1:99999")
    assert Settings(outbound_allow="127.0.0.1:8787,[::1]:8787,10.0.0.0/8").outbound_allow
