"""Helpers of the foundation API tests."""

from __future__ import annotations

from fastapi.testclient import TestClient


def mint_key(client: TestClient, name: str = "k", scope: str = "read", **extra: object) -> dict:
    """Create an API key as `client`'s user; returns the Create Api Key response (with `token`)."""
    r = client.post("/api/v1/api-keys", json={"name": name, "scope": scope, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
