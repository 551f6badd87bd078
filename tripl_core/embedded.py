"""The zero-setup default: an embedded PostgreSQL (pgserver) in the data directory.

It hosts the app database (`tripl`), Dagster's own database (`dagster`, its table names clash with ours) and, for
the demo, a `warehouse` database of synthetic raw events.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

APP_DB = "tripl"
DAGSTER_DB = "dagster"
WAREHOUSE_DB = "warehouse"


@dataclass(frozen=True)
class EmbeddedPostgres:
    """A running pgserver instance; `socket_dir` is its unix socket directory."""

    pgdata: Path
    socket_dir: str
    user: str = "postgres"

    def url(self, database: str, driver: str = "psycopg") -> str:
        return f"postgresql+{driver}://{self.user}@/{database}?host={quote(self.socket_dir)}"

    def libpq_dsn(self, database: str) -> str:
        return f"host={self.socket_dir} user={self.user} dbname={database}"

    def ensure_database(self, name: str) -> None:
        with psycopg.connect(self.libpq_dsn("postgres"), autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(f'create database "{name}"')


def start(data_dir: Path) -> EmbeddedPostgres:
    """Start (or attach to) the embedded server and make sure our databases exist."""
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime directory when imported; without XDG_RUNTIME_DIR (containers,
        # CI) that was a two-line warning on every start, and the /tmp fallback it takes is fine.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pgserver  # imported lazily: only embedded mode needs it

    pgdata = (data_dir / "pg").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(pgdata), cleanup_mode="stop")
    uri = server.get_uri()
    socket_dir = uri.split("host=", 1)[1]
    pg = EmbeddedPostgres(pgdata=pgdata, socket_dir=socket_dir)
    for name in (APP_DB, DAGSTER_DB):
        pg.ensure_database(name)
    _keep_alive.append(server)
    return pg


_keep_alive: list[object] = []
