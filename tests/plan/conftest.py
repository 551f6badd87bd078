"""Plan fixtures: a project with an event type (screen_view) and helpers to add events."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

BASE = "/api/v1/projects/shop-app"


def add_type(client: TestClient, name: str = "screen_view", fields: list[dict] | None = None, **extra) -> dict:
    body = {"name": name, "display_name": name.replace("_", " ").title(), "field_definitions": fields or [],
            **extra}
    r = client.post(f"{BASE}/event-types", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def add_event(client: TestClient, event_type: dict, name: str, **extra) -> dict:
    r = client.post(f"{BASE}/events", json={"event_type_id": event_type["id"], "name": name, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def loc(r) -> list:
    """The loc of the first validation error of a 422 response."""
    assert r.status_code == 422, r.text
    return r.json()["detail"][0]["loc"]


@pytest.fixture
def screen_view(owner: TestClient, project: dict) -> dict:
    return add_type(owner, "screen_view", [
        {"name": "screen_name", "display_name": "Screen", "field_type": "string", "is_required": True},
        {"name": "platform", "display_name": "Platform", "field_type": "enum",
         "enum_options": ["ios", "android", "web"]},
        {"name": "load_ms", "display_name": "Load time", "field_type": "number",
         "contract_min_value": 0, "contract_max_value": 60000},
        {"name": "is_logged_in", "display_name": "Logged in", "field_type": "boolean"},
    ])
