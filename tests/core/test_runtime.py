"""Where Dagster's storage goes: beside the app database, in its own `dagster` database."""

from __future__ import annotations

import psycopg
from sqlalchemy.engine import make_url

from tripl_core.runtime import dagster_url_for, ensure_dagster_database


def test_dagster_url_is_derived_from_an_external_app_url():
    url = dagster_url_for("postgresql+psycopg://ann:s3cret@db.internal:5433/tripl?sslmode=require")
    parsed = make_url(url)
    assert parsed.drivername == "postgresql+psycopg2"
    assert (parsed.host, parsed.port, parsed.database) == ("db.internal", 5433, "dagster")
    assert parsed.password == "s3cret" and parsed.query == {"sslmode": "require"}


def test_embedded_style_socket_urls_keep_their_host():
    url = dagster_url_for("postgresql+psycopg://postgres@/tripl?host=/tmp/x/pg")
    assert make_url(url).query["host"] == "/tmp/x/pg" and make_url(url).database == "dagster"


def test_ensure_dagster_database_creates_it_once(pg_server_url, scratch_db):
    name, admin = scratch_db("dagster")
    url = make_url(pg_server_url.replace("postgresql+psycopg://", "postgresql://"))
    target = url.set(drivername="postgresql+psycopg2", database=name).render_as_string(hide_password=False)
    ensure_dagster_database(target)
    ensure_dagster_database(target)  # idempotent
    with psycopg.connect(admin) as conn:
        assert conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
