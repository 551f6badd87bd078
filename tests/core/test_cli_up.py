"""`tripl up` end to end: embedded PostgreSQL in a fresh data directory, migrations, the API serving /docs, children
restarted when they die, and nothing left running after SIGTERM (the server included). Dagster is left out
(--no-dagster) to keep it quick."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import psutil
import pytest

from tests.serving import free_port, wait_ready

pytestmark = pytest.mark.slow


def _ours(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in part for part in proc.info["cmdline"] or []):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def _wait_ready(proc: subprocess.Popen, base: str, timeout: float) -> None:
    wait_ready(proc, base, timeout, lambda: proc.stdout.read().decode(), "tripl up", interval=0.3)


def _servers(parent: int) -> list[psutil.Process]:
    """The uvicorn processes `tripl up` runs (zombies not yet reaped left out)."""
    found = []
    for child in psutil.Process(parent).children():
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "uvicorn" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            pass
    return found


def _group_members(pgid: int) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid:
                found.append(p)
        except (ProcessLookupError, psutil.NoSuchProcess):
            pass
    return found


def test_up_supervises_and_stops_cleanly(tmp_path):
    """Started by a parent that ignores SIGTERM (as some CI runners and service managers do): a SIGKILLed API worker
    comes back (uvicorn), a SIGKILLed API server comes back (tripl up restarts it, its orphaned workers stopped),
    and one SIGTERM to `tripl up` stops everything it started — the embedded PostgreSQL included — within seconds."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIPL_")}
    env.update(TRIPL_DATA_DIR=str(tmp_path / "data"), TRIPL_PORT=str(port), TRIPL_LOG_LEVEL="warning",
               TRIPL_API_WORKERS="2", TRIPL_LOGIN_MAX_FAILURES="1")
    proc = subprocess.Popen([sys.executable, "-m", "tripl_core.cli", "up", "--no-dagster"], env=env,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, base, 120)
        assert httpx.get(f"{base}/docs").status_code == 200
        assert (tmp_path / "data" / "secret_key").exists()  # generated on first start
        assert _ours(str(tmp_path)), "expected the embedded PostgreSQL to run from the data directory"

        # The per-address login throttle (4 x TRIPL_LOGIN_MAX_FAILURES here) holds against a new X-Forwarded-For
        # per try: uvicorn trusts it only from TRIPL_FORWARDED_ALLOW_IPS (unset), not from loopback.
        answers = [httpx.post(f"{base}/api/v1/auth/login", headers={"X-Forwarded-For": f"203.0.113.{i}"},
                              json={"email": f"nobody-{i}@example.com", "password": "wrong-password"}).status_code
                   for i in range(5)]
        assert answers == [401, 401, 401, 401, 429]

        [server] = _servers(proc.pid)
        workers = server.children()
        assert len(workers) >= 2
        workers[0].kill()  # a worker: uvicorn replaces it
        psutil.wait_procs([workers[0]], timeout=10)
        deadline = time.monotonic() + 30
        while len(server.children()) < len(workers):
            assert time.monotonic() < deadline, "uvicorn did not replace the killed worker"
            time.sleep(0.3)
        _wait_ready(proc, base, 30)

        server.kill()  # the API server itself: tripl up restarts it, after stopping the workers it left behind
        deadline = time.monotonic() + 60
        while not [c for c in _servers(proc.pid) if c.pid != server.pid]:
            assert time.monotonic() < deadline, "tripl up did not restart the API server"
            time.sleep(0.3)
        assert not _group_members(server.pid), "the killed server's workers were left running"
        _wait_ready(proc, base, 60)
    finally:
        started = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)  # tripl up only: it must stop its children's process groups itself
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    out = proc.stdout.read().decode()
    assert proc.returncode == 0, out[-2000:]
    assert time.monotonic() - started < 20, "tripl up took too long to stop"
    assert f"tripl up: api (pid {server.pid}) exited with signal SIGKILL" in out, out[-2000:]
    assert "tripl up: api restarted" in out
    deadline = time.monotonic() + 15
    while _ours(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.3)
    left = [" ".join(p.cmdline()[:3]) for p in _ours(str(tmp_path))]
    assert not left, f"left running after tripl up stopped: {left}"
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{base}/healthz", timeout=2)


def test_api_workers_share_the_connection_budget():
    from tripl_core.cli import _split_db_pool

    env: dict[str, str] = {}
    _split_db_pool(env, 4)
    assert (env["TRIPL_DB_POOL_SIZE"], env["TRIPL_DB_MAX_OVERFLOW"]) == ("5", "5")
    env = {"TRIPL_DB_POOL_SIZE": "30"}  # explicit settings win
    _split_db_pool(env, 4)
    assert env["TRIPL_DB_POOL_SIZE"] == "30" and env["TRIPL_DB_MAX_OVERFLOW"] == "5"
    env = {}
    _split_db_pool(env, 1)
    assert env == {}


def test_tripl_up_writes_the_scan_run_limit_into_dagster_home(tmp_path, monkeypatch):
    """`tripl up` copies dagster.yaml with TRIPL_DAGSTER_SCAN_RUNS scan runs at a time plus one slot for the light
    runs (the demo: 2 + 1); without a number the repository's file is copied as it is (1 + 1)."""
    import yaml

    from tripl_core.cli import _dagster_home

    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # the repository's dagster.yaml

    def queue(home: Path) -> tuple[int, int, int]:
        cfg = yaml.safe_load((home / "dagster.yaml").read_text())["run_coordinator"]["config"]
        limits = {t["key"]: t["limit"] for t in cfg["tag_concurrency_limits"]}
        return cfg["max_concurrent_runs"], limits["dagster/backfill"], cfg["dequeue_interval_seconds"]

    settings = SimpleNamespace(data_dir=tmp_path / "a")
    assert queue(_dagster_home(settings)) == (2, 1, 2)
    settings = SimpleNamespace(data_dir=tmp_path / "b")
    assert queue(_dagster_home(settings, scan_runs=2)) == (3, 2, 2)
