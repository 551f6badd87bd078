"""Where the database is: the configured URL, or the embedded PostgreSQL started on first use."""

from __future__ import annotations

import os

import psycopg
from sqlalchemy.engine import make_url

from tripl_core import embedded
from tripl_core.settings import get_settings, reset_settings_cache


def ensure_database(migrate: bool = True) -> str:
    """Return the app database URL; in embedded mode start the server, export the URLs, and migrate.

    The URLs are exported into the environment so that child processes (API, Dagster) use the same server.
    """
    settings = get_settings()
    settings.resolved_secret_key()  # generated on first start (not on the first secret stored), as documented
    if settings.database_url:
        return settings.database_url
    pg = embedded.start(settings.data_dir)
    url = pg.url(embedded.APP_DB)
    os.environ["TRIPL_DATABASE_URL"] = url
    os.environ.setdefault("TRIPL_DAGSTER_DATABASE_URL", pg.url(embedded.DAGSTER_DB, driver="psycopg2"))
    os.environ.setdefault("TRIPL_DATA_DIR", str(settings.data_dir.resolve()))
    reset_settings_cache()
    if migrate:
        from tripl_core.migrations import upgrade

        upgrade(url)
    return url


def dagster_url_for(app_url: str) -> str:
    """Dagster's database beside an external app database: same server, database `dagster`, psycopg2 driver
    (dagster-postgres does not work on psycopg 3)."""
    url = make_url(app_url).set(drivername="postgresql+psycopg2", database=embedded.DAGSTER_DB)
    return url.render_as_string(hide_password=False)


def ensure_dagster_database(dagster_url: str) -> None:
    """Create Dagster's database if it is missing (best effort: a managed server may forbid CREATE DATABASE,
    in which case the operator creates it and Dagster reports a clear connection error otherwise)."""
    url = make_url(dagster_url)
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            if not conn.execute("select 1 from pg_database where datname = %s", (url.database,)).fetchone():
                conn.execute(f'create database "{url.database}"')
    except psycopg.Error as exc:
        print(f"could not check or create Dagster's database {url.database!r}: {exc}")
