"""Scan overhead: materialising one day partition through the Dagster assets vs the bare GROUP BY on the same rows.

For each warehouse (PostgreSQL and embedded ClickHouse/chdb) it loads N raw rows (default 10M) spread over one
day (JSON properties, 5 event names, 3 app versions), then measures in the same run:

- baseline: `SELECT bucket, event_type, event_name, count(*) … GROUP BY` (15-minute buckets) — the least any
  volume monitor must read;
- tripl: `dagster.materialize` of every scan asset for the (scan config, day) partition — the one-pass aggregate
  (counts, platform breakdown, app versions, presence/type of 3 declared JSON fields, a price histogram) and the
  sample, plus plan mapping, scoring, findings and every write to Postgres.

It materialises twice — the config's first scan (which samples before aggregating: its sample sets the histogram
bins, and a COUNT(*) sizes the sample's pre-filter) and again as scheduled runs and replays do (the aggregate first,
its row count sizing the sample) — then runs the same steps once more without Dagster (`steps.run_day`, as the
in-process runner does), and prints the wall times and their ratios to the bare GROUP BY (goal ≤ 1.5). Everything runs in a fresh embedded PostgreSQL (or
TRIPL_BENCH_SERVER_URL, a libpq URL of a server where databases may be created).

    .venv/bin/python bench/scan_overhead.py [--rows 10000000] [--only postgres|clickhouse]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import scratch_dir  # noqa: E402  (bench/ is on sys.path: scripts run as bench/<name>.py)

DAY = datetime(2026, 3, 1, tzinfo=UTC)
NAMES = "ARRAY['home','search','cart','checkout','profile']"


def server_url(tmp: Path) -> str:
    if os.environ.get("TRIPL_BENCH_SERVER_URL"):
        return os.environ["TRIPL_BENCH_SERVER_URL"]
    import pgserver

    return pgserver.get_server(str(tmp / "pg"), cleanup_mode="stop").get_uri()


def fresh_db(server: str, name: str) -> str:
    url = make_url(server)
    with psycopg.connect(url.set(database="postgres").render_as_string(hide_password=False),
                         autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def load_postgres(url: str, n: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table raw_events (ts timestamptz not null, event_type text not null, name text not null,"
                     " app_version text, props jsonb not null)")
        conn.execute(f"""
            insert into raw_events
            select timestamptz '{DAY.isoformat()}' + (i * 86400.0 / {n}) * interval '1 second', 'screen_view',
                   ({NAMES})[1 + (i * 7) % 5], (ARRAY['1.0','1.1','2.0'])[1 + i % 3],
                   jsonb_build_object('platform', (ARRAY['ios','android','web'])[1 + (i * 3) % 3 + 0],
                                      'price', (i % 1000) / 10.0, 'load_time_ms', i % 3000)
            from generate_series(0, {n - 1}) i""")
        conn.execute("analyze raw_events")


def load_chdb(host: str, n: int) -> None:
    from tripl_core.warehouse import ConnectionConfig, DBType, connect

    client = connect(ConnectionConfig(db_type=DBType.clickhouse, host=host, database="default")).client
    client.command("DROP TABLE IF EXISTS raw_events")
    client.command("CREATE TABLE raw_events (ts DateTime('UTC'), event_type String, name String, app_version String,"
                   " props String) ENGINE = MergeTree ORDER BY ts")
    client.command(f"""
        INSERT INTO raw_events
        SELECT toDateTime('{DAY:%Y-%m-%d %H:%M:%S}', 'UTC') + intDiv(number * 86400, {n}), 'screen_view',
               arrayElement(['home','search','cart','checkout','profile'], 1 + (number * 7) % 5),
               arrayElement(['1.0','1.1','2.0'], 1 + number % 3),
               concat('{{"platform":"', arrayElement(['ios','android','web'], 1 + number % 3), '","price":',
                      toString((number % 1000) / 10), ',"load_time_ms":', toString(number % 3000), '}}')
        FROM numbers({n})""")


def setup_app(app_url: str) -> tuple:
    """Owner, project with the plan, via the API (the same path users take)."""
    os.environ["TRIPL_DATABASE_URL"] = app_url.replace("postgresql://", "postgresql+psycopg://")
    os.environ.setdefault("TRIPL_SECRET_KEY", "bench-secret-key")
    from fastapi.testclient import TestClient

    from tripl_core.db.session import reset_engines
    from tripl_core.migrations import upgrade
    from tripl_core.settings import reset_settings_cache

    reset_settings_cache()
    reset_engines()
    upgrade(os.environ["TRIPL_DATABASE_URL"])
    from tripl_api.app import create_app

    client = TestClient(create_app(), headers={"Origin": "http://testserver"})  # cookie mutations need it
    client.post("/api/v1/auth/register", json={"email": "b@example.com", "password": "correct-horse-1"})
    client.post("/api/v1/auth/login", json={"email": "b@example.com", "password": "correct-horse-1"})
    client.post("/api/v1/projects", json={"name": "Bench", "slug": "bench"})
    fields = [{"name": "platform", "display_name": "Platform", "field_type": "enum",
               "enum_options": ["ios", "android", "web"]},
              {"name": "price", "display_name": "Price", "field_type": "number"},
              {"name": "load_time_ms", "display_name": "Load", "field_type": "number", "contract_min_value": 0}]
    et = client.post("/api/v1/projects/bench/event-types", json={"name": "screen_view", "display_name": "Screen",
                                                                "field_definitions": fields}).json()
    for name in ("home", "search", "cart", "checkout"):
        client.post("/api/v1/projects/bench/events", json={"event_type_id": et["id"], "name": name})
    return client


def scan_config(client, source: dict) -> dict:
    r = client.post("/api/v1/projects/bench/scans", json={
        "data_source_id": source["id"], "name": f"bench {source['db_type']}", "base_query": "SELECT * FROM raw_events",
        "event_type_column": "event_type", "time_column": "ts", "event_name_format": "{name}",
        "json_value_paths": ["props.price"], "metric_breakdown_columns": ["props.platform"],
        "distribution_drift_fields": ["props.price"], "app_version_column": "app_version",
        "interval": "15m", "replay_chunk_interval": "1d"})
    assert r.status_code == 201, r.text
    return r.json()


def measure(client, source: dict) -> tuple[float, float, float, float]:
    import dagster as dg

    from tripl_core.db.models.sources import DataSource
    from tripl_core.db.session import new_session
    from tripl_core.sources.data_sources import adapter_for
    from tripl_core.warehouse import ScanInterval, parse_field_ref
    from tripl_pipelines.assets import SCAN_ASSETS
    from tripl_pipelines.partitions import SCAN_CONFIGS, config_key, partition_key
    from tripl_pipelines.resources import default_resources

    cfg = scan_config(client, source)
    with new_session() as db:
        adapter = adapter_for(db.get(DataSource, source["id"]))
    bare = adapter.sql.bucketed_counts("SELECT * FROM raw_events", "ts", ScanInterval.m15, DAY,
                                       DAY.replace(day=2), [parse_field_ref("event_type", "x"),
                                                            parse_field_ref("name", "x")])
    adapter.query_df(bare)  # warm caches for both sides alike
    t0 = time.perf_counter()
    groups = adapter.query_df(bare)
    base = time.perf_counter() - t0
    times = []
    with dg.DagsterInstance.ephemeral() as instance:
        with new_session() as db:
            key = config_key(db, cfg["id"])
        instance.add_dynamic_partitions(SCAN_CONFIGS.name, [key])
        for _ in range(2):  # the first scan of a config, then a re-materialisation (histogram bins frozen)
            t0 = time.perf_counter()
            result = dg.materialize(SCAN_ASSETS, instance=instance, partition_key=partition_key(key, DAY),
                                    resources=default_resources())
            times.append(time.perf_counter() - t0)
            assert result.success
    # The same work without Dagster (steps.run_day, one transaction): how much of the wall time is orchestration.
    from tripl_core.scanning import steps

    with new_session() as db:
        cfg_row = steps.load_config(db, cfg["id"])
        t0 = time.perf_counter()
        steps.run_day(db, cfg_row, DAY, DAY.replace(day=2))
        db.commit()
        times.append(time.perf_counter() - t0)
    print(f"  bare GROUP BY: {len(groups)} groups")
    return base, times[0], times[1], times[2]


def pg_source(client, wh: str) -> dict:
    """A tripl data source for the PostgreSQL database at `wh`."""
    u = make_url(wh)
    return client.post("/api/v1/data-sources", json={
        "name": "bench pg", "db_type": "postgres", "host": u.host or u.query.get("host"), "port": u.port or 5432,
        "database_name": u.database, "username": u.username or "", "password": u.password or "",
        "timeout_seconds": 600}).json()


def warehouse_sources(client, server: str, tmp: Path, rows: int, only: str | None) -> Iterator[tuple[str, dict]]:
    """Generate `rows` raw rows over DAY in PostgreSQL and in chdb (or `only` one) and yield their data sources."""
    if only in (None, "postgres"):
        wh = fresh_db(server, "bench_warehouse")
        t0 = time.perf_counter()
        load_postgres(wh, rows)
        print(f"postgres: generated {rows:,} rows in {time.perf_counter() - t0:.1f} s", flush=True)
        yield "postgres", pg_source(client, wh)
    if only in (None, "clickhouse"):
        host = f"chdb://{tmp / 'chdb'}"
        t0 = time.perf_counter()
        load_chdb(host, rows)
        print(f"chdb: generated {rows:,} rows in {time.perf_counter() - t0:.1f} s", flush=True)
        yield "clickhouse", client.post("/api/v1/data-sources", json={
            "name": "bench ch", "db_type": "clickhouse", "host": host, "database_name": "default",
            "timeout_seconds": 600}).json()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--only", choices=["postgres", "clickhouse"])
    args = ap.parse_args()
    import logging

    logging.getLogger("dagster").setLevel(logging.WARNING)
    tmp = scratch_dir("tripl-bench-scan-")
    server = server_url(tmp)
    client = setup_app(fresh_db(server, "bench_app"))
    results = {name: measure(client, source)
               for name, source in warehouse_sources(client, server, tmp, args.rows, args.only)}
    print(f"\nscan overhead, one day partition, {args.rows:,} raw rows (goal: ratio ≤ 1.5)")
    for name, (base, first, again, bare_steps) in results.items():
        print(f"  {name:10s} bare GROUP BY {base:7.2f} s   materialisation: first {first:7.2f} s (ratio "
              f"{first / base:5.2f}), again {again:7.2f} s (ratio {again / base:5.2f}); the same steps without "
              f"Dagster {bare_steps:7.2f} s (ratio {bare_steps / base:5.2f})")


if __name__ == "__main__":
    main()
