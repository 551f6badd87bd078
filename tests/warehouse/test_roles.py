"""Test Data Source Connection reports the role's privileges and refuses a superuser or a role that can write
(unless extra_params.allow_write_access is true); the tests' warehouse role is read-only (issue 21)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from tests.warehouse.helpers import DS, error_loc, pg_source
from tripl_core.warehouse.roles import clickhouse_privileges


def _admin_parts(pg_server_url: str, database: str) -> dict:
    url = make_url(pg_server_url.replace("postgresql+psycopg://", "postgresql://"))
    return {"host": url.host or url.query.get("host") or "localhost", "port": url.port or 5432,
            "database": database, "username": url.username or "", "password": url.password or ""}


def _dsn(parts: dict) -> dict:
    return {"host": parts["host"], "port": parts["port"], "dbname": parts["database"],
            "user": parts["username"] or None, "password": parts["password"] or None}


def test_the_read_only_role_passes(owner, pg_warehouse):
    ds = pg_source(owner, pg_warehouse)
    body = owner.post(f"{DS}/{ds['id']}/test").json()
    assert body["success"] is True, body
    assert f"Role '{pg_warehouse['username']}' is read-only" in body["message"]


def test_a_superuser_is_refused(owner, pg_server_url, pg_warehouse):
    admin = _admin_parts(pg_server_url, pg_warehouse["database"])
    ds = pg_source(owner, admin, name="as superuser")
    body = owner.post(f"{DS}/{ds['id']}/test").json()
    assert body["success"] is False and body["data_source"]["last_test_status"] == "failed"
    assert "is a superuser" in body["message"] and "Refused" in body["message"]
    assert "allow_write_access" in body["message"]


def test_a_role_that_can_write_is_refused_naming_the_privilege(owner, pg_server_url, pg_warehouse):
    admin = _admin_parts(pg_server_url, pg_warehouse["database"])
    role = f"{pg_warehouse['database']}_writer"
    with psycopg.connect(**_dsn(admin), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        conn.execute(sql.SQL("GRANT SELECT, INSERT ON events TO {}").format(sql.Identifier(role)))
    ds = pg_source(owner, {**pg_warehouse, "username": role, "password": ""}, name="writer")
    body = owner.post(f"{DS}/{ds['id']}/test").json()
    assert body["success"] is False
    assert "can write" in body["message"] and "public.events" in body["message"]


def test_the_opt_in_turns_the_refusal_into_a_warning(owner, pg_server_url, pg_warehouse):
    admin = _admin_parts(pg_server_url, pg_warehouse["database"])
    ds = pg_source(owner, admin, name="accepted risk", extra_params={"allow_write_access": True})
    body = owner.post(f"{DS}/{ds['id']}/test").json()
    assert body["success"] is True
    assert body["message"].startswith("Connected to") and "Warning" in body["message"]
    assert "is a superuser" in body["message"]


def test_the_opt_in_must_be_a_boolean(owner, pg_warehouse):
    r = owner.post(DS, json={"name": "x", "db_type": "postgres", "host": "h", "database_name": "d",
                             "extra_params": {"allow_write_access": "yes"}})
    assert r.status_code == 422
    assert error_loc(r)[-1] == "allow_write_access"


def test_the_tests_reader_cannot_write_even_outside_a_read_only_session(pg_warehouse):
    """Defence in depth: the role itself, not only the session, refuses writes and DDL."""
    with psycopg.connect(**_dsn(pg_warehouse), autocommit=True) as conn:
        conn.execute("SET default_transaction_read_only = off")
        for statement in ("INSERT INTO events (ts, event, country, app_version, props) "
                          "VALUES (now(), 'x', 'x', 'x', '{}')", "CREATE TABLE stolen (x int)",
                          "DELETE FROM events", "SELECT pg_read_file('/etc/passwd')"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 2000


def test_clickhouse_grants_are_judged_from_show_grants(ch_adapter):
    everything = [str(r[0]) for r in ch_adapter.client.query("SHOW GRANTS").result_rows]  # the engine's answer
    found = clickhouse_privileges("default", 0, everything)
    assert not found.read_only and any(w.startswith("INSERT") for w in found.writes)
    assert clickhouse_privileges("r", 0, ["GRANT SELECT ON db.* TO r", "GRANT SHOW TABLES ON db.* TO r"]).read_only
    assert clickhouse_privileges("r", 1, everything).read_only  # a readonly settings profile
    assert not clickhouse_privileges("r", 0, ["GRANT reader TO r"],
                                     {"reader": ["GRANT INSERT ON db.t TO reader"]}).read_only
    hidden = clickhouse_privileges("r", 0, ["GRANT SELECT ON db.* TO r", "GRANT reader TO r"])
    assert not hidden.read_only and not hidden.verified


def test_clickhouse_server_check_runs_on_the_real_engine(ch_adapter):
    """The server path of `ClickHouseAdapter.privileges` (currentUser(), getSetting('readonly'), SHOW GRANTS), run
    by the real ClickHouse engine (chdb) rather than parsed from strings: its default user holds every privilege,
    and Test Data Source Connection refuses it, naming the writes. chdb cannot create users or roles (CREATE USER /
    CREATE ROLE answer ACCESS_DENIED: the embedded engine has no access storage), so role setups are checked from
    SHOW GRANTS lines as ClickHouse prints them (next test)."""
    from types import SimpleNamespace

    from tripl_core.sources.data_sources import _judge_role
    from tripl_core.warehouse import ConnectionConfig, DBType
    from tripl_core.warehouse.clickhouse import ClickHouseAdapter

    server = ClickHouseAdapter(ConnectionConfig(db_type=DBType.clickhouse, host="ch.example", port=8123,
                                                database="default"))
    server._client = ch_adapter.client  # the engine answers; `close()` of a server adapter would close it
    try:
        found = server.privileges()
    finally:
        server._client = None
    assert found.role == "default" and found.verified and not found.read_only
    assert {"INSERT ON *.*", "ALTER ON *.*", "DROP ON *.*", "FILE ON *.*", "URL ON *.*"} <= set(found.writes)
    ok, message = _judge_role(SimpleNamespace(extra_params={}), found, "Connected.")
    assert not ok and message.startswith("Connected. Refused: Role 'default' can write (") and "INSERT ON *.*" in message
    ok, message = _judge_role(SimpleNamespace(extra_params={"allow_write_access": True}), found, "Connected.")
    assert ok and "Warning: Role 'default' can write" in message
    assert ch_adapter.privileges().read_only  # the embedded engine itself: every query runs with readonly=1


@pytest.mark.parametrize(("lines", "writes"), [
    # as ClickHouse prints them (docs: SHOW GRANTS, GRANT — column lists, quoted names, options, roles)
    (["GRANT SELECT ON analytics.* TO tripl_reader"], []),
    (["GRANT SELECT(id, name) ON db.table TO john WITH GRANT OPTION"], []),
    (["GRANT SHOW TABLES, SELECT(ts, event) ON db.events TO r", "REVOKE SELECT(email) ON db.users FROM r"], []),
    (["GRANT SELECT ON `my db`.`events table` TO `tripl reader`"], []),
    (["GRANT INSERT(id, name), SELECT ON db.t TO r"], ["INSERT(id, name) ON db.t"]),
    (["GRANT ALTER UPDATE, ALTER DELETE ON db.* TO r"], ["ALTER UPDATE ON db.*", "ALTER DELETE ON db.*"]),
    (["GRANT ALL ON *.* TO admin WITH GRANT OPTION"], ["ALL ON *.*"]),
    (["GRANT SELECT ON *.* TO r", "GRANT FILE, URL ON *.* TO r"], ["FILE ON *.*", "URL ON *.*"]),
])
def test_clickhouse_show_grants_lines_as_clickhouse_prints_them(lines, writes):
    found = clickhouse_privileges("r", 0, lines)
    assert found.writes == writes and found.read_only == (not writes)


def test_clickhouse_roles_are_followed_into_their_grants():
    lines = ["GRANT SELECT ON db.* TO tripl", "GRANT reader, `data team` TO tripl WITH ADMIN OPTION"]
    readers = {"reader": ["GRANT SELECT(ts, event) ON db.events TO reader"],
               "data team": ["GRANT SHOW DATABASES ON *.* TO `data team`"]}
    assert clickhouse_privileges("tripl", 0, lines, readers).read_only
    writers = {**readers, "data team": ["GRANT INSERT ON db.events TO `data team`"]}
    assert clickhouse_privileges("tripl", 0, lines, writers).writes == ["INSERT ON db.events"]
