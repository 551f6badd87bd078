"""Test fixtures: a real PostgreSQL (embedded pgserver, or TRIPL_TEST_DATABASE_URL), migrated with Alembic.

Each pytest process (xdist worker) gets its own database; each test starts from empty tables.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
_TMP = Path(tempfile.mkdtemp(prefix=f"tripl-test-{WORKER}-"))
# Removed at exit, after the embedded server stops (it registers its own atexit stop later, and atexit runs the
# last registered first): every run used to leave its ~70 MB server directory behind.
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)
SCRATCH = _TMP  # this process's scratch directory (chdb engines go in it too)
# Every stand-in server of the suite (Slack, Telegram, Jira, Linear, OpenAI, BigQuery, webhook receivers, loopback
# warehouses) listens on loopback, which the outbound policy refuses by default (tripl_core/outbound.py); the
# suite allows it explicitly, as an operator would. Tests of the policy itself set their own.
os.environ.setdefault("TRIPL_OUTBOUND_ALLOW", "127.0.0.0/8,::1/128")


def _server_url() -> str:
    """A libpq URL of a server we may create databases on."""
    external = os.environ.get("TRIPL_TEST_DATABASE_URL")
    if external:
        return external
    import pgserver

    srv = pgserver.get_server(str(_TMP / "pg"), cleanup_mode="stop")
    # A throw-away server: durability buys nothing here and fsyncs dominate test time on a busy machine.
    srv.psql("alter system set fsync = off; alter system set synchronous_commit = off; "
             "alter system set full_page_writes = off; select pg_reload_conf();")
    return srv.get_uri()


def _fresh_database(server_url: str, name: str) -> str:
    url = make_url(server_url.replace("postgresql+psycopg://", "postgresql://"))
    admin = url.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}"')
    return url.set(database=name, drivername="postgresql+psycopg").render_as_string(hide_password=False)


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> None:
    """argon2 with minimal cost: every owner/editor/viewer fixture hashes twice, at ~0.5 s each by default."""
    from argon2 import PasswordHasher

    from tripl_core.security import configure_hasher

    configure_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    return _server_url()


@pytest.fixture(scope="session")
def database_url(pg_server_url: str) -> Iterator[str]:
    url = _fresh_database(pg_server_url, f"tripl_test_{WORKER}")
    os.environ["TRIPL_DATABASE_URL"] = url
    os.environ["TRIPL_DATA_DIR"] = str(_TMP / "data")
    os.environ["TRIPL_SECRET_KEY"] = "test-secret-key-not-for-production"
    from tripl_core.db.session import reset_engines
    from tripl_core.migrations import upgrade
    from tripl_core.settings import reset_settings_cache

    reset_settings_cache()
    reset_engines()
    upgrade(url)
    yield url
    reset_engines()
    shutil.rmtree(_TMP / "data", ignore_errors=True)


@pytest.fixture(scope="session")
def app(database_url: str):
    from tripl_api.app import create_app

    return create_app()


@pytest.fixture(scope="session")
def _tables(database_url: str) -> list[str]:
    """The tables the migrations created (a model whose migration is not written yet has no table to empty)."""
    from sqlalchemy import create_engine, inspect

    engine = create_engine(database_url)
    try:
        return [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
    finally:
        engine.dispose()


def _is_superuser(conn) -> bool:
    return bool(conn.scalar(text("select rolsuper from pg_roles where rolname = current_user")))


@pytest.fixture(autouse=True)
def clean_db(request: pytest.FixtureRequest) -> Iterator[None]:
    """Empty every app table before a test that touches the database."""
    if "database_url" not in request.fixturenames:  # the closure: app, client, owner… all need it
        yield
        return
    tables = request.getfixturevalue("_tables")
    from tripl_core.db.session import get_engine
    from tripl_core.settings import reset_settings_cache

    # Empty only the tables the last test wrote to. DELETE with foreign-key triggers off (superuser, as on the
    # embedded server) is far cheaper than TRUNCATE, which creates and syncs new files for every table.
    probe = " union all ".join(f"select '{t}' where exists (select 1 from \"{t}\")" for t in tables)
    with get_engine().begin() as conn:
        dirty = list(conn.scalars(text(probe)))
        if dirty and _is_superuser(conn):
            conn.execute(text("set local session_replication_role = replica"))
            for table in dirty:
                conn.execute(text(f'delete from "{table}"'))
        elif dirty:
            conn.execute(text("truncate " + ", ".join(f'"{t}"' for t in dirty) + " restart identity cascade"))
    reset_settings_cache()
    yield


@pytest.fixture
def db(database_url: str):
    from tripl_core.db.session import new_session

    session = new_session()
    yield session
    session.close()


# What a browser sends with every POST/PUT/PATCH/DELETE from tripl's own pages: cookie-authenticated mutations
# without it are refused as cross-site (tripl_api/browser.py). TestClient's requests go to http://testserver.
SAME_ORIGIN = {"origin": "http://testserver"}


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, headers=SAME_ORIGIN) as c:
        yield c


def register(client: TestClient, email: str | None = None, password: str = "correct-horse-1",
             name: str | None = None) -> dict:
    email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
    r = client.post("/api/v1/auth/register", json={"email": email, "password": password, "name": name})
    assert r.status_code == 201, r.text
    return r.json()


def login(client: TestClient, email: str, password: str = "correct-horse-1") -> None:
    r = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text


@pytest.fixture
def owner(app, client: TestClient) -> TestClient:
    """A client logged in as the first user (the owner)."""
    user = register(client, "owner@example.com", name="Olive Owner")
    login(client, user["email"])
    client.user = user  # type: ignore[attr-defined]
    return client


def user_client(app, owner: TestClient, role: str) -> TestClient:
    """A second client logged in as a new user with `role` (set by the owner)."""
    c = TestClient(app, headers=SAME_ORIGIN)
    user = register(c, f"{role}-{uuid.uuid4().hex[:6]}@example.com", name=role.title())
    if role != "viewer":
        r = owner.patch(f"/api/v1/users/{user['id']}/role", json={"role": role})
        assert r.status_code == 200, r.text
    login(c, user["email"])
    c.user = user  # type: ignore[attr-defined]
    return c


@pytest.fixture
def editor(app, owner: TestClient) -> TestClient:
    return user_client(app, owner, "editor")


@pytest.fixture
def viewer(app, owner: TestClient) -> TestClient:
    return user_client(app, owner, "viewer")


@pytest.fixture
def project(owner: TestClient) -> dict:
    r = owner.post("/api/v1/projects", json={"name": "Shop App", "slug": "shop-app", "description": "Mobile shop"})
    assert r.status_code == 201, r.text
    return r.json()
