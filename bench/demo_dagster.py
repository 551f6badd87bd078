"""`make up ARGS=--demo` end to end: seconds from launch to "demo: done", where they go, and what people receive.

Each checkout given (default: this one) is started the way a new user starts it — `tripl up --demo` with its own
`.venv`, a fresh data directory (embedded PostgreSQL start and migrations included; install not counted) and free
ports — one after the other in one run, so the figures sit side by side under the same machine load. For each:
the seconds to every phase of the console (first line, warehouse built, replay queued, scans finished, catch-up
dispatch, "demo: done"), the Dagster runs (scan and alert-dispatch runs; worker start = launch (STARTING) → first step,
steps = first step → end), every injected incident checked through the REST API, and the alerts the webhook sink
received, each item judged true (it is an injected incident) or false.

    .venv/bin/python bench/demo_dagster.py [--checkout DIR ...] [--timeout 1800]

`--loader` keeps the older measurement: `tripl up` without the demo, then `tripl demo --days D --scale S` through
Dagster and the same replay in-process (`--inprocess`) as the baseline of the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import _common

ROOT = _common.ROOT
PHASES = (("first line", "tripl console"), ("warehouse built", "demo: warehouse"),
          ("replay queued", "demo: replaying"), ("catch-up dispatch", "demo: alerts"), ("done", "demo: done"))


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


def incident_of(item: dict, spec) -> str | None:
    """The injected incident an alert item reports (None: a false alert). A volume item is true when its scope is
    the incident's event, its event type or the project total and it began inside the incident (an hour of
    slack); the dead event's own drops belong to the dead-event incident."""
    from tripl_core.demo import warehouse

    inc = warehouse.incidents(spec)
    kind, extra = item.get("kind"), item.get("extra") or {}
    if kind == "volume" and extra.get("since"):
        since = datetime.fromisoformat(extra["since"].replace("Z", "+00:00"))
        name, direction = item.get("scope_name"), item.get("direction")
        for key, event, etype in (("spike", warehouse.SPIKE_EVENT, "screen_view"),
                                  ("drop", warehouse.DROP_EVENT, "lifecycle")):
            i = inc[key]
            if direction == key and name in (event, etype, "project total") \
                    and i.since - timedelta(hours=1) <= since < i.until:
                return key
        if direction == "drop" and name == warehouse.DEAD_EVENT and since >= inc["dead"].since:
            return "dead"
        return None
    if kind == "schema_drift":
        found = (item.get("event_type"), extra.get("field"), extra.get("drift_type"))
        return {(*warehouse.TYPE_CHANGE, "type_mismatch"): "type_change",
                (*warehouse.NEW_FIELD, "new_field"): "new_field"}.get(found)
    if kind == "distribution_drift" and extra.get("field") == f"properties.{warehouse.SHIFT_FIELD[1]}":
        return "distribution"
    if kind == "release_regression" and (extra.get("app_version"), item.get("event")) == warehouse.REGRESSION:
        return "regression"
    if kind == "dead_event" and item.get("event") == warehouse.DEAD_EVENT:
        return "dead"
    return None


def judge_alerts(sink_file: Path, spec) -> dict:
    """Messages and alert items the sink received; items judged true / false against the injected incidents."""
    bodies = [json.loads(line)["body"] for line in sink_file.read_text().splitlines()] if sink_file.exists() else []
    items = [i for b in bodies for i in b.get("items", [])]
    verdicts = [(i, incident_of(i, spec)) for i in items]
    false = [f"{i['kind']} {i.get('direction') or ''} {i.get('scope_name')}".replace("  ", " ")
             for i, v in verdicts if v is None]
    return {"messages": len(bodies), "items": len(items), "true": sum(v is not None for _, v in verdicts),
            "false": len(false), "incidents": sorted({v for _, v in verdicts if v}), "false_items": false}


