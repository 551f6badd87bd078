"""Warehouse roles: what the connecting role may do (for Test Data Source Connection), and read-only roles.

A data source should connect as a role that can only read: the base-query checker is one layer, the session's
read-only mode another, and the role's own privileges the last one, the only one that holds whatever a parser
misses. `Privileges` is what an adapter found out about its role; `ensure_postgres_reader` creates the read-only
role the demo and the tests connect through (docs/warehouses.md shows the same statements for each engine).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

ALLOW_WRITE_KEY = "allow_write_access"  # extra_params flag: accept a role that can write (Test answers a warning)


@dataclass(frozen=True)
class Privileges:
    """The connecting role: `writes` lists what it may change (empty: read-only); `verified` is false when the
    engine would not say (then it is treated as unsafe unless the owner opted in)."""

    role: str
    superuser: bool = False
    writes: list[str] = field(default_factory=list)
    verified: bool = True
    note: str = ""

    @property
    def read_only(self) -> bool:
        return self.verified and not self.superuser and not self.writes

    def describe(self) -> str:
        if not self.verified:
            return f"Could not verify the privileges of role '{self.role}': {self.note}"
        if self.read_only:
            return f"Role '{self.role}' is read-only{': ' + self.note if self.note else '.'}"
        parts = (["is a superuser"] if self.superuser else []) + \
            ([f"can write ({'; '.join(self.writes[:8])}{'; …' if len(self.writes) > 8 else ''})"]
             if self.writes else [])
        return f"Role '{self.role}' {' and '.join(parts)}."


# Run by tripl itself (not user SQL), inside the adapter's read-only session.
POSTGRES_PRIVILEGES_SQL = """
SELECT current_user AS role, r.rolsuper AS superuser,
       array_remove(ARRAY[
           CASE WHEN r.rolcreaterole THEN 'CREATEROLE' END, CASE WHEN r.rolcreatedb THEN 'CREATEDB' END,
           CASE WHEN r.rolreplication THEN 'REPLICATION' END, CASE WHEN r.rolbypassrls THEN 'BYPASSRLS' END,
           CASE WHEN has_database_privilege(current_database(), 'CREATE') THEN 'CREATE on database ' ||
               current_database() END], NULL)
       || ARRAY(SELECT 'member of ' || g.rolname FROM pg_roles g
                WHERE g.rolname IN ('pg_write_server_files', 'pg_read_server_files', 'pg_execute_server_program',
                                    'pg_signal_backend', 'pg_write_all_data', 'pg_checkpoint')
                  AND pg_has_role(current_user, g.oid, 'USAGE') ORDER BY 1)
       || ARRAY(SELECT 'CREATE on schema ' || n.nspname FROM pg_namespace n
                WHERE has_schema_privilege(n.oid, 'CREATE') AND n.nspname NOT LIKE 'pg\\_%%'
                  AND n.nspname <> 'information_schema' ORDER BY 1)
       || ARRAY(SELECT 'INSERT/UPDATE/DELETE/TRUNCATE on ' || n.nspname || '.' || c.relname
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT LIKE 'pg\\_%%'
                  AND n.nspname <> 'information_schema'
                  AND (has_table_privilege(c.oid, 'INSERT') OR has_table_privilege(c.oid, 'UPDATE')
                       OR has_table_privilege(c.oid, 'DELETE') OR has_table_privilege(c.oid, 'TRUNCATE'))
                ORDER BY 1 LIMIT 20) AS writes
FROM pg_roles r WHERE r.rolname = current_user
"""

# ClickHouse access types that only read or describe the granted databases (FILE, URL, REMOTE, … are sources
# outside the database: not writes, but not read-only either).
CLICKHOUSE_READ_GRANTS = frozenset({"SELECT", "SHOW", "SHOW DATABASES", "SHOW TABLES", "SHOW COLUMNS",
                                    "SHOW DICTIONARIES", "USAGE", "NONE", "CHECK"})
# `ON` takes backquoted names with spaces (`my db`.*); privileges may carry column lists (SELECT(id, name)).
_CH_GRANT = re.compile(r"^GRANT (?P<what>.+?)(?: ON (?P<on>(?:`[^`]*`|[^\s`])+))? TO (?P<to>.+?)"
                       r"(?: WITH (?:GRANT|ADMIN) OPTION)?$")
_CH_LIST = re.compile(r",\s*(?![^()]*\))")  # commas between privileges, not inside a column list


def clickhouse_privileges(user: str, readonly: int, grants: list[str],
                          role_grants: dict[str, list[str]] | None = None) -> Privileges:
    """From `SHOW GRANTS` lines (and each granted role's lines): read-only when the settings profile is
    read-only (`readonly` ≥ 1) or every privilege is a read one."""
    if readonly >= 1:
        return Privileges(role=user, note=f"its settings profile has readonly = {readonly}")
    writes: list[str] = []
    unknown: list[str] = []
    for line in grants:
        m = _CH_GRANT.match(line.strip())
        if not m:
            continue
        if m.group("on") is None:  # GRANT role1, role2 TO user
            for role in (r.strip().strip("`") for r in m.group("what").split(",")):
                if role_grants is not None and role in role_grants:
                    writes += clickhouse_privileges(role, 0, role_grants[role]).writes
                else:
                    unknown.append(role)
            continue
        for privilege in (p.strip() for p in _CH_LIST.split(m.group("what"))):
            if privilege.split("(")[0].strip().upper() not in CLICKHOUSE_READ_GRANTS:
                writes.append(f"{privilege} ON {m.group('on')}")
    if unknown and not writes:
        return Privileges(role=user, verified=False,
                          note=f"the grants of role(s) {', '.join(unknown)} are not visible to it")
    return Privileges(role=user, writes=writes)


def reader_name(database: str) -> str:
    """The read-only role tripl creates for a database it set up itself (demo, tests)."""
    return f"{database}_reader"[:63]


def ensure_postgres_reader(admin_dsn: str, database: str, role: str | None = None,
                           password: str | None = None) -> str:
    """Create (or refresh) a login role that can read every table of `database`'s public schema, now and later
    (default privileges of the admin that creates them), and nothing else. Returns the role name.

    `admin_dsn` is a libpq URL of a role allowed to create roles, pointing at `database`."""
    role = role or reader_name(database)
    ident = sql.Identifier(role)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if not exists:
            with contextlib.suppress(psycopg.errors.DuplicateObject):  # another process created it meanwhile
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                                     "NOBYPASSRLS").format(ident))
        conn.execute(sql.SQL("ALTER ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS "
                             "PASSWORD {}").format(ident, sql.Literal(password)))
        conn.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(ident))
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), ident))
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")  # PostgreSQL < 15 granted it to everyone
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(ident))
        conn.execute(sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {}")
                     .format(ident))
    return role
