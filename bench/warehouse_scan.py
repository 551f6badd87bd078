"""Warehouse scan overhead: the adapter's bucketed count query against the same GROUP BY written by hand.

Both engines generate N synthetic raw events themselves (chdb: `numbers()`, embedded PostgreSQL:
`generate_series`), then the two queries run alternately `--repeat` times after a warm-up and the medians are reported
(alternating spreads load from other processes over both sides).

- adapter:  `adapter.sql.bucketed_counts(base_query, "ts", 15m, start, end, group_by=[event])` run through the
  adapter (base query wrapped as a subquery, bound time parameters, read-only settings, row cap, frame result);
- baseline: the hand-written `SELECT <bucket>, event, count(*) FROM raw_events WHERE … GROUP BY …` run directly
  on the driver (chdb's own `query`, psycopg) with literal bounds.

The ratio adapter / baseline is the cost of the abstraction (goal ≤ 1.1). The one-pass scan aggregate
(`warehouse.aggregate`, with a breakdown, app versions, two observed fields) is timed for information.

    .venv/bin/python bench/warehouse_scan.py [--rows 10000000] [--repeat 5] [--only chdb|postgres]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import scratch_dir  # noqa: E402  (bench/ is on sys.path: scripts run as bench/<name>.py)

from tripl_core.warehouse import ConnectionConfig, DBType, ScanInterval, connect, parse_field_ref  # noqa: E402
from tripl_core.warehouse.aggregate import AggregateSpec, build_aggregate  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2026, 1, 2, tzinfo=UTC)
BASE = "SELECT * FROM raw_events"


def timed(fn, repeat: int) -> tuple[float, object]:
    result = fn()  # warm-up (caches, page cache)
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), result


def alternate(fns: list, repeat: int) -> tuple[list[float], object]:
    """Medians of runs taken in turn, so that load from other processes hits every side alike."""
    result = [fn() for fn in fns][0]  # warm-up
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            out = fn()
            samples[i].append(time.perf_counter() - t0)
            if i == 0:
                result = out
    return [statistics.median(x) for x in samples], result


def report(engine: str, rows: int, adapter_s: float, baselines: dict[str, float], agg_s: float,
           groups: int) -> None:
    """Ratio against the fastest hand-written run (the strictest comparison)."""
    best = min(baselines.values())
    hand = "  ".join(f"hand-written {k}={v * 1000:8.1f} ms" for k, v in baselines.items())
    print(f"{engine:9} rows={rows:>11,}  groups={groups:>5}  adapter={adapter_s * 1000:8.1f} ms  {hand}  "
          f"ratio={adapter_s / best:5.2f}  one-pass aggregate={agg_s * 1000:8.1f} ms")


def spec() -> AggregateSpec:
    return AggregateSpec(base_query=BASE, time_column="ts", interval=ScanInterval.m15, start=START, end=END,
                         event_type_column="event", breakdown_columns=["country"], breakdown_top_k=5,
                         app_version_column="app_version", fields=["amount", "country"])


def bench_chdb(rows: int, repeat: int) -> None:
    path = scratch_dir("tripl-bench-chdb-") / "engine"
    adapter = connect(ConnectionConfig(db_type=DBType.clickhouse, host=f"chdb://{path}", database="default",
                                       timeout_seconds=600))
    client = adapter.client
    t0 = time.perf_counter()
    client.command(
        "CREATE TABLE raw_events ENGINE = MergeTree ORDER BY ts AS SELECT "
        f"toDateTime('2026-01-01 00:00:00', 'UTC') + intDiv(number * 86400, {rows}) AS ts, "
        "concat('e', toString(number % 40)) AS event, ['US','DE','FR','JP','BR','IN','CA'][number % 7 + 1] "
        "AS country, concat('1.', toString(number % 5)) AS app_version, "
        f"if(number % 11 = 0, NULL, toFloat64(number % 1000)) AS amount FROM numbers({rows})")
    print(f"chdb: generated {rows:,} rows in {time.perf_counter() - t0:.1f} s")
    query = adapter.sql.bucketed_counts(BASE, "ts", ScanInterval.m15, START, END,
                                        group_by=[parse_field_ref("event", "bench")])
    hand = ("SELECT toStartOfInterval(ts, INTERVAL 15 MINUTE) AS bucket, event, count() AS count FROM raw_events "
            "WHERE ts >= toDateTime('2026-01-01 00:00:00', 'UTC') AND ts < toDateTime('2026-01-02 00:00:00', 'UTC') "
            "GROUP BY bucket, event ORDER BY bucket, event")
    import chdb

    raw = chdb.connect(str(path))  # chdb's own API on the same engine: no settings, binding or conversion
    (adapter_s, engine_s, driver_s), df = alternate([
        lambda: adapter.query_df(query),
        lambda: raw.query(hand, "DataFrame"),  # chdb's own API
        lambda: client.query_df(hand),  # the same driver, without wrapper, parameters or settings
    ], repeat)
    agg = build_aggregate(adapter.sql, spec())
    agg_s, _ = timed(lambda: agg.split(adapter.query_df(agg.query)), max(1, repeat // 2))
    report("chdb", rows, adapter_s, {"(chdb API)": engine_s, "(driver)": driver_s}, agg_s, len(df))


def bench_postgres(rows: int, repeat: int) -> None:
    import pgserver
    import psycopg

    srv = pgserver.get_server(str(scratch_dir("tripl-bench-pg-")), cleanup_mode="stop")
    uri = srv.get_uri()
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("create database warehouse")
    wh = uri.replace("/postgres?", "/warehouse?")
    t0 = time.perf_counter()
    with psycopg.connect(wh, autocommit=True) as conn:
        conn.execute(
            "create table raw_events as select timestamptz '2026-01-01 00:00:00+00' "
            "+ (i * 86400000000::bigint / %(n)s) * interval '1 microsecond' as ts, 'e' || (i %% 40) as event, "
            "(array['US','DE','FR','JP','BR','IN','CA'])[i %% 7 + 1] as country, '1.' || (i %% 5) as app_version, "
            "case when i %% 11 = 0 then null else (i %% 1000)::float8 end as amount "
            "from generate_series(0, %(n)s - 1) as i", {"n": rows})
        conn.execute("vacuum analyze raw_events")
    print(f"postgres: generated {rows:,} rows in {time.perf_counter() - t0:.1f} s")
    host = uri.split("host=")[1].split("&")[0]
    adapter = connect(ConnectionConfig(db_type=DBType.postgres, host=host, port=5432, database="warehouse",
                                       username="postgres", timeout_seconds=600))
    query = adapter.sql.bucketed_counts(BASE, "ts", ScanInterval.m15, START, END,
                                        group_by=[parse_field_ref("event", "bench")])
    hand = ("SELECT date_bin('900 seconds', ts, '1970-01-01 00:00:00') AS bucket, event, count(*) AS count "
            "FROM raw_events WHERE ts >= '2026-01-01 00:00:00+00' AND ts < '2026-01-02 00:00:00+00' "
            "GROUP BY bucket, event ORDER BY bucket, event")

    def baseline():
        with psycopg.connect(wh, options="-c TimeZone=UTC") as conn:
            return conn.execute(hand).fetchall()

    (adapter_s, base_s), df = alternate([lambda: adapter.query_df(query), baseline], repeat)
    agg = build_aggregate(adapter.sql, spec())
    agg_s, _ = timed(lambda: agg.split(adapter.query_df(agg.query)), max(1, repeat // 2))
    report("postgres", rows, adapter_s, {"(psycopg)": base_s}, agg_s, len(df))
    srv.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=["chdb", "postgres"])
    args = parser.parse_args()
    if args.only in (None, "chdb"):
        bench_chdb(args.rows, args.repeat)
    if args.only in (None, "postgres"):
        bench_postgres(args.rows, args.repeat)


if __name__ == "__main__":
    main()