def dagster_runs(data_dir: Path, t0: float) -> dict:
    """Scan and dispatch runs of the instance under `data_dir`: counts, worker start and step seconds."""
    import dagster as dg

    pid = (data_dir / "pg" / "postmaster.pid").read_text().splitlines()
    os.environ["DAGSTER_HOME"] = str(data_dir / "dagster")
    os.environ["TRIPL_DAGSTER_DATABASE_URL"] = f"postgresql+psycopg2://postgres@/dagster?host={quote(pid[4])}"
    starting, step = dg.DagsterEventType.RUN_STARTING, dg.DagsterEventType.STEP_START
    with dg.DagsterInstance.get() as instance:
        out: dict = {"scan_runs": 0, "dispatch_runs": 0, "worker_start_s": 0.0, "steps_s": 0.0}
        first_queued = last_end = None
        for rec in instance.get_run_records():
            run = rec.dagster_run
            scan = run.job_name == "__ASSET_JOB"
            out["scan_runs" if scan else "dispatch_runs"] += 1
            times: dict[dg.DagsterEventType, float] = {}
            for e in instance.all_logs(run.run_id, of_type={starting, step}):
                times.setdefault(e.dagster_event.event_type, e.timestamp)  # type: ignore[union-attr]
            if scan and rec.end_time and {starting, step} <= times.keys():
                out["worker_start_s"] += times[step] - times[starting]
                out["steps_s"] += rec.end_time - times[step]
                first_queued = min(first_queued or 1e18, rec.create_timestamp.timestamp())
                last_end = max(last_end or 0.0, rec.end_time)
        out["first_scan_run_created"] = round(first_queued - t0, 1) if first_queued else None
        out["last_scan_run_end"] = round(last_end - t0, 1) if last_end else None
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in out.items()}


def _lines(proc: subprocess.Popen, q: queue.Queue) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        q.put(line)
    q.put(None)


def stop_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=45)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def up_demo(root: Path, timeout: float) -> dict:
    """`tripl up --demo` of the checkout at `root` on a fresh data directory, timed to "demo: done"."""
    from tripl_core.demo import sink, warehouse

    tmp = _common.scratch_dir("tripl-bench-up-demo-")
    data = tmp / "data"
    ports = {"TRIPL_PORT": _common.free_port(), "TRIPL_DAGSTER_PORT": _common.free_port(),
             "TRIPL_WEBHOOK_SINK_PORT": _common.free_port()}
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TRIPL_", "DAGSTER_")) and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(TRIPL_DATA_DIR=str(data), **{k: str(v) for k, v in ports.items()})
    python = root / ".venv" / "bin" / "python"
    cmd = [str(python if python.exists() else sys.executable), "-m", "tripl_core.cli", "up", "--demo"]
    load_start = _common.load_average()
    spec = warehouse.DemoSpec()  # the demo's own: its history ends at the midnight before it started, so a run
    # that crosses midnight is judged against the incidents it injected, not the next day's
    t0_wall, t0 = time.time(), time.monotonic()
    proc = subprocess.Popen(cmd, cwd=root, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(proc, lines), daemon=True).start()
    marks: dict[str, float] = {}
    out: list[str] = []
    result: dict = {"checkout": str(root)}
    try:
        deadline = t0 + timeout
        while "done" not in marks and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1.0)
            except queue.Empty:
                continue
            if line is None:
                break
            now = time.monotonic() - t0
            out.append(f"[{now:7.1f}] {line}")
            for name, prefix in PHASES:
                if name not in marks and line.startswith(prefix):
                    marks[name] = round(now, 1)
            m = re.match(r"\s*scans: (\d+)/(\d+) jobs finished", line)
            if m and m.group(1) == m.group(2):
                marks["scans finished"] = round(now, 1)
        (tmp.parent / f"{tmp.name}.console.log").write_text("".join(out))
        result.update(phases=marks, load=f"{load_start} → {_common.load_average()}", console_lines=len(out))
        if "done" not in marks:
            result["error"] = f"no 'demo: done' within {timeout:.0f} s (console: {tmp.name}.console.log)"
            print("".join(out[-30:]))
            return result
        time.sleep(15)  # dispatch runs the sensor launched before "done" deliver into the sink
        login = re.search(r"demo login\s+(\S+) / (\S+)", "".join(out))
        base = f"http://127.0.0.1:{ports['TRIPL_PORT']}"
        if login:
            result["incidents"] = check_incidents(base, login.group(1), login.group(2), spec)
        result["alerts"] = judge_alerts(data / sink.SINK_FILE, spec)
        result["dagster"] = dagster_runs(data, t0_wall)
        return result
    finally:
        stop_group(proc)


