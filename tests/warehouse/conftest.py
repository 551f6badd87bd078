"""Warehouse fixtures: one embedded chdb engine per test process, a `warehouse` database on the test PostgreSQL
server, and a fake BigQuery server. All three hold the same synthetic raw events (`events_frame`).

chdb allows one engine path per process: every chdb data source in these tests uses `chdb_host`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from tests.conftest import SCRATCH
from tests.warehouse_db import create_warehouse_db
from tripl_core.warehouse import ConnectionConfig, DBType, connect
from tripl_core.warehouse.clickhouse import opened_chdb_path

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
N_ROWS = 2000
START = datetime(2026, 1, 1, tzinfo=UTC)
COUNTRIES = ["US"] * 8 + ["DE"] * 4 + ["FR"] * 2 + ["JP", "BR", "IN", "CA"]


def make_events() -> pd.DataFrame:
    """Deterministic raw events: 37 s apart over ~20.5 h, 5 event names, skewed countries, JSON properties."""
    i = range(N_ROWS)
    props = [json.dumps({"screen": f"s{k % 4}", "price": float(k % 100), "nested": {"flag": bool(k % 2)},
                         **({"maybe": None} if k % 10 == 0 else {}), **({"opt": k} if k % 3 == 0 else {})})
             for k in i]
    return pd.DataFrame({
        "ts": [START + timedelta(seconds=37 * int(k)) for k in i],
        "event": [f"e{k % 5}" for k in i],
        "country": [COUNTRIES[k % len(COUNTRIES)] for k in i],
        "app_version": [f"1.{k % 3}" for k in i],
        "amount": [None if k % 7 == 0 else float(k % 50) for k in i],
        "props": props,
    })


@pytest.fixture(scope="session")
def events_frame() -> pd.DataFrame:
    return make_events()


@pytest.fixture(scope="session")
def chdb_host() -> str:
    """The process's chdb engine: the one another test area opened already, else a fresh directory."""
    opened = opened_chdb_path()
    return f"chdb://{opened}" if opened else f"chdb://{SCRATCH / 'chdb'}"


@pytest.fixture(scope="session")
def ch_adapter(chdb_host: str, events_frame: pd.DataFrame):
    adapter = connect(ConnectionConfig(db_type=DBType.clickhouse, host=chdb_host, database="default"))
    client = adapter.client
    client.command("DROP TABLE IF EXISTS events")
    client.command("CREATE TABLE events (ts DateTime('UTC'), event String, country String, app_version String, "
                   "amount Nullable(Float64), props String) ENGINE = MergeTree ORDER BY ts")
    client.insert_df("events", events_frame.assign(ts=events_frame["ts"].dt.tz_convert(None)))
    return adapter


@pytest.fixture(scope="session")
def pg_warehouse(pg_server_url: str, events_frame: pd.DataFrame) -> Iterator[dict]:
    """A `warehouse` database with the events table; yields connection parts for ConnectionConfig."""
    name = "warehouse" if WORKER == "main" else f"warehouse_{WORKER}"  # xdist workers may share a server
    yield create_warehouse_db(
        pg_server_url, name, "create table events (ts timestamptz not null, event text not null, "
        "country text not null, app_version text not null, amount double precision, props jsonb not null)",
        "events", events_frame)


@pytest.fixture(scope="session")
def pg_adapter(pg_warehouse: dict):
    return connect(pg_config(pg_warehouse))


def pg_config(parts: dict, **overrides) -> ConnectionConfig:
    values = {"db_type": DBType.postgres, "host": parts["host"], "port": parts["port"], "database": parts["database"],
              "username": parts["username"], "password": parts["password"]}
    values.update(overrides)
    return ConnectionConfig(**values)
