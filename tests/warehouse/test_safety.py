"""User SQL checks: one read-only SELECT per dialect; everything else is a 422 on base_query."""

from __future__ import annotations

import pytest

from tripl_core.errors import Invalid
from tripl_core.warehouse.safety import normalized_base_query, parse_base_query

DIALECTS = ["clickhouse", "postgres", "bigquery"]

ALLOWED = [
    "SELECT * FROM events",
    "WITH recent AS (SELECT * FROM events WHERE amount > 1) SELECT event, COUNT(*) FROM recent GROUP BY event",
    "SELECT a.event FROM events AS a JOIN (SELECT event FROM events) AS b ON a.event = b.event",
    "SELECT event FROM events UNION ALL SELECT event FROM events",
    "SELECT event, ROW_NUMBER() OVER (PARTITION BY country ORDER BY ts) AS rn FROM events",
    "SELECT * FROM events -- a trailing comment",
    "SELECT * FROM events WHERE country LIKE 'U%'",
]

REFUSED = [
    ("SELECT 1; DROP TABLE events", "one SELECT"),
    ("SELECT 1; -- harmless\nDELETE FROM events", "one SELECT"),
    ("SELECT 1 /* ; */; DROP TABLE events", "one SELECT"),
    ("DROP TABLE events", "Only SELECT"),
    ("DELETE FROM events WHERE 1 = 1", "Only SELECT"),
    ("INSERT INTO events (event) VALUES ('x')", "Only SELECT"),
    ("UPDATE events SET event = 'x'", "Only SELECT"),
    ("CREATE TABLE t AS SELECT * FROM events", "Only SELECT"),
    ("ALTER TABLE events ADD COLUMN x INT", "Only SELECT"),
    ("TRUNCATE TABLE events", "Only SELECT"),
    ("SET statement_timeout = 0", "Only SELECT"),
    ("", "empty"),
    ("   ", "empty"),
    ("SELEC * FROM events", ""),
]

PER_DIALECT = [
    ("clickhouse", "SELECT * FROM file('/etc/passwd', 'CSV')", "file"),
    ("clickhouse", "SELECT * FROM url('http://evil.example/x', CSV)", "url"),
    ("clickhouse", "SELECT * FROM s3('https://bucket/x.parquet')", "s3"),
    ("clickhouse", "SELECT * FROM remote('other:9000', default.events)", "remote"),
    ("clickhouse", "SELECT * FROM postgresql('h:5432', 'db', 't', 'u', 'p')", "postgresql"),
    ("clickhouse", "SELECT * FROM system.users", "System"),
    ("clickhouse", "SELECT * FROM INFORMATION_SCHEMA.TABLES", "System"),
    ("clickhouse", "SELECT 1 INTO OUTFILE 'x.csv'", ""),
    ("clickhouse", "SELECT 1 SETTINGS readonly = 0", "SETTINGS"),
    ("clickhouse", "SELECT 1 FORMAT JSON", "FORMAT"),
    ("postgres", "SELECT pg_read_file('/etc/passwd')", "pg_read_file"),
    ("postgres", "SELECT set_config('statement_timeout', '0', false)", "set_config"),
    ("postgres", "SELECT query_to_xml('select * from pg_shadow', true, true, '')", "query_to_xml"),
    ("postgres", "SELECT * FROM pg_catalog.pg_authid", "System"),
    ("postgres", "SELECT * FROM pg_shadow", "System"),
    ("postgres", "SELECT * FROM information_schema.tables", "System"),
    ("postgres", "SELECT * INTO stolen FROM events", "INTO"),
    ("postgres", "SELECT * FROM events FOR UPDATE", "LOCK"),
    ("postgres", "WITH d AS (DELETE FROM events RETURNING *) SELECT * FROM d", "DELETE"),
    ("postgres", "SELECT * FROM dblink('host=x', 'select 1') AS t(a int)", "dblink"),
    ("bigquery", "SELECT * FROM EXTERNAL_QUERY('conn', 'SELECT 1')", "external_query"),
    ("bigquery", "SELECT * FROM `region-us`.INFORMATION_SCHEMA.JOBS", "System"),
]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("sql", ALLOWED)
def test_plain_selects_are_allowed(dialect, sql):
    assert parse_base_query(sql, dialect) is not None


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(("sql", "reason"), REFUSED)
def test_refused_everywhere(dialect, sql, reason):
    with pytest.raises(Invalid) as err:
        parse_base_query(sql, dialect)
    assert err.value.loc == ["body", "base_query"]
    assert reason in err.value.message


@pytest.mark.parametrize(("dialect", "sql", "reason"), PER_DIALECT)
def test_refused_per_dialect(dialect, sql, reason):
    with pytest.raises(Invalid) as err:
        parse_base_query(sql, dialect)
    assert reason.lower() in err.value.message.lower()


def test_comments_are_not_sent():
    """What reaches the engine is sqlglot's rendering: a comment cannot smuggle text past the parser."""
    sql = normalized_base_query("SELECT event /* ; DROP TABLE events */ FROM events -- ; DELETE", "postgres")
    assert "DROP" not in sql and "DELETE" not in sql and "--" not in sql
