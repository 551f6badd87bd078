"""The app database restarts under load: the API answers 503 with a JSON body while it is away (never 500), comes
back by itself once it is up again (pool pre-ping, no API restart), and every write it acknowledged is stored.

Real parts: a second embedded PostgreSQL of this test's own (the suite's server must keep running), stopped the
hard way (`pg_ctl stop -m immediate`: a crash, then crash recovery) and started again, and the API as uvicorn in a
process of its own under concurrent writers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from urllib.parse import unquote

import httpx
import psycopg
import pytest

from tests.conftest import SCRATCH
from tests.serving import free_port, wait_ready
from tripl_core.processes import stop_groups

pytestmark = pytest.mark.slow


class _Postgres:
    """A pgserver instance we may stop and start (pgserver itself only starts and, at exit, stops)."""

    def __init__(self, pgdata) -> None:
        import pgserver

        self.server = pgserver.get_server(str(pgdata), cleanup_mode="stop")
        # fsync off keeps a busy test machine's disk out of it; a crash of the server (not of the OS) keeps what
        # was written either way. synchronous_commit stays on: a commit is acknowledged once its WAL is written.
        self.server.psql("alter system set fsync = off; select pg_reload_conf();")
        self.uri = self.server.get_uri()
        self.socket_dir = unquote(self.uri.split("host=", 1)[1])

    def _pg_ctl(self, args: list[str]) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(args, pgdata=self.server.pgdata, user=self.server.system_user, timeout=60)

    def crash(self) -> None:
        self._pg_ctl(["-w", "stop", "-m", "immediate"])

    def start(self) -> None:
        self._pg_ctl(["-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.server.log), "start"])


def test_the_api_answers_503_while_the_database_restarts_and_loses_no_acknowledged_write(tmp_path):
    from tripl_core.migrations import upgrade

    # In the suite's scratch directory, whose prefix the server's OS user may traverse (pytest's tmp_path is 0700).
    pg = _Postgres(SCRATCH / f"pg-restart-{uuid.uuid4().hex[:8]}")
    with psycopg.connect(pg.uri, autocommit=True) as conn:
        conn.execute("create database tripl_restart")
    libpq = pg.uri.replace("/postgres?", "/tripl_restart?")
    url = libpq.replace("postgresql://", "postgresql+psycopg://")
    upgrade(url)

    port = free_port()
    # A file, not a pipe nobody reads while the test runs: a full pipe blocks the API's logging, and the API.
    log = (tmp_path / "api.log").open("wb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIPL_")}
    env.update(TRIPL_DATABASE_URL=url, TRIPL_DATA_DIR=str(tmp_path / "data"), TRIPL_DB_POOL_SIZE="4",
               TRIPL_DB_MAX_OVERFLOW="2", TRIPL_LOG_LEVEL="warning")
    api = subprocess.Popen([sys.executable, "-m", "uvicorn", "tripl_api.app:create_app", "--factory",
                            "--host", "127.0.0.1", "--port", str(port), "--no-proxy-headers"],
                           env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    results: list[tuple[str, int, str]] = []  # (slug, status, content-type or the failure)
    stop = threading.Event()
    writers: list[threading.Thread] = []
    try:
        wait_ready(api, base, 60, (tmp_path / "api.log").read_text)
        creds = {"email": "owner@example.com", "password": "correct-horse-1"}
        with httpx.Client(base_url=base, headers={"Origin": base}, timeout=10) as c:
            assert c.post("/api/v1/auth/register", json=creds).status_code == 201
            assert c.post("/api/v1/auth/login", json=creds).status_code == 200
            token = c.post("/api/v1/api-keys", json={"name": "load", "scope": "write"}).json()["token"]

        def writer(n: int) -> None:
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
                i = 0
                while not stop.is_set():
                    slug = f"w{n}-{i}"
                    i += 1
                    try:
                        r = c.post("/api/v1/projects", json={"name": slug, "slug": slug})
                        kind = r.headers.get("content-type", "")
                        if r.status_code == 503 and not (r.json().get("detail") and r.headers.get("retry-after")):
                            kind = f"503 without detail or Retry-After: {r.text[:200]}"
                        results.append((slug, r.status_code, kind))
                    except httpx.HTTPError as exc:  # the connection itself failed: not acknowledged
                        results.append((slug, -1, type(exc).__name__))
                    time.sleep(0.02)

        writers.extend(threading.Thread(target=writer, args=(n,)) for n in range(4))
        for t in writers:
            t.start()
        deadline = time.monotonic() + 60
        while sum(status == 201 for _, status, _ in results) < 8:  # under way: writes are being acknowledged
            assert time.monotonic() < deadline, f"no writes before the crash: {results[-5:]}"
            time.sleep(0.1)
        pg.crash()
        down_at = len(results)
        time.sleep(2.0)
        pg.start()
        up_at = len(results)
        deadline = time.monotonic() + 90
        while not any(status == 201 for _, status, _ in results[up_at:]):
            assert time.monotonic() < deadline, ("the API did not recover after the database came back: "
                                                 f"{results[up_at:][-5:]}")
            time.sleep(0.2)
        time.sleep(1.0)
    finally:
        stop.set()
        for t in writers:
            t.join(timeout=30)
        stop_groups([api], grace=20)
        log.close()

    statuses = [status for _, status, _ in results]
    assert 500 not in statuses and not [s for s in statuses if s > 500 and s != 503], sorted(set(statuses))
    during = statuses[down_at:up_at]
    assert 503 in during, f"expected 503 answers while the database was down, got {sorted(set(during))}"
    assert all(ctype.startswith("application/json") for _, s, ctype in results if s == 503)
    assert statuses[:down_at].count(201) > 0 and statuses[up_at:].count(201) > 0
    acknowledged = {slug for slug, status, _ in results if status == 201}
    with psycopg.connect(libpq) as conn:
        stored = {row[0] for row in conn.execute("select slug from projects")}
    assert acknowledged <= stored, f"acknowledged but lost: {sorted(acknowledged - stored)[:10]}"
    print(f"{len(results)} writes: {statuses.count(201)} acknowledged, {statuses.count(503)} answered 503, "
          f"{statuses.count(-1)} connection errors {[k for _, s, k in results if s == -1]}; all acknowledged rows "
          f"stored ({len(stored)} rows)")
