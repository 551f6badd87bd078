"""Alerting API fixtures: a project with a small plan, a scan config, findings written straight into the
findings tables (as a scan would), and a local webhook receiver (tests.alerting.helpers.FakeServer)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from tests.alerting.helpers import FakeServer
from tests.alerting_api.helpers import BASE, World, make_world


@pytest.fixture
def hook() -> Iterator[FakeServer]:
    srv = FakeServer()
    yield srv
    srv.close()


@pytest.fixture
def world(owner: TestClient, project: dict, db) -> World:
    return make_world(owner, db)


@pytest.fixture
def webhook_dest(owner: TestClient, hook: FakeServer, project: dict) -> dict:
    r = owner.post(f"{BASE}/alerts/destinations", json={
        "type": "webhook", "name": "ops hook", "target_url": f"{hook.url}/tripl",
        "webhook_header_name": "X-Token", "webhook_header_value": "hook-secret-1"})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture
def make_rule(owner: TestClient) -> Callable[..., dict]:
    def make(dest: dict, **body) -> dict:
        r = owner.post(f"{BASE}/alerts/destinations/{dest['id']}/rules", json={"name": "volume", **body})
        assert r.status_code == 201, r.text
        return r.json()

    return make
