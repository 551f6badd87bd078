"""Where the database is: the configured URL, or the embedded PostgreSQL started on first use."""

from __future__ import annotations

import os

from tripl_core import embedded
from tripl_core.settings import get_settings, reset_settings_cache


def ensure_database(migrate: bool = True) -> str:
    """Return the app database URL; in embedded mode start the server, export the URLs, and migrate.

    The URLs are exported into the environment so that child processes (API, Dagster) use the same server.
    """
    settings = get_settings()
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
