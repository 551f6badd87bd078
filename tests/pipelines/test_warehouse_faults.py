"""The warehouse goes away in the middle of a scan (issue 21, item 5): the job fails with a clear reason, no
window is left half-written, the next run catches up and a repeated run adds no duplicate points.

The fault is real: the scan's data source points at a TCP forwarder in front of the test PostgreSQL, which
starts refusing connections (or accepts and never answers) after a number of them — the Postgres adapter opens
one connection per query, so that is part-way through the replay.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import text

from tests.pipelines.conftest import make_config
from tests.pipelines.data import LAST
from tests.pipelines.helpers import replay, snapshot

WINDOW = (LAST - timedelta(days=1), LAST + timedelta(days=1))  # two day partitions


class Forwarder:
    """Forwards loopback TCP connections to the test PostgreSQL (TCP or its Unix socket). After `budget`
    connections it refuses further ones (`mode="refuse"`: closes its listener) or accepts and never answers them
    (`mode="stall"`)."""

    def __init__(self, pg: dict) -> None:
        host, port = pg["host"], pg["port"]
        self._upstream = (f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port))
        self.budget: int | None = None
        self.mode = "refuse"
        self.connections = 0
        self._held: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _connect_upstream(self) -> socket.socket:
        if isinstance(self._upstream, str):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self._upstream)
            return s
        return socket.create_connection(self._upstream)

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            if self.budget is not None and self.connections > self.budget:
                self._held.append(client)  # accepted, never answered: the client's timeout fires
                continue
            upstream = self._connect_upstream()
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()
            if self.mode == "refuse" and self.budget is not None and self.connections >= self.budget:
                self._listener.close()  # from now on: connection refused
                return

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self._stop = True
        with contextlib.suppress(OSError):
            self._listener.close()
        for s in self._held:
            s.close()


@pytest.fixture
def forwarder(pipe_pg: dict) -> Iterator[Forwarder]:
    fwd = Forwarder(pipe_pg)
    yield fwd
    fwd.close()


def _proxied_scan(owner, pipe_pg: dict, port: int, name: str) -> dict:
    r = owner.post("/api/v1/data-sources", json={
        "name": name, "db_type": "postgres", "host": "127.0.0.1", "port": port, "database_name": pipe_pg["database"],
        "username": pipe_pg["username"], "password": pipe_pg["password"], "timeout_seconds": 2})
    assert r.status_code == 201, r.text
    return make_config(owner, r.json(), name=name)


def _warehouse_rows(pipe_pg: dict) -> int:
    host = pipe_pg["host"]
    with psycopg.connect(host=host, port=pipe_pg["port"], dbname=pipe_pg["database"],
                         user=pipe_pg["username"] or None, password=pipe_pg["password"] or None) as conn:
        return conn.execute("SELECT count(*) FROM pipe_events WHERE ts >= %s AND ts < %s", WINDOW).fetchone()[0]


def _day_totals(db, scan_id: str) -> dict:
    return dict(db.execute(text(
        "SELECT date_trunc('day', bucket), count(*) FROM metric_points WHERE scope_type = 'project_total' "
        "AND scan_config_id = :s GROUP BY 1"), {"s": scan_id}).all())


def test_warehouse_lost_mid_scan_fails_cleanly_and_the_next_run_catches_up(owner, plan, pipe_pg, db, forwarder):
    scan = _proxied_scan(owner, pipe_pg, forwarder.port, "proxied")
    # a clean run counts the connections a replay of the window opens — the second one: the config's first scan
    # also samples before aggregating (to freeze histogram bins), later ones read both days in three statements
    assert replay(db, scan, *WINDOW).status.value == "succeeded"
    forwarder.connections = 0
    clean = replay(db, scan, *WINDOW)
    assert clean.status.value == "succeeded", clean.error_message
    needed, reference = forwarder.connections, snapshot(db)
    assert needed >= 2
    db.execute(text("DELETE FROM metric_points WHERE scan_config_id = :s"), {"s": scan["id"]})
    db.commit()

    fwd = forwarder
    for mode, expected in (("refuse", "connection refused"), ("stall", "timeout expired")):
        fwd.connections, fwd.budget, fwd.mode = 0, needed // 2, mode
        failed = replay(db, scan, *WINDOW)
        db.expire_all()
        assert failed.status.value == "failed"
        assert expected in (failed.error_message or "").lower(), failed.error_message
        # each day partition is all or nothing: never a half-written day
        assert set(_day_totals(db, scan["id"]).values()) <= {24}

        # the warehouse is back (behind a new forwarder port; the data source follows it)
        fwd.close()
        fwd = Forwarder(pipe_pg)
        db.execute(text("UPDATE data_sources SET port = :p WHERE name = :n"), {"p": fwd.port, "n": scan["name"]})
        db.commit()
        caught_up = replay(db, scan, *WINDOW)
        assert caught_up.status.value == "succeeded", caught_up.error_message
        assert snapshot(db) == reference  # exactly one clean run's rows: no gap, no duplicate after the retry
    fwd.close()
    totals = _day_totals(db, scan["id"])
    assert len(totals) == 2 and set(totals.values()) == {24}
    counted = db.execute(text("SELECT sum(count) FROM metric_points WHERE scope_type = 'project_total' "
                              "AND scan_config_id = :s"), {"s": scan["id"]}).scalar()
    assert counted == _warehouse_rows(pipe_pg)


def test_postgres_connects_to_the_address_the_policy_checked(pipe_pg, forwarder, monkeypatch):
    """DNS rebinding: tripl resolves the name, checks it and hands the driver that address (libpq `hostaddr`).
    The name's first answer is the forwarder; every later answer is another address where nothing listens, so
    only a connection to the checked address succeeds."""
    from tripl_core.warehouse import ConnectionConfig, DBType, connect

    real = socket.getaddrinfo
    answers: list[str] = []

    def resolver(host, *args, **kwargs):
        if host == "warehouse.rebind.test":
            answers.append("127.0.0.1" if not answers else "127.0.0.3")
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[-1], 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    cfg = ConnectionConfig(db_type=DBType.postgres, host="warehouse.rebind.test", port=forwarder.port,
                           database=pipe_pg["database"], username=pipe_pg["username"],
                           password=pipe_pg["password"], timeout_seconds=5)
    assert "PostgreSQL" in connect(cfg).test_connection()
    assert forwarder.connections >= 1
