"""Checks on user SQL (`base_query`): exactly one read-only SELECT, no file/network/system access.

The query is parsed with sqlglot in the source's dialect and only sqlglot's re-rendering of the parsed tree is
ever sent to the warehouse (comments dropped), so text the parser did not see (comment tricks, a second
statement hidden after a quote) cannot reach the engine. Execution is read-only on top of this (see adapters).
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from tripl_core.errors import Invalid

FIELD = "base_query"

# Statement and clause nodes that write, change session state, or lock.
_FORBIDDEN_NODES: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name) for name in (
        "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "TruncateTable", "Command", "Set",
        "Into", "Copy", "Grant", "Use", "Pragma", "Transaction", "Commit", "Rollback", "LoadData", "Lock",
        "Describe", "Analyze", "Kill", "Cache", "Uncache", "Refresh", "Summarize", "Revoke",
    ) if hasattr(exp, name)
)

# Table functions and functions that read files, URLs, other servers, or run SQL given as a string.
FORBIDDEN_FUNCTIONS = frozenset(f.lower() for f in (
    # ClickHouse table functions
    "file", "fileCluster", "url", "urlCluster", "s3", "s3Cluster", "gcs", "oss", "cosn", "azureBlobStorage",
    "azureBlobStorageCluster", "hdfs", "hdfsCluster", "remote", "remoteSecure", "cluster", "clusterAllReplicas",
    "mysql", "postgresql", "mongodb", "redis", "sqlite", "odbc", "jdbc", "executable", "input", "deltaLake",
    "iceberg", "icebergS3", "hudi", "merge", "loop", "dictionary", "fuzzJSON", "fuzzQuery", "mergeTreeIndex",
    "getSetting", "arrowFlight", "ytsaurus",
    # PostgreSQL functions with side effects or hidden SQL
    "set_config", "query_to_xml", "query_to_xml_and_xmlschema", "query_to_xmlschema", "cursor_to_xml",
    "table_to_xml", "table_to_xml_and_xmlschema", "schema_to_xml", "database_to_xml", "dblink", "dblink_exec",
    "dblink_connect", "lo_import", "lo_export", "lo_get", "lo_open", "lo_from_bytea", "lo_put", "nextval",
    "setval", "currval", "txid_current",
    # BigQuery
    "external_query", "external_object_transform",
))
# PostgreSQL admin functions (pg_read_file, pg_terminate_backend, …): refuse the prefix except harmless ones.
_PG_ALLOWED = frozenset({"pg_typeof"})
_SYSTEM_SCHEMAS = frozenset({"system", "information_schema", "pg_catalog", "pg_toast", "mysql"})


def _fail(reason: str) -> Invalid:
    return Invalid(FIELD, reason)


def _function_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    name = node.sql_name() if isinstance(node, exp.Func) else ""
    return name.lower()


def _check_table(table: exp.Table, dialect: str) -> None:
    parts = [p.lower() for p in (table.catalog, table.db, table.name) if p]
    joined = ".".join(parts)
    if any(p in _SYSTEM_SCHEMAS for p in parts) or "information_schema" in joined:
        raise _fail(f"System tables are not allowed ({joined}).")
    if dialect == "postgres" and table.name.lower().startswith("pg_"):
        raise _fail(f"System catalogs are not allowed ({table.name}).")


def _check_function(node: exp.Expression) -> None:
    name = _function_name(node)
    if not name:
        return
    if name in FORBIDDEN_FUNCTIONS or (name.startswith("pg_") and name not in _PG_ALLOWED):
        raise _fail(f"Function '{name}' is not allowed: it reads files, other servers, or changes state.")


def parse_base_query(sql: str, dialect: str) -> exp.Query:
    """Parse and check `sql`; return the SELECT tree. Raises Invalid("base_query", reason) on anything else."""
    if not sql or not sql.strip():
        raise _fail("The query is empty.")
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except SqlglotError as exc:
        raise _fail(f"Cannot parse the query as {dialect} SQL: {str(exc).splitlines()[0]}") from exc
    if len(statements) != 1:
        raise _fail(f"Exactly one SELECT statement is allowed; found {len(statements)}.")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise _fail(f"Only SELECT queries are allowed, not {tree.key.upper()}.")
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            raise _fail(f"{node.key.upper()} is not allowed inside a read-only query.")
        if isinstance(node, exp.Table):
            _check_table(node, dialect)
        elif isinstance(node, exp.Func):
            _check_function(node)
    for clause in ("settings", "format", "into", "locks"):
        if tree.args.get(clause):
            raise _fail(f"The {clause.upper()} clause is not allowed in a base query.")
    return tree


def normalized_base_query(sql: str, dialect: str) -> str:
    """The checked query as it will be sent (sqlglot's rendering, without comments)."""
    return parse_base_query(sql, dialect).sql(dialect=dialect, comments=False)
