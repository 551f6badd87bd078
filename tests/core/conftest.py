"""Scratch databases for the foundation tests (migrations from empty, Dagster's database)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable

import psycopg
import pytest
from sqlalchemy.engine import make_url

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture
def scratch_db(pg_server_url: str) -> Callable[[str], tuple[str, str]]:
    """`make(prefix)` -> (name, libpq URL of the server's `postgres` database) for a database that does not exist.

    Scratch databases are never dropped: DROP DATABASE forces a checkpoint, which flushes everything the suite
    wrote so far (over a minute on a busy 2-core box). The embedded test server is thrown away with its temporary
    directory; on an external server (TRIPL_TEST_DATABASE_URL) names are fixed per worker and prefix and dropped
    before reuse, so at most one of each is left behind.
    """
    url = make_url(pg_server_url.replace("postgresql+psycopg://", "postgresql://"))
    admin = url.set(database="postgres").render_as_string(hide_password=False)
    external = bool(os.environ.get("TRIPL_TEST_DATABASE_URL"))

    def make(prefix: str) -> tuple[str, str]:
        name = f"{prefix}_{WORKER}" if external else f"{prefix}_{uuid.uuid4().hex[:8]}"
        if external:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'drop database if exists "{name}" with (force)')
        return name, admin

    return make


@pytest.fixture
def empty_db(pg_server_url: str, scratch_db) -> str:
    """A brand-new, empty database on the test server (SQLAlchemy URL)."""
    name, admin = scratch_db("tripl_fresh")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    url = make_url(pg_server_url.replace("postgresql+psycopg://", "postgresql://"))
    return url.set(database=name, drivername="postgresql+psycopg").render_as_string(hide_password=False)
