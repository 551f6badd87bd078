"""Findings API latency: series, signals and heatmap on a project of 1,000 events × 90 days of 15-minute buckets.

Starts an embedded PostgreSQL and the API (uvicorn, one process, as `tripl up` runs it), creates a project with
`--events` events over HTTP, then bulk-inserts the scans' output in SQL with generate_series: one metric point
per event (and for the event type and the project total) per 15-minute bucket over `--days` days ending now
(8.7 M rows at the defaults), a sprinkling of scored anomalies, open/closed anomaly signals, and the stored
forecast band per scope the scan's event_metrics step writes (`tripl_core.scanning.forecasts.refresh_forecasts`,
the same computation from the same rows); then VACUUM ANALYZE (what autovacuum does after a bulk load: index-only
scans need the visibility map). Then
`--clients` concurrent clients run each scenario for `--seconds`, twice: closed loop (each sends its next
request when the last one answered: saturation, where one worker's queue sets the latency) and paced (each sends
one request every `--interval` seconds: people watching dashboards, where the p99 goal applies). Every request
picks a random event, so the cache sees the whole table.

Scenarios (defaults of each operation: a 7-day series = 672 points, a 28-day heatmap = 2,688 buckets):
Get Event Metrics, Get Project Total Metrics, Get Active Signals, Query Active Signals (50 event ids),
Get Seasonality Heatmap (event). Baseline in the same run: /healthz (no auth, no database) and Get Me (auth +
one lookup), the floor any authenticated request pays; every row prints its p99 as a multiple of Get Me's, and
the load average is printed before and after (the machine may be shared). Goal: p99 ≤ 100 ms (paced).
`--no-stored-forecasts` leaves metric_forecasts empty: series reads then compute the band (configs scanned before
bands were stored). `--baseline-tree DIR` also runs another revision's API (a checkout: `mkdir DIR && git archive
HEAD | tar -x -C DIR`) on the same database and runs every scenario against both, alternating which goes first:
before/after figures under the same load.

    .venv/bin/python bench/findings_latency.py [--events 1000] [--days 90] [--clients 20] [--seconds 10]
        [--interval 1.0] [--no-stored-forecasts] [--baseline-tree DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from _common import (
    ROOT,
    free_port,
    load_average,
    start_api,
    start_database,
    stop_api,
    stop_database,
    wait_ready,
)

SEED_SQL = """
with b as (select generate_series(%(start)s, %(end)s - interval '15 minutes', interval '15 minutes') as bucket),
     e as (select id, row_number() over (order by id) as rn from events where branch_id = %(branch)s)
insert into metric_points (scan_config_id, scope_type, scope_ref, bucket, count, expected, lower, upper, z,
                           is_anomaly, direction)
select %(cfg)s, 'event', e.id, b.bucket, c.count, x.expected, greatest(x.expected - 3 * sqrt(x.expected), 0),
       x.expected + 3 * sqrt(x.expected), (c.count - x.expected) / sqrt(x.expected),
       c.count > 5 * x.expected, case when c.count > 5 * x.expected then 'spike' end
from b cross join e,
lateral (select 20 + 15 * sin(2 * pi() * extract(hour from b.bucket) / 24 + e.rn) as expected) x,
lateral (select (x.expected + case when random() < 0.001 then 10 * x.expected else 0 end)::bigint as count) c
"""

TOTALS_SQL = """
insert into metric_points (scan_config_id, scope_type, scope_ref, bucket, count, expected, lower, upper, z,
                           is_anomaly, direction)
select scan_config_id, %(scope_type)s, %(ref)s, bucket, sum(count), sum(expected), sum(lower), sum(upper),
       null, false, null
from metric_points where scope_type = 'event' group by scan_config_id, bucket
"""

SIGNALS_SQL = """
insert into anomaly_signals (id, project_id, scan_config_id, scope_type, scope_ref, event_type_id, status,
                             direction, since, bucket, bucket_count, actual, expected, lower, upper, z, peak_z,
                             closed_at, forecast, created_at, updated_at)
