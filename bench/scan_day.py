"""One 10M-row day (issue 16 point 8): tripl's scan vs the warehouse's own time vs the peer way, side by side.

For PostgreSQL and embedded ClickHouse (chdb) it generates N rows (default 10M, in SQL) over one day — JSON
properties, 5 event names, 3 app versions, no index on the time column — and measures in the same run:

(a) tripl: the statements the scan compiles for the day (newest-data probe, the one-pass aggregate, the sample),
    run through tripl's warehouse client (result frames included); and the whole day partition
    (`steps.run_day`: those statements plus plan mapping, scoring, findings and every write to PostgreSQL);
(b) the warehouse alone: the same compiled statements (same SQL, parameters and per-statement settings) run with
    the bare driver (psycopg; chdb through clickhouse-connect's `query`, rows only);
(c) the peer way on the same rows: one query per monitor as Elementary runs them — a volume query per event name
    (rows per 15-minute bucket of that name) and a null-rate / type query per contracted field (rows, nulls and
    wrong JSON types per bucket), for the same declared fields the tripl scan observes.

Goals: (a) statements ≤ 1.3 × (b), and tripl ≥ 3 × faster than (c). Each figure is the best of `--repeat` runs
(default 2) after one warm-up; the load average is printed beside them.

    .venv/bin/python bench/scan_day.py [--rows 10000000] [--only postgres|clickhouse] [--repeat 2]

Figures, 10M rows, 2026-12-04 (2 shared CPUs; all runs in docs/pipelines.md "Speed"): PostgreSQL 23:14, load
5.0–6.7: bare 17.45 s, tripl statements 16.86 s (0.97 ×), whole day partition 22.06 s, peer 37.61 s (2.23 × the
statements: the 3 × goal is not met); chdb 23:21, load 6.4–6.8: bare 12.94 s, tripl statements 11.25 s (0.87 ×),
whole day 12.13 s, peer 13.84 s (1.23 ×: not met). Before (main 069d04e, chdb 22:47, load 8.5–10.7): tripl
statements 1.54 × bare, peer 0.80 × tripl.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import scratch_dir  # noqa: E402
from scan_overhead import DAY, fresh_db, scan_config, server_url, setup_app, warehouse_sources  # noqa: E402

NAMES = ("home", "search", "cart", "checkout", "profile")


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def peer_queries(dialect: str, labels: list[str]) -> list[tuple[str, dict]]:
    """Elementary-style monitors: a volume query per event name, a null-rate / type query per field."""
    end = DAY.replace(day=DAY.day + 1)
    out: list[tuple[str, dict]] = []
    if dialect == "postgres":
        bucket = "date_bin('900 seconds', ts, timestamptz '1970-01-01 00:00:00+00')"
        where = "ts >= %(s)s AND ts < %(e)s"
        for n in NAMES:
            out.append((f"SELECT {bucket} AS b, count(*) FROM raw_events WHERE {where} AND event_type = "
                        f"'screen_view' AND name = %(n)s GROUP BY 1", {"s": DAY, "e": end, "n": n}))
        for label in labels:
            key = label.split(".", 1)[1]
            node = f"(props -> '{key}')"
            out.append((f"SELECT {bucket} AS b, count(*) AS n, count(*) FILTER (WHERE {node} IS NULL OR "
                        f"jsonb_typeof({node}) = 'null') AS nulls, count(*) FILTER (WHERE jsonb_typeof({node}) "
                        f"NOT IN ('null', 'number', 'string')) AS wrong_type FROM raw_events WHERE {where} "
                        "GROUP BY 1", {"s": DAY, "e": end}))
    else:
        bucket = "toStartOfInterval(ts, INTERVAL 15 MINUTE)"
        where = "ts >= {s:DateTime} AND ts < {e:DateTime}"
        for n in NAMES:
            out.append((f"SELECT {bucket} AS b, count() FROM raw_events WHERE {where} AND event_type = "
                        "'screen_view' AND name = {n:String} GROUP BY b", {"s": DAY, "e": end, "n": n}))
        for label in labels:
            key = label.split(".", 1)[1]
            out.append((f"SELECT {bucket} AS b, count() AS n, countIf(NOT JSONHas(props, '{key}') OR "
                        f"JSONType(props, '{key}') = 'Null') AS nulls, countIf(JSONType(props, '{key}') NOT IN "
                        f"('Null', 'Int64', 'UInt64', 'Double', 'String')) AS wrong_type FROM raw_events WHERE "
                        f"{where} GROUP BY b", {"s": DAY.replace(tzinfo=None), "e": end.replace(tzinfo=None)}))
    return out


def measure(client, source: dict, repeat: int) -> dict[str, float]:
    from tripl_core.db.models.sources import DataSource
    from tripl_core.db.session import new_session
    from tripl_core.scanning import passes, steps
    from tripl_core.scanning.planmap import PlanIndex
    from tripl_core.sources.data_sources import adapter_for
    from tripl_core.warehouse.postgres import _bind

    cfg = scan_config(client, source)
    end = DAY.replace(day=DAY.day + 1)

    def run_day() -> None:
        with new_session() as db:
            steps.run_day(db, steps.load_config(db, cfg["id"]), DAY, end)
            db.commit()

    run_day()  # the config's first scan (freezes histogram bins); warms caches for every side alike
    statements = []
    with new_session() as db:
        row = steps.load_config(db, cfg["id"])
        adapter = adapter_for(db.get(DataSource, source["id"]))
        real = adapter.query_df

        def record(query):
            statements.append(query)
            return real(query)

        adapter.query_df = record
        steps.warehouse_aggregates(db, row, DAY, end, adapter=adapter)
        db.rollback()
        labels = passes.field_plan(row, PlanIndex.load(db, row.project_id)).refs
    adapter.query_df = real
    is_pg = source["db_type"] == "postgres"

    def tripl_statements() -> None:
        for q in statements:
            adapter.query_df(q)

    if is_pg:
        url = adapter._connect  # noqa: SLF001 — the same connection settings, then the bare driver

        def run_bare(queries: list) -> None:
            for q in queries:
                with url() as conn:
                    for name, value in (q.settings or {}).items():
                        conn.execute("SELECT set_config(%s, %s, true)", (name, value))
                    conn.execute(q.sql, _bind(q.params)).fetchall()

        peers = peer_queries("postgres", labels)

        def peer() -> None:
            for sql, params in peers:
                with url() as conn:
                    conn.execute(sql, params).fetchall()
    else:
        raw = adapter.client

        def run_bare(queries: list) -> None:
            for q in queries:
                params = {k: v.replace(microsecond=0) for k, v in (q.params or {}).items()}
                raw.query(q.sql, parameters=params or None).result_rows  # noqa: B018

        peers = peer_queries("clickhouse", labels)

        def peer() -> None:
            for sql, params in peers:
                raw.query(sql, parameters=params).result_rows  # noqa: B018

    def bare() -> None:
        run_bare(statements)

    out = {"statements": len(statements), "peer_queries": len(peers)}
    for kind, q in zip(("newest-data probe", "aggregate", "sample"), statements, strict=False):
        t_bare = best(lambda q=q: run_bare([q]), repeat)  # where the warehouse's time goes, statement by statement
        t_tripl = best(lambda q=q: adapter.query_df(q), repeat)
        print(f"  {source['db_type']:10s} {kind:18s} bare {t_bare:6.2f} s, through tripl's client {t_tripl:6.2f} s",
              flush=True)
    for name, fn in (("bare", bare), ("tripl", tripl_statements), ("peer", peer), ("day", run_day)):
        out[name] = best(fn, repeat)
        print(f"  {source['db_type']:10s} {name:6s} {out[name]:7.2f} s   (load {os.getloadavg()[0]:.1f})",
              flush=True)
    adapter.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--only", choices=["postgres", "clickhouse"])
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    tmp = scratch_dir("tripl-bench-day-")
    server = server_url(tmp)
    client = setup_app(fresh_db(server, "bench_app"))
    results = {name: measure(client, source, args.repeat)
               for name, source in warehouse_sources(client, server, tmp, args.rows, args.only)}
    print(f"\none day, {args.rows:,} raw rows; goals: tripl statements ≤ 1.3 × bare, peer ≥ 3 × tripl "
          f"(load average {os.getloadavg()[0]:.1f})")
    for name, r in results.items():
        print(f"  {name:10s} (b) bare {r['bare']:6.2f} s ({r['statements']} statements) | (a) tripl statements "
              f"{r['tripl']:6.2f} s ({r['tripl'] / r['bare']:4.2f} × bare), whole day partition {r['day']:6.2f} s "
              f"({r['day'] / r['bare']:4.2f} × bare) | (c) peer {r['peer']:6.2f} s ({r['peer_queries']} queries): "
              f"{r['peer'] / r['tripl']:4.2f} × tripl statements, {r['peer'] / r['day']:4.2f} × whole partition")


if __name__ == "__main__":
    main()
