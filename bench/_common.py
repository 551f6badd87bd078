"""Start-up shared by the benchmarks, so each script holds only what it measures.

An embedded PostgreSQL (the same start-up `tripl up` uses) in a temporary directory, migrated to heads, with the
`TRIPL_*` environment pointing at it; a free port for an API subprocess; a percentile helper. Scripts run as
`python bench/<name>.py`, so `bench/` is on `sys.path` and they import this as `_common`; importing it also puts
the repository root on `sys.path` so `tripl_core` imports without installing.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
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


def free_port() -> int:
    """A TCP port nobody listens on now, for an API subprocess."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of durations in seconds, in milliseconds."""
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] * 1000