select gen_random_uuid(), %(project)s, scan_config_id, 'event', scope_ref, %(event_type)s,
       case when bucket > %(end)s - interval '1 day' then 'open' else 'closed' end::anomaly_signal_status,
       'spike', bucket, bucket, 1, count, expected, lower, upper, z, z, null, '[]', now(), now()
from metric_points where is_anomaly and scope_type = 'event'
on conflict do nothing
"""


def seed(base: str, url: str, n_events: int, days: int, stored_forecasts: bool = True) -> dict:
    """Owner, project, event type and events over HTTP; scan outputs in SQL. Returns ids and cookies."""
    import psycopg
    from sqlalchemy.engine import make_url

    with httpx.Client(base_url=base, timeout=120, headers={"Origin": base}) as c:  # cookie mutations need it
        c.post("/api/v1/auth/register", json={"email": "owner@bench.example.com", "password": "bench-password",
                                              "name": "Bench Owner"}).raise_for_status()
        c.post("/api/v1/auth/login", json={"email": "owner@bench.example.com",
                                           "password": "bench-password"}).raise_for_status()
        cookies = dict(c.cookies)
        p = c.post("/api/v1/projects", json={"name": "Findings", "slug": "findings"})
        p.raise_for_status()
        project = p.json()
        et = c.post("/api/v1/projects/findings/event-types", json={"name": "screen_view",
                                                                    "display_name": "Screen view"})
        et.raise_for_status()
        event_ids: list[str] = []
        for chunk in range(0, n_events, 500):
            r = c.post("/api/v1/projects/findings/events/bulk", json=[
                {"event_type_id": et.json()["id"], "name": f"event_{i:05d}", "status": "live"}
                for i in range(chunk, min(chunk + 500, n_events))])
            r.raise_for_status()
            event_ids += [e["id"] for e in r.json()]
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    t0 = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        branch = conn.execute("select id from plan_branches where project_id = %s and kind = 'main'",
                              (project["id"],)).fetchone()[0]
        ds = conn.execute("insert into data_sources (id, name, db_type, host, port, database_name, username, "
                          "timeout_seconds, extra_params, created_at, updated_at) values (gen_random_uuid(), "
                          "'bench', 'postgres', 'localhost', 5432, 'wh', '', 30, '{}', now(), now()) returning id"
                          ).fetchone()[0]
        cfg = conn.execute(
            "insert into scan_configs (id, project_id, data_source_id, name, base_query, json_value_paths, "
            "event_group_rules, metric_breakdown_columns, distribution_drift_fields, cardinality_threshold, "
            "interval, replay_chunk_interval, verification_status, created_at, updated_at) values "
            "(gen_random_uuid(), %s, %s, 'bench', 'select 1', '[]', '[]', '[]', '[]', 100, '15m', '1h', "
            "'verified', now(), now()) returning id", (project["id"], ds)).fetchone()[0]
        end = conn.execute("select to_timestamp(floor(extract(epoch from now()) / 900) * 900)").fetchone()[0]
        start = conn.execute("select %s::timestamptz - make_interval(days => %s)", (end, days)).fetchone()[0]

        conn.execute(SEED_SQL, {"cfg": cfg, "start": start, "end": end, "branch": branch})
        conn.execute(TOTALS_SQL, {"scope_type": "project_total", "ref": None})
        conn.execute(TOTALS_SQL, {"scope_type": "event_type", "ref": et.json()["id"]})
        conn.execute(SIGNALS_SQL, {"project": project["id"], "event_type": et.json()["id"], "end": end})
        bands = _store_forecasts(url, cfg) if stored_forecasts else 0
        conn.execute("vacuum analyze")
        # Flush the bulk load's dirty pages now: otherwise the checkpointer writes GBs during the first scenarios
        # and their tail measures the seed, not the endpoint.
        conn.execute("checkpoint")
        rows = conn.execute("select count(*) from metric_points").fetchone()[0]
        signals = conn.execute("select count(*) filter (where status = 'open'), count(*) from anomaly_signals"
                               ).fetchone()
    print(f"seeded {rows:,} metric points, {signals[1]:,} signals ({signals[0]:,} open) and {bands:,} stored "
          f"forecast bands in {time.perf_counter() - t0:.0f} s")
    return {"cookies": cookies, "events": event_ids, "cfg": str(cfg), "event_type": et.json()["id"]}


def _store_forecasts(url: str, cfg) -> int:
    """The band per scope the scan would have stored with these rows (one detector run over all scopes)."""
    from sqlalchemy.orm import Session

    from tripl_core.db.models.sources import ScanConfig
    from tripl_core.db.session import engine_for
    from tripl_core.scanning.forecasts import refresh_forecasts
    from tripl_core.scanning.settings import anomaly_settings

    with Session(engine_for(url)) as db:
        config = db.get(ScanConfig, cfg)
        n = refresh_forecasts(db, config, anomaly_settings(db, config.project_id))
        db.commit()
    return n


def scenarios(s: dict) -> list[tuple[str, str, Callable[[], tuple[str, str, dict | None]]]]:
    p = "/api/v1/projects/findings"
    ev = s["events"]
    return [
        ("baseline", "healthz", lambda: ("GET", "/healthz", None)),
        ("baseline", "Get Me", lambda: ("GET", "/api/v1/auth/me", None)),
        ("series", "Get Event Metrics (7 d)", lambda: ("GET", f"{p}/metrics/events/{random.choice(ev)}", None)),
        ("series", "Get Project Total Metrics", lambda: ("GET", f"{p}/metrics/total", None)),
        ("series", "Get Event Type Metrics",
         lambda: ("GET", f"{p}/metrics/event-types/{s['event_type']}", None)),
        ("signals", "Get Active Signals", lambda: ("GET", f"{p}/anomalies/signals", None)),
        ("signals", "Query Active Signals (50)",
         lambda: ("POST", f"{p}/anomalies/signals/query", {"event_ids": random.sample(ev, 50)})),
        ("heatmap", "Get Seasonality Heatmap (28 d)",
         lambda: ("GET", f"{p}/scans/{s['cfg']}/seasonality?scope_type=event&scope_ref={random.choice(ev)}",
                  None)),
    ]


async def drive(base: str, cookies: dict, make: Callable, clients: int, seconds: float,
                interval: float = 0.0) -> dict:
    """Closed loop (interval 0: the next request as soon as the last answered) or paced (one request per client
    every `interval` seconds, random phase: people looking at dashboards)."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, cookies=cookies, limits=limits, timeout=60,
                                 headers={"Origin": base}) as client:
        for _ in range(20):
            method, path, body = make()
            await client.request(method, path, json=body)
        stop = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            if interval:
                await asyncio.sleep(random.uniform(0, interval))
            while time.perf_counter() < stop:
                method, path, body = make()
                t0 = time.perf_counter()
                r = await client.request(method, path, json=body)
                latencies.append(time.perf_counter() - t0)
                errors += r.status_code >= 400
                if interval:
                    await asyncio.sleep(max(0.0, interval - (time.perf_counter() - t0)))

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - t0
    latencies.sort()
    return {"n": len(latencies), "p50": statistics.median(latencies) * 1000,
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
            "rps": len(latencies) / wall, "errors": errors}


