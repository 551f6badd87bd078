"""API latency benchmark: p50/p99 and requests/s of Get Me and List Projects against `/healthz` in the same run.

It starts a fresh embedded PostgreSQL in a temporary directory, migrates it, runs the API under uvicorn as a
subprocess (`--workers`, default TRIPL_API_WORKERS as `tripl up` runs it), seeds users and projects over HTTP, then drives concurrent httpx
clients through each scenario for a fixed number of requests. `/healthz` touches neither auth nor the database,
so it is the floor the framework and the event loop set; the other rows show what auth + queries add on top.

    .venv/bin/python bench/api_latency.py [--requests 2000] [--concurrency 16] [--projects 50]

Add scenarios to `scenarios()` (for example List Events once a project has a plan): a name, a method, a path,
which credentials to send, and optionally a JSON body.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from _common import free_port, load_average, start_api, start_database, stop_api, stop_database, wait_ready


@dataclass
class Scenario:
    name: str
    path: str
    method: str = "GET"
    auth: str = "none"  # "none" | "cookie" (owner's session) | "key" (owner's read API key)
    body: dict | None = None
    baseline: bool = False


@dataclass
class Seed:
    cookies: dict[str, str] = field(default_factory=dict)
    key: str = ""
    slugs: list[str] = field(default_factory=list)


def scenarios(seed: Seed) -> list[Scenario]:
    """What to measure. The first baseline scenario is what the others are compared with."""
    return [
        Scenario("healthz (baseline)", "/healthz", baseline=True),
        Scenario("Get Me (cookie)", "/api/v1/auth/me", auth="cookie"),
        Scenario("Get Me (API key)", "/api/v1/auth/me", auth="key"),
        Scenario(f"List Projects ({len(seed.slugs)}, cookie)", "/api/v1/projects", auth="cookie"),
        Scenario(f"List Projects ({len(seed.slugs)}, API key)", "/api/v1/projects", auth="key"),
        Scenario("Get Project (cookie)", f"/api/v1/projects/{seed.slugs[0]}", auth="cookie"),
        # The demo plan (52 events); bench/plan_latency.py measures List Events on 10,000 events.
        Scenario("List Events (demo, cookie)", "/api/v1/projects/demo/events", auth="cookie"),
        Scenario("List Events (demo, 3 filters)", "/api/v1/projects/demo/events?status=live&tag=funnel"
                 "&field_value=platform%3Dios", auth="cookie"),
    ]


def seed(base: str, projects: int, users: int) -> Seed:
    out = Seed()
    with httpx.Client(base_url=base, timeout=30, headers={"Origin": base}) as c:
        c.post("/api/v1/auth/register", json={"email": "owner@bench.example.com", "password": "bench-password",
                                              "name": "Bench Owner"}).raise_for_status()
        for i in range(users - 1):
            c.post("/api/v1/auth/register", json={"email": f"u{i}@bench.example.com", "password": "bench-password"})
        c.post("/api/v1/auth/login", json={"email": "owner@bench.example.com", "password": "bench-password"})
        out.cookies = dict(c.cookies)
        for i in range(projects):
            slug = f"project-{i:03d}"
            c.post("/api/v1/projects", json={"name": f"Project {i}", "slug": slug,
                                             "description": "seeded by bench/api_latency.py"}).raise_for_status()
            out.slugs.append(slug)
        c.post("/api/v1/projects/demo").raise_for_status()
        r = c.post("/api/v1/api-keys", json={"name": "bench", "scope": "read"})
        r.raise_for_status()
        out.key = r.json()["token"]
    return out


async def drive(base: str, sc: Scenario, seed_: Seed, requests: int, concurrency: int) -> dict:
    # A cookie-authenticated mutation must carry this site's Origin, as a browser does (tripl_api/browser.py).
    headers = {"Authorization": f"Bearer {seed_.key}"} if sc.auth == "key" else {"Origin": base}
    cookies = seed_.cookies if sc.auth == "cookie" else {}
    latencies: list[float] = []
    errors = 0
    remaining = requests
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=base, headers=headers, cookies=cookies, limits=limits,
                                 timeout=30) as client:
        for _ in range(min(50, requests)):  # warm-up: connections, caches, first-use imports
            await client.request(sc.method, sc.path, json=sc.body)

        async def worker() -> None:
            nonlocal remaining, errors
            while remaining > 0:
                remaining -= 1
                t0 = time.perf_counter()
                r = await client.request(sc.method, sc.path, json=sc.body)
                latencies.append(time.perf_counter() - t0)
                if r.status_code >= 400:
                    errors += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    latencies.sort()
    return {
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "rps": len(latencies) / wall,
        "errors": errors,
    }


def report(rows: list[tuple[Scenario, dict]]) -> None:
    base = next((r for s, r in rows if s.baseline), rows[0][1])
    print(f"\n{'scenario':34} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8} {'p50 x base':>11} {'req/s vs base':>14}  errors")
    for sc, r in rows:
        print(f"{sc.name:34} {r['p50']:8.2f} {r['p99']:8.2f} {r['rps']:8.0f} {r['p50'] / base['p50']:10.1f}x "
              f"{r['rps'] / base['rps']:13.0%}  {r['errors']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000, help="requests per scenario (after 50 warm-up)")
    ap.add_argument("--concurrency", type=int, default=16, help="concurrent clients")
    ap.add_argument("--projects", type=int, default=50, help="projects to seed")
    ap.add_argument("--users", type=int, default=20, help="users to seed")
    ap.add_argument("--workers", type=int, default=None,
                    help="uvicorn worker processes (default: TRIPL_API_WORKERS, as `tripl up`)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="tripl-bench-"))
    proc: subprocess.Popen | None = None
    try:
        url = start_database(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        from tripl_core.settings import get_settings

        workers = args.workers or get_settings().api_workers
        proc = start_api(url, tmp, port, workers=workers)
        wait_ready(base, proc)
        data = seed(base, args.projects, args.users)
        print(f"tripl API latency: {args.requests} requests per scenario, {args.concurrency} concurrent clients, "
              f"{args.projects} projects, {args.users} users, {workers} uvicorn worker(s), embedded PostgreSQL, "
              f"{os.cpu_count()} CPUs (client and server share them), load {load_average()}")
        rows = [(sc, asyncio.run(drive(base, sc, data, args.requests, args.concurrency)))
                for sc in scenarios(data)]
        report(rows)
        return 1 if any(r["errors"] for _, r in rows) else 0
    finally:
        stop_api(proc)
        stop_database(tmp)


if __name__ == "__main__":
    sys.exit(main())
