"""List Events latency on a 10,000-event plan, 20 concurrent HTTP clients, against a baseline in the same run.

Starts an embedded PostgreSQL and the API (uvicorn with `--workers` processes, default TRIPL_API_WORKERS as
`tripl up` runs it), seeds a plan of
`--events` events (5 event types, fields, tags, field and meta values, statuses, last_seen_at) and lets them settle
(VACUUM ANALYZE, CHECKPOINT: what autovacuum and the checkpointer do after a bulk load), then runs
`--clients` concurrent clients, each looping over List Events filter combinations for `--seconds`:

- sequential (one client): the service time of each request without contention;
- closed loop (every client sends its next request as soon as the last one answered): throughput and latency
  at saturation;
- paced (each client sends one request every `--interval` ms, like people paging through the plan): the
  latency users see. The goal is p99 ≤ 50 ms here.

Baseline: Get Me (cookie authentication + one lookup) under the same load: the floor of any authenticated
request, so the difference is what List Events itself costs.

    .venv/bin/python bench/plan_latency.py [--events 10000] [--clients 20] [--seconds 10] [--limit 50] [--workers N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import timedelta

from _common import ROOT, bench_database, free_port, pct


def seed(n_events: int) -> dict[str, list[str]]:
    """A plan like the demo's, scaled up; returns ids used to build filters."""
    from tripl_core import accounts, audit, projects
    from tripl_core.db.base import utcnow
    from tripl_core.db.models.auth import User
    from tripl_core.db.models.plan import Event, EventStatus
    from tripl_core.db.session import new_session
    from tripl_core.plan import event_types, events, meta_fields
    from tripl_core.plan.branching import main_branch
    from tripl_core.plan.common import PlanScope
    from tripl_core.settings import get_settings

    rnd = random.Random(7)
    db = new_session()
    user = accounts.register(db, get_settings(), "bench@example.com", "bench-password-1", "Bench")
    actor = audit.Actor(db.get(User, user.id))
    project = projects.create(db, actor, "Bench", "bench")
    scope = PlanScope(project, main_branch(db, project))
    meta_fields.create(db, actor, scope, {"name": "team", "display_name": "Team", "field_type": "enum",
                                          "enum_options": ["growth", "core", "checkout"]})
    types = []
    for t in ("screen_view", "ui_interaction", "commerce", "lifecycle", "error"):
        types.append(event_types.create(db, actor, scope, {
            "name": t, "display_name": t, "field_definitions": [
                {"name": "screen_name", "display_name": "Screen", "field_type": "string"},
                {"name": "platform", "display_name": "Platform", "field_type": "enum",
                 "enum_options": ["ios", "android", "web"]},
                {"name": "element", "display_name": "Element", "field_type": "string"},
            ]}))
    statuses = [s.value for s in EventStatus]
    tags = [f"tag{i}" for i in range(30)]
    batch = 1000
    for start in range(0, n_events, batch):
        items = []
        for i in range(start, min(start + batch, n_events)):
            et = types[i % len(types)]
            items.append({
                "event_type_id": et.id, "name": f"{et.name}_event_{i}",
                "description": f"Event number {i} of {et.name} on screen s{i % 300}",
                "status": statuses[rnd.randrange(len(statuses))], "tags": rnd.sample(tags, 2),
                "field_values": [{"field_name": "screen_name", "value": f"s{i % 300}"},
                                 {"field_name": "platform", "value": rnd.choice(["ios", "android", "web"])},
                                 {"field_name": "element", "value": f"el{i % 50}"}],
                "meta_values": [{"meta_field_name": "team", "value": rnd.choice(["growth", "core", "checkout"])}],
            })
        events.create_many(db, actor, scope, items, bulk=True)
    # Half the events were seen recently, a quarter long ago, a quarter never.
    from sqlalchemy import update

    now = utcnow()
    ids = list(db.scalars(Event.__table__.select().with_only_columns(Event.id)))
    rnd.shuffle(ids)
    q = len(ids) // 4
    db.execute(update(Event).where(Event.id.in_(ids[: 2 * q])).values(last_seen_at=now - timedelta(hours=2)))
    db.execute(update(Event).where(Event.id.in_(ids[2 * q: 3 * q])).values(last_seen_at=now - timedelta(days=40)))
    db.commit()
    db.close()
    _settle()
    return {"types": [str(t.id) for t in types], "tags": tags}


