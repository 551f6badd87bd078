"""A warehouse database on the test PostgreSQL server, filled from a DataFrame: shared by the test areas that
scan a real PostgreSQL warehouse (tests/warehouse, tests/alerting_api)."""

from __future__ import annotations

import io
import secrets

import pandas as pd
import psycopg
from sqlalchemy.engine import make_url

from tripl_core.warehouse.roles import ensure_postgres_reader


def create_warehouse_db(server_url: str, name: str, create_table: str, table: str, rows: pd.DataFrame) -> dict:
    """(Re)create database `name`, run `create_table` in it and COPY `rows` into `table`.

    Returns the connection parts a postgres ConnectionConfig takes (host, port, database, username, password) of
    a read-only role (`<name>_reader`: SELECT on the public schema, nothing else), as data sources should use,
    and `admin_dsn`, the server's own role on that database, for tests that add tables later.
    """
    url = make_url(server_url.replace("postgresql+psycopg://", "postgresql://"))
    with psycopg.connect(url.set(database="postgres").render_as_string(hide_password=False),
                         autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(f'create database "{name}"')
    with psycopg.connect(url.set(database=name).render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(create_table)
        buf = io.StringIO()
        rows.to_csv(buf, index=False, header=False)
        with conn.cursor().copy(f"copy {table} from stdin (format csv)") as copy:
            copy.write(buf.getvalue())
    password = secrets.token_urlsafe(12)
    reader = ensure_postgres_reader(url.set(database=name).render_as_string(hide_password=False), name,
                                    password=password)
    # pgserver listens on a Unix socket: the host is then the socket directory (?host=… in the URL).
    return {"host": url.host or url.query.get("host") or "localhost", "port": url.port or 5432,
            "database": name, "username": reader, "password": password,
            "admin_dsn": url.set(database=name).render_as_string(hide_password=False)}  # for loading more rows
