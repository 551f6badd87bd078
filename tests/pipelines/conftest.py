"""Pipeline fixtures: the crafted raw events (tests/pipelines/data.py) in a Postgres `pipe_warehouse` database
on the test server and in chdb, a project with the matching plan, and scan configs over either warehouse.

chdb allows one engine path per process: if another test area already opened one, it is reused.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.conftest import SCRATCH
from tests.pipelines.data import PLAN_FIELDS, make_rows
from tests.warehouse_db import create_warehouse_db

BASE = "/api/v1/projects/shop-app"


@pytest.fixture
def inprocess(monkeypatch):
    """Scan jobs run by the API's in-process executor (no Dagster), as `TRIPL_SCAN_EXECUTOR=inprocess` does."""
    from tripl_core.settings import reset_settings_cache

    monkeypatch.setenv("TRIPL_SCAN_EXECUTOR", "inprocess")
    reset_settings_cache()
    yield
    reset_settings_cache()


@pytest.fixture(scope="session")
def raw_rows() -> pd.DataFrame:
    return make_rows()


@pytest.fixture(scope="session")
def pipe_pg(pg_server_url: str, raw_rows: pd.DataFrame) -> dict:
    # through a read-only role, as data sources should connect (tests/warehouse_db.py)
    return create_warehouse_db(
        pg_server_url, "pipe_warehouse", "create table pipe_events (ts timestamptz not null, event_type text not "
        "null, name text not null, app_version text, props jsonb not null)", "pipe_events", raw_rows)


@pytest.fixture(scope="session")
def pipe_chdb(raw_rows: pd.DataFrame) -> str:
    from tripl_core.warehouse import ConnectionConfig, DBType, connect
    from tripl_core.warehouse.clickhouse import opened_chdb_path

    opened = opened_chdb_path()
    host = f"chdb://{opened}" if opened else f"chdb://{SCRATCH / 'chdb'}"
    adapter = connect(ConnectionConfig(db_type=DBType.clickhouse, host=host, database="default"))
    client = adapter.client
    client.command("DROP TABLE IF EXISTS pipe_events")
    client.command("CREATE TABLE pipe_events (ts DateTime('UTC'), event_type String, name String, "
                   "app_version String, props String) ENGINE = MergeTree ORDER BY ts")
    client.insert_df("pipe_events", raw_rows.assign(ts=raw_rows["ts"].dt.tz_convert(None)))
    return host


@pytest.fixture
def plan(owner: TestClient, project: dict) -> dict:
    r = owner.post(f"{BASE}/event-types", json={"name": "screen_view", "display_name": "Screen view",
                                                 "field_definitions": PLAN_FIELDS})
    assert r.status_code == 201, r.text
    et = r.json()
    events = {}
    for name in ("home", "search", "cart"):
        r = owner.post(f"{BASE}/events", json={"event_type_id": et["id"], "name": name, "status": "live",
                                                 "field_values": [{"field_name": "platform", "value": "ios"}]})
        assert r.status_code == 201, r.text
        events[name] = r.json()
    return {"event_type": et, "events": events}


def _source(owner: TestClient, kind: str, pipe_pg: dict | None, chdb_host: str | None) -> dict:
    if kind == "postgres":
        body = {"name": "pipe pg", "db_type": "postgres", "host": pipe_pg["host"], "port": pipe_pg["port"],
                "database_name": pipe_pg["database"], "username": pipe_pg["username"],
                "password": pipe_pg["password"]}
    else:
        body = {"name": "pipe ch", "db_type": "clickhouse", "host": chdb_host, "database_name": "default"}
    r = owner.post("/api/v1/data-sources", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def judge_after_a_week(owner: TestClient) -> None:
    """The project's warm-up set to a week of these hourly buckets (168): the crafted rows span ten days, and the
    project default (672, a week of the default 15-minute interval) would still be learning on the last one."""
    r = owner.patch(f"{BASE}/anomaly-settings", json={"min_history_buckets": 168})
    assert r.status_code == 200, r.text


def make_config(owner: TestClient, source: dict, **overrides) -> dict:
    body = {"data_source_id": source["id"], "name": f"events {source['db_type']}",
            "base_query": "SELECT * FROM pipe_events", "event_type_column": "event_type", "time_column": "ts",
            "event_name_format": "{name}", "json_value_paths": ["props.price"],
            "distribution_drift_fields": ["props.price"], "metric_breakdown_columns": ["props.platform"],
            "app_version_column": "app_version", "interval": "1h", "replay_chunk_interval": "6h", **overrides}
    r = owner.post(f"{BASE}/scans", json=body)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture(params=["postgres", "clickhouse"])
def scan(request, owner: TestClient, plan: dict) -> Iterator[dict]:
    """A scan config over the crafted rows in Postgres or chdb."""
    if request.param == "postgres":
        source = _source(owner, "postgres", request.getfixturevalue("pipe_pg"), None)
    else:
        source = _source(owner, "clickhouse", None, request.getfixturevalue("pipe_chdb"))
    judge_after_a_week(owner)
    yield make_config(owner, source)


@pytest.fixture
def pg_scan(owner: TestClient, plan: dict, pipe_pg: dict) -> dict:
    return make_config(owner, _source(owner, "postgres", pipe_pg, None))
