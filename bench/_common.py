"""Start-up shared by the benchmarks, so each script holds only what it measures.

An embedded PostgreSQL (the same start-up `tripl up` uses) in a temporary directory, migrated to heads, with the
`TRIPL_*` environment pointing at it; a free port for an API subprocess, which `start_api`/`wait_ready`/`stop_api`
run under uvicorn; a percentile helper; the load average to print with the figures. Scripts run as
`python bench/<name>.py`, so `bench/` is on `sys.path` and they import this as `_common`; importing it also puts
the repository root on `sys.path` so `tripl_core` imports without installing.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def start_database(tmp: Path) -> str:
    """Embedded PostgreSQL in `tmp`, migrated; returns the app database URL."""
    from tripl_core import embedded
    from tripl_core.migrations import upgrade

    pg = embedded.start(tmp)
    url = pg.url(embedded.APP_DB)
    upgrade(url)
    return url


def stop_database(tmp: Path) -> None:
    """Close our connections, stop the embedded server and remove `tmp` (the server must stop before its files go)."""
    from tripl_core import embedded
    from tripl_core.db.session import reset_engines

    reset_engines()
    for server in embedded._keep_alive:
        server._cleanup()  # pgserver's own atexit hook, run early (it is idempotent)
    shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def bench_database(prefix: str) -> Iterator[tuple[Path, str]]:
    """A migrated database in a fresh temporary directory, with this process's `TRIPL_*` environment set to use it
    (before anything reads the settings); yields (directory, URL) and removes it all afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        from tripl_core import embedded

        url = embedded.start(tmp).url(embedded.APP_DB)
        os.environ.update(TRIPL_DATABASE_URL=url, TRIPL_DATA_DIR=str(tmp / "data"), TRIPL_SECRET_KEY="bench")
        from tripl_core.migrations import upgrade

        upgrade(url)
        yield tmp, url
    finally:
        stop_database(tmp)


def scratch_dir(prefix: str) -> Path:
    """A temporary directory removed when this process exits (after an embedded server started in it has been
    stopped: atexit runs last-registered first, and the server registers its own stop later). Benchmarks load
    gigabytes; leftovers filled the disk."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def free_port() -> int:
    """A TCP port nobody listens on now, for an API subprocess."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of durations in seconds, in milliseconds."""
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] * 1000


def start_api(url: str, tmp: Path, port: int, workers: int = 1, root: Path = ROOT) -> subprocess.Popen:
    """The API under uvicorn as a subprocess in its own process group (stop it with `stop_api`). `root`: the
    source tree to run (another revision's checkout, to compare with, in the same run on the same database)."""
    env = dict(os.environ, TRIPL_DATABASE_URL=url, TRIPL_DATA_DIR=str(tmp), TRIPL_SECRET_KEY="bench-secret",
               PYTHONPATH=str(root))
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tripl_api.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
        env=env, cwd=root, start_new_session=True,
    )


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 60.0, path: str = "/readyz") -> None:
    """Until `path` answers 200 (SystemExit if the API exits or does not get ready in time). An older revision's
    API is never "ready" on a database with newer migrations: wait for `/healthz` then."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the API exited with {proc.returncode} before it was ready")
        try:
            if httpx.get(f"{base}{path}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the API did not become ready in time")


def stop_api(proc: subprocess.Popen | None) -> None:
    """SIGTERM the API's process group, SIGKILL after 15 s."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def load_average() -> str:
    """The 1/5/15-minute load averages, to print next to figures measured on a shared machine."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())