async def sequential(base: str, cookies: dict, make: Callable, n: int = 50) -> float:
    """Median service time of one request without contention."""
    async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=60, headers={"Origin": base}) as client:
        out = []
        for _ in range(n):
            method, path, body = make()
            t0 = time.perf_counter()
            await client.request(method, path, json=body)
            out.append(time.perf_counter() - t0)
    return statistics.median(out) * 1000


def _row(name: str, alone: float, c: dict, p: dict, me: tuple[dict, dict]) -> str:
    return (f"{name:34} {alone:9.1f} {c['p50']:8.1f} {c['p99']:8.1f} {c['rps']:7.0f} {c['p99'] / me[0]['p99']:8.1f}x "
            f"{p['p50']:8.1f} {p['p99']:8.1f} {p['p99'] / me[1]['p99']:8.1f}x  {c['errors'] + p['errors']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--interval", type=float, default=1.0, help="paced mode: seconds between a client's requests")
    ap.add_argument("--no-stored-forecasts", action="store_true",
                    help="leave metric_forecasts empty (series reads compute the band, as before it was stored)")
    ap.add_argument("--baseline-tree", type=Path, default=None,
                    help="another revision's source tree (e.g. `git archive HEAD | tar -x -C DIR`): its API runs "
                         "on the same database and every scenario runs against both, alternating")
    ap.add_argument("--workers", type=int, default=None,
                    help="uvicorn worker processes per API (default: TRIPL_API_WORKERS, as `tripl up`)")
    args = ap.parse_args()
    from tripl_core.settings import get_settings

    workers = args.workers or get_settings().api_workers
    tmp = Path(tempfile.mkdtemp(prefix="tripl-bench-findings-"))
    procs: list[subprocess.Popen] = []
    try:
        url = start_database(tmp)
        apis = []
        for label, root in ((None, None), ("baseline tree", args.baseline_tree)):
            if label is not None and root is None:
                continue
            port = free_port()
            procs.append(start_api(url, tmp, port, workers=workers, root=root.resolve() if root else ROOT))
            base = f"http://127.0.0.1:{port}"
            wait_ready(base, procs[-1], path="/healthz" if label else "/readyz")
            apis.append((label or "this tree", base))
        s = seed(apis[0][1], url, args.events, args.days, not args.no_stored_forecasts)
        print(f"findings latency: {args.clients} concurrent clients (closed loop), {args.seconds:g} s per scenario,"
              f" {workers} uvicorn worker(s) per API, embedded PostgreSQL, {os.cpu_count()} CPUs shared by client and server; "
              f"load average {load_average()}\n")
        results: dict[str, list] = {label: [] for label, _ in apis}
        for group, name, make in scenarios(s):
            for label, base in apis if len(results[apis[0][0]]) % 2 == 0 else apis[::-1]:  # alternate who's first
                alone = asyncio.run(sequential(base, s["cookies"], make))
                closed = asyncio.run(drive(base, s["cookies"], make, args.clients, args.seconds))
                paced = asyncio.run(drive(base, s["cookies"], make, args.clients, args.seconds, args.interval))
                results[label].append((group, name, alone, closed, paced))
        worst = {}
        for label, rows in results.items():
            print(f"{label}:" if len(apis) > 1 else "")
            print(f"{'':34} {'':>9} {'closed loop':^33} {f'paced, 1 req/{args.interval:g} s per client':^26}")
            print(f"{'scenario':34} {'alone ms':>9} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7} {'p99 vs Me':>9}"
                  f" {'p50 ms':>8} {'p99 ms':>8} {'p99 vs Me':>9}  errors")
            me = next((c, p) for _, n, _, c, p in rows if n == "Get Me")
            for _group, name, alone, c, p in rows:
                print(_row(name, alone, c, p, me))
            worst[label] = max(p["p99"] for g, _, _, _, p in rows if g != "baseline"), me[1]["p99"]
            print()
        for label, (w, me_p99) in worst.items():
            print(f"{label}: worst findings p99, paced: {w:.1f} ms (goal ≤ 100 ms), {w / me_p99:.1f}x Get Me's")
        print(f"load average {load_average()}")
        return 1 if any(c["errors"] + p["errors"] for rows in results.values() for *_, c, p in rows) else 0
    finally:
        for proc in procs:
            stop_api(proc)
        stop_database(tmp)


if __name__ == "__main__":
    sys.exit(main())
