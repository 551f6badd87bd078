"""`tripl up` end to end: embedded PostgreSQL in a fresh data directory, migrations, the API serving /docs, and
nothing left running after SIGTERM (the server included). Dagster is left out (--no-dagster) to keep it quick."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import psutil
import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ours(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in part for part in proc.info["cmdline"] or []):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return found


def test_up_serves_and_stops_cleanly(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIPL_")}
    env.update(TRIPL_DATA_DIR=str(tmp_path / "data"), TRIPL_PORT=str(port), TRIPL_LOG_LEVEL="warning")
    proc = subprocess.Popen([sys.executable, "-m", "tripl_core.cli", "up", "--no-dagster"], env=env,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "tripl up did not become ready"
            time.sleep(0.5)
        assert httpx.get(f"{base}/docs").status_code == 200
        assert (tmp_path / "data" / "secret_key").exists()  # generated on first start
        assert _ours(str(tmp_path)), "expected the embedded PostgreSQL to run from the data directory"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    assert proc.returncode == 0
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
