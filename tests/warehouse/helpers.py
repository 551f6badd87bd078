"""Helpers for the warehouse API tests."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

DS = "/api/v1/data-sources"


def scans_url(slug: str = "shop-app") -> str:
    return f"/api/v1/projects/{slug}/scans"


def create_source(client: TestClient, **body) -> dict:
    r = client.post(DS, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def chdb_source(client: TestClient, host: str, name: str = "embedded ch") -> dict:
    return create_source(client, name=name, db_type="clickhouse", host=host, database_name="default")


def pg_source(client: TestClient, parts: dict, name: str = "warehouse pg", **extra) -> dict:
    return create_source(client, name=name, db_type="postgres", host=parts["host"], port=parts["port"],
                         database_name=parts["database"], username=parts["username"],
                         password=parts["password"], **extra)


def unreachable_pg(client: TestClient, name: str = "down", password: str = "") -> dict:
    return create_source(client, name=name, db_type="postgres", host="127.0.0.1", port=1, database_name="x",
                         username="u", password=password, timeout_seconds=2)


def wait_job(client: TestClient, slug: str, job_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"{scans_url(slug)}/preview-jobs/{job_id}")
        assert r.status_code == 200, r.text
        job = r.json()
        if job["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def error_loc(response) -> list:
    detail = response.json()["detail"]
    assert isinstance(detail, list), detail
    return detail[0]["loc"]