def report(r: dict) -> None:
    print(f"== {r['checkout']}  (load {r.get('load')})")
    print("  phases (s after launch): " + ", ".join(f"{k} {v}" for k, v in r.get("phases", {}).items()))
    if "error" in r:
        print(f"  ERROR: {r['error']}")
        return
    if "incidents" in r:
        print("  incidents found through the REST API: "
              + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in r["incidents"].items()))
    a = r["alerts"]
    print(f"  webhook sink: {a['messages']} messages, {a['items']} alert items: {a['true']} true "
          f"({', '.join(a['incidents'])}), {a['false']} false {a['false_items']}")
    print("  dagster: " + ", ".join(f"{k} {v}" for k, v in r["dagster"].items()))


def loader_mode(args: argparse.Namespace) -> int:
    """The older measurement: `tripl up`, then `tripl demo` through Dagster, then in-process, same instance."""
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
            m = re.search(r"log in as (\S+) with password (\S+)", out)
            if "through Dagster" not in out or m is None:
                print("the demo did not go through Dagster, or printed no login (see the log above)")
                return 1
            from tripl_core.demo import sink, warehouse

            spec = warehouse.DemoSpec(days=args.days, scale=args.scale)
            found = check_incidents(base, m.group(1), m.group(2), spec)
            alerts = judge_alerts(Path(os.environ["TRIPL_DATA_DIR"]) / sink.SINK_FILE, spec)
            print(f"Dagster path: exit {code}, {total:.0f} s in all, replay + catch-up dispatch {replay_s:.0f} s")
            print("incidents found through the REST API: "
                  + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in found.items()))
            print(f"webhook sink: {alerts}")
            code2, _, replay2, _ = run_demo(env, [*spec_args, "--inprocess"], logs / "inprocess.log")
            print(f"in-process baseline: exit {code2}, replay {replay2:.0f} s; "
                  f"Dagster / in-process = {replay_s / max(replay2, 1e-9):.2f}×")
            print(f"load average {os.getloadavg()[0]:.1f} at the end ({load_before[0]:.1f} at the start)")
            return 0 if code == 0 and all(found.values()) else 1
        finally:
            for proc in reversed(procs):
                _common.stop_api(proc)


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", action="append", type=Path,
                        help="a checkout to start (its own .venv); repeat to compare, e.g. main then a branch")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for 'demo: done'")
    parser.add_argument("--loader", action="store_true", help="the older `tripl demo` measurement (below)")
    parser.add_argument("--days", type=int, default=9, help="--loader: days of the demo")
    parser.add_argument("--scale", type=float, default=0.4, help="--loader: volume multiplier")
    args = parser.parse_args()
    if args.loader:
        return loader_mode(args)
    results = []
    for root in args.checkout or [ROOT]:
        print(f"tripl up --demo in {root.resolve()} (load {_common.load_average()})…", flush=True)
        results.append(up_demo(root.resolve(), args.timeout))
        report(results[-1])
    if len(results) > 1 and all("done" in r.get("phases", {}) for r in results):
        first = results[0]["phases"]["done"]
        print("done, s after launch: " + " | ".join(f"{r['checkout']} {r['phases']['done']:.0f} s "
                                                    f"({r['phases']['done'] / first:.2f}×)" for r in results))
    ok = all("error" not in r and all(r.get("incidents", {}).values()) for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
