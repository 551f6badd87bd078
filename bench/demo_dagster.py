"""`tripl demo` through Dagster, end to end: time it, then check every injected incident through the REST API.

Starts a fresh embedded PostgreSQL, then `tripl up` (API + `dagster-webserver` and `dagster-daemon`, as in production)
and `tripl webhook-sink` as process groups on free ports, runs `tripl demo --days D --scale S --wait-dagster 300`
(each replay job becomes one Dagster backfill of ⌈days / 7⌉ runs, one scan run at a time per dagster.yaml) and reports:
the replay time through Dagster, each incident found (or not) through the API, the alerts the sink received;
then the same replay in-process (`--inprocess`, same instance and warehouse) as the baseline of the ratio.

    .venv/bin/python bench/demo_dagster.py [--days 9] [--scale 0.4] [--no-baseline]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import _common

ROOT = _common.ROOT


def run_demo(env: dict[str, str], args: list[str], log: Path) -> tuple[int, float, float, str]:
    """(exit code, total seconds, replay seconds, output) of one `tripl demo` run, its lines echoed timed."""
    t0 = time.monotonic()
    marks: dict[str, float] = {}
    out: list[str] = []
    with subprocess.Popen([sys.executable, "-m", "tripl_core.cli", "demo", *args], cwd=ROOT, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            now = time.monotonic() - t0
            out.append(line)
            print(f"  [{now:6.0f} s] {line.rstrip()}", flush=True)
            if line.startswith("demo: replaying"):
                marks["replay"] = now
            elif line.startswith("demo: alerts"):
                marks["alerts"] = now
        code = proc.wait()
    log.write_text("".join(out))
    total = time.monotonic() - t0
    return code, total, marks.get("alerts", total) - marks.get("replay", 0.0), "".join(out)


def check_incidents(base: str, email: str, password: str, spec) -> dict[str, bool]:
    """Each injected incident → whether its finding is served by the REST API (as tests/demo/test_load.py)."""
    import httpx

    from tripl_core.demo import warehouse

    c = httpx.Client(base_url=base, timeout=60, headers={"Origin": base})  # cookie mutations need it
    r = c.post("/api/v1/auth/login", json={"email": email, "password": password})
    r.raise_for_status()
    p = "/api/v1/projects/demo"
    inc = warehouse.incidents(spec)

    def items(url: str, **params) -> list[dict]:
        body = c.get(url, params=params).raise_for_status().json()
        return body["items"] if isinstance(body, dict) and "items" in body else body

    events = {e["name"]: e for e in items(f"{p}/events", limit=500)}
    types = {t["name"]: t for t in items(f"{p}/event-types")}
    configs = {s["name"]: s for s in items(f"{p}/scans")}

    def anomalies(event: str, i) -> set[str]:
        r = c.get(f"{p}/metrics/events/{events[event]['id']}", params={
            "from": (i.since - timedelta(hours=1)).isoformat(), "to": (i.until + timedelta(hours=1)).isoformat()})
        return {x["direction"] for x in r.raise_for_status().json()["data"] if x["is_anomaly"]
                and i.since.isoformat() <= x["bucket"].replace("Z", "+00:00") < i.until.isoformat()}

    def drifts(tname: str) -> set[tuple[str, str]]:
        return {(d["field_name"], d["drift_type"]) for d in items(f"{p}/event-types/{types[tname]['id']}/drifts")}

    dist = c.get(f"{p}/distribution-drifts", params={"scope_type": "event_type",
                                                      "scope_ref": types["commerce"]["id"]}).json()["data"]
    ui = next(s for s in configs.values() if s["event_type_id"] == types["ui_interaction"]["id"])
    regs = items(f"{p}/scans/{ui['id']}/release-regressions")
    return {
        "spike": "spike" in anomalies(warehouse.SPIKE_EVENT, inc["spike"]),
        "drop": "drop" in anomalies(warehouse.DROP_EVENT, inc["drop"]),
        "shadow": warehouse.SHADOW_EVENT in {s["name"] for s in items(f"{p}/reconciliation/shadow-events")},
        "dead": warehouse.DEAD_EVENT in {d["name"] for d in items(f"{p}/reconciliation/dead-events", days=3)},
        "type_change": ("load_time_ms", "type_mismatch") in drifts("screen_view"),
        "new_field": ("experiment_variant", "new_field") in drifts("ui_interaction"),
        "distribution": any(d["is_drift"] and d["field"] == "properties.price" for d in dist),
        "regression": any(i["event_name"] == warehouse.REGRESSION[1] and i["app_version"] == warehouse.REGRESSION[0]
                          and i["direction"] == "drop" for i in regs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=9)
    parser.add_argument("--scale", type=float, default=0.4)
    parser.add_argument("--no-baseline", action="store_true", help="skip the in-process replay")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with _common.bench_database("tripl-bench-demo-dagster-") as (tmp, _url):
        ports = {"TRIPL_PORT": _common.free_port(), "TRIPL_DAGSTER_PORT": _common.free_port(),
                 "TRIPL_WEBHOOK_SINK_PORT": _common.free_port()}
        env = dict(os.environ, PYTHONPATH=str(ROOT), **{k: str(v) for k, v in ports.items()})
        logs = tmp / "logs"
        logs.mkdir()
        procs = []
        try:
            for name, cmd in (("up", ["up"]), ("sink", ["webhook-sink"])):
                with (logs / f"{name}.log").open("w") as fh:
                    procs.append(subprocess.Popen([sys.executable, "-m", "tripl_core.cli", *cmd], cwd=ROOT,
                                                  env=env, stdout=fh, stderr=subprocess.STDOUT,
                                                  start_new_session=True))
            base = f"http://127.0.0.1:{ports['TRIPL_PORT']}"
            _common.wait_ready(base, procs[0], timeout=120)
            spec_args = ["--days", str(args.days), "--scale", str(args.scale)]
            print(f"tripl demo {' '.join(spec_args)} through Dagster (load {load_before[0]:.1f}):", flush=True)
            code, total, replay_s, out = run_demo(env, [*spec_args, "--wait-dagster", "300"], logs / "demo.log")
            if "through Dagster" not in out:
                print("the demo did not go through Dagster (see the log above)")
                return 1
            m = re.search(r"log in as (\S+) with password (\S+)", out)
            if m is None:
                print("no demo credentials printed")
                return 1
            from tripl_core.demo import sink, warehouse

            spec = warehouse.DemoSpec(days=args.days, scale=args.scale)
            found = check_incidents(base, m.group(1), m.group(2), spec)
            received = Path(os.environ["TRIPL_DATA_DIR"]) / sink.SINK_FILE
            alerts = len(received.read_text().splitlines()) if received.exists() else 0
            print(f"Dagster path: exit {code}, {total:.0f} s in all, replay + catch-up dispatch {replay_s:.0f} s")
            print("incidents found through the REST API: "
                  + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in found.items()))
            print(f"alerts received by the webhook sink: {alerts}")
            if not args.no_baseline:
                code2, total2, replay2, _ = run_demo(env, [*spec_args, "--inprocess"], logs / "inprocess.log")
                print(f"in-process baseline: exit {code2}, replay {replay2:.0f} s; "
                      f"Dagster / in-process = {replay_s / max(replay2, 1e-9):.2f}×")
            print(f"load average {os.getloadavg()[0]:.1f} at the end ({load_before[0]:.1f} at the start)")
            return 0 if code == 0 and all(found.values()) else 1
        finally:
            for proc in reversed(procs):
                _common.stop_api(proc)


if __name__ == "__main__":
    sys.exit(main())
