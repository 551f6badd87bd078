"""A warehouse's error never carries the source's secrets (issue 21, item 2): a real local HTTP server speaking for
ClickHouse echoes the request — headers with the basic-auth credentials included — in its error, as proxies and
misconfigured servers do; neither the adapter's error nor Test Data Source Connection may show the password."""

from __future__ import annotations

import base64

import pytest

from tests.alerting.helpers import FakeServer, Recorded, Reply
from tripl_core.warehouse import ConnectionConfig, DBType, WarehouseError, connect

PASSWORD = "ch-Secret/pass 42"


def _echo(req: Recorded) -> Reply:
    headers = "; ".join(f"{k}: {v}" for k, v in req.headers.items())
    return Reply(500, f"Code: 516. DB::Exception: refused {req.method} {req.path} ({headers}) "
                      f"body={req.body.decode(errors='replace')}", {"Content-Type": "text/plain"})


@pytest.fixture
def echo_server():
    srv = FakeServer()
    srv.handler = _echo
    yield srv
    srv.close()


def _secret_forms() -> list[str]:
    return [PASSWORD, "ch-Secret%2Fpass%2042", "ch-Secret/pass+42",
            base64.b64encode(f"analyst:{PASSWORD}".encode()).decode()]


def test_clickhouse_error_is_redacted(echo_server):
    cfg = ConnectionConfig(db_type=DBType.clickhouse, host="127.0.0.1", port=echo_server.port, database="default",
                           username="analyst", password=PASSWORD, timeout_seconds=3)
    with pytest.raises(WarehouseError) as caught:
        connect(cfg).test_connection()
    message = str(caught.value)
    assert echo_server.requests, "the adapter reached the server"
    assert "refused" in message or "516" in message, message  # the reason survives
    for form in _secret_forms():
        assert form not in message, message


def test_test_connection_response_is_redacted(owner, echo_server):
    r = owner.post("/api/v1/data-sources", json={
        "name": "echo ch", "db_type": "clickhouse", "host": "127.0.0.1", "port": echo_server.port,
        "database_name": "default", "username": "analyst", "password": PASSWORD, "timeout_seconds": 3})
    assert r.status_code == 201, r.text
    tested = owner.post(f"/api/v1/data-sources/{r.json()['id']}/test")
    assert tested.status_code == 200, tested.text
    assert tested.json()["success"] is False
    shown = tested.text + owner.get(f"/api/v1/data-sources/{r.json()['id']}").text
    for form in _secret_forms():
        assert form not in shown, shown