def _settle() -> None:
    """VACUUM ANALYZE then CHECKPOINT, as pgbench does before it measures: a plan of 10,000 events is not loaded
    seconds before people list it, and by then autovacuum has run. Without it the first scenarios measure the
    bulk load (no planner statistics, hint bits set by the first reads, no visibility map for index-only scans,
    the checkpointer flushing the load) and autovacuum may start in the middle of one."""
    import psycopg

    from tripl_core.settings import get_settings

    with psycopg.connect(get_settings().database_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("vacuum analyze")
        conn.execute("checkpoint")


def filter_sets(ids: dict[str, list[str]], limit: int) -> list[tuple[str, dict]]:
    t = ids["types"]
    return [
        ("no filter", {}),
        ("event_type", {"event_type_id": t[0]}),
        ("search", {"search": "screen s12"}),
        ("status x2", {"status": ["live", "implemented"]}),
        ("tag", {"tag": "tag3"}),
        ("silent_since_days", {"silent_since_days": 7}),
        ("field_value name=value", {"field_value": "platform=ios"}),
        ("meta_value name=value", {"meta_value": "team=growth"}),
        ("type+status+tag", {"event_type_id": t[1], "status": ["live", "draft"], "tag": "tag5"}),
        ("search+silent+field", {"search": "event_1", "silent_since_days": 30, "field_value": "screen_name=s1"}),
        ("status+meta+offset", {"status": ["live"], "meta_value": "team=core", "offset": 400}),
    ]


def start_server(port: int, workers: int = 1) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "tripl_api.app:create_app", "--port", str(port),
         "--workers", str(workers), "--log-level", "warning", "--no-access-log"], cwd=ROOT, env=os.environ.copy())
    import httpx

    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("API did not start")


async def load(port: int, requests: list[tuple[str, str, dict]], clients: int, seconds: float,
               interval: float | None) -> tuple[dict[str, list[float]], int, float]:
    import httpx

    base = f"http://127.0.0.1:{port}"
    out: dict[str, list[float]] = {}
    errors = 0
    async with httpx.AsyncClient(base_url=base, timeout=30, headers={"Origin": base},  # cookie mutations
                                 limits=httpx.Limits(max_connections=clients)) as client:
        r = await client.post("/api/v1/auth/login", json={"email": "bench@example.com",
                                                          "password": "bench-password-1"})
        r.raise_for_status()
        deadline = time.perf_counter() + seconds

        async def worker(k: int) -> None:
            nonlocal errors
            i = k
            await asyncio.sleep(random.random() * (interval or 0))
            while time.perf_counter() < deadline:
                label, path, params = requests[i % len(requests)]
                i += 1
                t0 = time.perf_counter()
                resp = await client.get(path, params=params)
                dt = time.perf_counter() - t0
                if resp.status_code != 200:
                    errors += 1
                out.setdefault(label, []).append(dt)
                if interval:
                    await asyncio.sleep(max(0.0, interval - dt))

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(clients)))
        elapsed = time.perf_counter() - t0
    return out, errors, elapsed


def report(title: str, res: dict[str, list[float]], errors: int, elapsed: float) -> None:
    n = sum(len(v) for v in res.values())
    every = [x for v in res.values() for x in v]
    print(f"\n{title}: {n} requests in {elapsed:.1f}s = {n / elapsed:,.0f} req/s, errors {errors}")
    print(f"{'request':<26} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for label, vals in res.items():
        print(f"{label:<26} {len(vals):>6} {pct(vals, 50):8.1f} {pct(vals, 95):8.1f} {pct(vals, 99):8.1f} "
              f"{max(vals) * 1000:8.1f}")
    print(f"{'ALL':<26} {n:>6} {pct(every, 50):8.1f} {pct(every, 95):8.1f} {pct(every, 99):8.1f} "
          f"{max(every) * 1000:8.1f}  (mean {statistics.mean(every) * 1000:.1f})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--limit", type=int, default=50, help="page size of List Events (the API default is 200)")
    ap.add_argument("--interval", type=float, default=500, help="ms between a paced client's requests")
    ap.add_argument("--workers", type=int, default=None,
                    help="uvicorn worker processes (default: TRIPL_API_WORKERS, as `tripl up`)")
    args = ap.parse_args()
    with bench_database("tripl-bench-plan-"):
        _run(args)


def _run(args: argparse.Namespace) -> None:
    proc = None
    try:
        t0 = time.perf_counter()
        ids = seed(args.events)
        print(f"seeded {args.events} events in {time.perf_counter() - t0:.1f}s")
        port = free_port()
        from tripl_core.settings import get_settings

        workers = args.workers or get_settings().api_workers
        print(f"API: {workers} uvicorn worker process(es); {os.cpu_count()} CPUs shared with the clients")
        proc = start_server(port, workers)
        events_path = "/api/v1/projects/bench/events"
        reqs = [(label, events_path, {"limit": args.limit, **params})
                for label, params in filter_sets(ids, args.limit)]
        baseline = [("baseline: Get Me", "/api/v1/auth/me", {})]
        asyncio.run(load(port, reqs, args.clients, 2, None))  # warm-up
        modes = (("sequential (service time)", 1, None), ("closed loop", args.clients, None),
                 (f"paced, 1 request / {args.interval:.0f} ms per client", args.clients, args.interval / 1000))
        for mode, clients, interval in modes:
            res, err, el = asyncio.run(load(port, baseline, clients, args.seconds / 2, interval))
            report(f"BASELINE {mode}, {clients} client(s)", res, err, el)
            res, err, el = asyncio.run(load(port, reqs, clients, args.seconds, interval))
            report(f"LIST EVENTS (limit {args.limit}) {mode}, {clients} client(s)", res, err, el)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
