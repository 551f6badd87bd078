"""The base-query checker allows known-safe functions only (issue 21): lists built from the engines' catalogues,
refusals that name the function, and bounded size and nesting (a 422 on base_query, never a 500)."""

from __future__ import annotations

import psycopg
import pytest

from tests.warehouse.helpers import chdb_source, error_loc, scans_url
from tripl_core.errors import Invalid
from tripl_core.warehouse.functions import function_list
from tripl_core.warehouse.safety import MAX_NESTING, MAX_QUERY_CHARS, normalized_base_query, parse_base_query

TS_STAT_ATTACK = (
    "SELECT word FROM ts_stat('SELECT to_tsvector(''simple'', pg_terminate_backend(pid)::text) FROM "
    "pg_stat_activity WHERE query LIKE ''%victim%'' AND pid <> pg_backend_pid()')")

REFUSED = [
    ("postgres", TS_STAT_ATTACK, "ts_stat"),
    ("postgres", "SELECT ts_rewrite('a'::tsquery, 'SELECT 1')", "ts_rewrite"),
    ("postgres", "SELECT encode(pg_read_binary_file('/etc/passwd', 0, 1000), 'hex')", "pg_read_binary_file"),
    ("postgres", "SELECT \"pg_read_file\"('/etc/passwd')", "pg_read_file"),
    ("postgres", "SELECT current_setting('data_directory')", "current_setting"),
    ("postgres", "SELECT xpath('/a', query_to_xml('SELECT 1', true, true, ''))", "xpath"),
    ("postgres", "SELECT * FROM table_to_xml('events', true, true, '')", "table_to_xml"),
    ("postgres", "SELECT cursor_to_xml('c', 1, true, true, '')", "cursor_to_xml"),
    ("postgres", "SELECT lo_import('/etc/passwd')", "lo_import"),
    ("postgres", "SELECT nextval('s')", "nextval"),
    ("postgres", "SELECT setseed(0.5)", "setseed"),
    ("postgres", "SELECT public.lower('x')", "schema-qualified"),
    ("postgres", "SELECT pg_catalog.pg_sleep(1)", "schema-qualified"),
    ("postgres", "SELECT * FROM evil.f(1)", "schema-qualified"),
    ("postgres", "SELECT my_security_definer_function()", "my_security_definer_function"),
    ("clickhouse", "SELECT file('/etc/passwd')", "file"),
    ("clickhouse", "SELECT joinGet('j', 'v', 1)", "joinGet"),
    ("clickhouse", "SELECT dictGet('d', 'v', 1)", "dictGet"),
    ("clickhouse", "SELECT getSetting('readonly')", "getSetting"),
    ("clickhouse", "SELECT sleepEachRow(1) FROM events", "sleepEachRow"),
    ("clickhouse", "SELECT hostName()", "hostName"),
    ("clickhouse", "SELECT * FROM view(SELECT 1)", "view"),
    ("clickhouse", "SELECT * FROM merge('default', '.*')", "merge"),
    ("clickhouse", "SELECT * FROM executable('x.sh', 'CSV', 'a String')", "executable"),
    ("bigquery", "SELECT * FROM EXTERNAL_QUERY('conn', 'SELECT 1')", "EXTERNAL_QUERY"),
    ("bigquery", "SELECT ds.my_udf(1)", "schema-qualified"),
    ("bigquery", "SELECT `proj.ds.my_udf`(1)", "proj.ds.my_udf"),
    ("bigquery", "SELECT NET.NOT_A_FUNCTION('x')", "NET.NOT_A_FUNCTION"),
]

ALLOWED = {
    "postgres": [
        "SELECT date_trunc('day', ts) AS d, count(*) AS n, count(DISTINCT event) AS e FROM events GROUP BY 1",
        "SELECT jsonb_extract_path_text(props, 'screen') AS s, props ->> 'price' AS p, props -> 'nested' AS n, "
        "coalesce(amount, 0) AS a, extract(epoch FROM ts) AS e, now() - ts AS age, amount::int AS i, "
        "left(country, 1) AS c, md5(event) AS h, format('%s-%s', event, country) AS f, "
        "greatest(amount, 1) AS g, substring(event FROM 1 FOR 2) AS sub, position('e' IN event) AS pos, "
        "trim(event) AS t, lower(country) AS l, random() AS r, jsonb_typeof(props) AS jt FROM events "
        "WHERE country = ANY(ARRAY['US', 'DE']) AND event LIKE 'e%' AND ts > now() - interval '400 days'",
        "SELECT event, row_number() OVER (PARTITION BY country ORDER BY ts) AS rn, "
        "lag(amount) OVER (ORDER BY ts) AS prev, sum(amount) OVER (ORDER BY ts) AS running FROM events",
        "SELECT string_agg(event, ',') AS s, array_agg(country) AS a, "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) AS median, avg(amount) AS m FROM events",
        "SELECT e.ts, j.key FROM events AS e CROSS JOIN LATERAL jsonb_each(e.props) AS j",
        "SELECT g.i FROM generate_series(1, 3) AS g(i)",
        "SELECT CASE WHEN amount > 10 THEN 'big' ELSE 'small' END AS size, nullif(country, '') AS c FROM events",
    ],
    "clickhouse": [
        "SELECT toStartOfInterval(ts, INTERVAL 1 HOUR) AS b, count() AS n, countIf(amount > 1) AS big, "
        "uniqExact(country) AS u, uniq(event) AS ue, quantile(0.5)(amount) AS q, sumIf(amount, event = 'e1') AS s, "
        "avgOrNull(amount) AS a, argMax(event, ts) AS last, groupArray(country) AS g FROM events GROUP BY b",
        "SELECT JSONExtractString(props, 'screen') AS s, JSONExtract(props, 'price', 'Float64') AS p, "
        "if(amount > 1, 'y', 'n') AS y, multiIf(amount > 10, 'a', amount > 1, 'b', 'c') AS m, "
        "toDate(ts) AS d, formatDateTime(ts, '%Y') AS f, dateDiff('day', ts, now()) AS dd, "
        "splitByChar('.', app_version) AS parts, arrayMap(x -> concat(x, '!'), parts) AS bang, "
        "toString(amount) AS t, ifNull(amount, 0) AS z, EXTRACT(HOUR FROM ts) AS h, "
        "CAST(amount AS Nullable(String)) AS c, cityHash64(event) AS hh, lower(country) AS l FROM events",
        "SELECT number FROM numbers(10)",
        "SELECT event, row_number() OVER (PARTITION BY country ORDER BY ts) AS rn FROM events",
    ],
    "bigquery": [
        "SELECT TIMESTAMP_TRUNC(ts, HOUR) AS h, COUNT(*) AS n, COUNTIF(amount > 1) AS big, "
        "APPROX_COUNT_DISTINCT(country) AS u, STRING_AGG(event, ',') AS s FROM events GROUP BY h",
        "SELECT JSON_VALUE(props, '$.screen') AS s, JSON_EXTRACT_SCALAR(props, '$.price') AS p, "
        "SAFE_CAST(amount AS INT64) AS i, IFNULL(amount, 0) AS z, IF(amount > 1, 'y', 'n') AS y, "
        "EXTRACT(HOUR FROM ts) AS hr, UNIX_SECONDS(ts) AS u, DATE(ts) AS d, NET.HOST(country) AS host, "
        "SAFE.SUBSTR(event, 1, 2) AS sub, REGEXP_CONTAINS(event, r'^e') AS re FROM events, UNNEST([1, 2]) AS x",
    ],
}


@pytest.mark.parametrize(("dialect", "sql", "name"), REFUSED)
def test_unlisted_functions_are_refused_by_name(dialect, sql, name):
    with pytest.raises(Invalid) as err:
        parse_base_query(sql, dialect)
    assert err.value.loc == ["body", "base_query"]
    assert name in err.value.message


@pytest.mark.parametrize(("dialect", "sql"), [(d, q) for d, qs in ALLOWED.items() for q in qs])
def test_everyday_queries_pass(dialect, sql):
    assert normalized_base_query(sql, dialect)


def test_allowed_postgres_queries_run_on_the_warehouse(pg_adapter):
    """sqlglot's rendering of each allowed query is accepted by the real engine (names match pg_proc's)."""
    from tripl_core.warehouse import BuiltQuery

    for sql in ALLOWED["postgres"]:
        pg_adapter.query_df(BuiltQuery(pg_adapter.sql.render(parse_base_query(sql, "postgres")),
                                       max_rows=100_000))


def test_allowed_clickhouse_queries_run_on_chdb(ch_adapter):
    from tripl_core.warehouse import BuiltQuery

    for sql in ALLOWED["clickhouse"]:
        ch_adapter.query_df(BuiltQuery(normalized_base_query(sql, "clickhouse"), max_rows=100_000))


def test_postgres_list_matches_the_server_catalogue(pg_warehouse):
    """Every listed name exists in the server's pg_proc; none is volatile (except a few pure random/clock ones),
    a procedure, or an admin (`pg_*`) function."""
    names = sorted(function_list("postgres").functions)
    with psycopg.connect(**_libpq(pg_warehouse)) as conn:
        rows = conn.execute(
            "SELECT p.proname, bool_or(p.provolatile = 'v'), bool_or(p.prokind = 'p') FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'pg_catalog' "
            "AND p.proname = ANY(%s) GROUP BY 1", (names,)).fetchall()
    assert {r[0] for r in rows} == set(names)
    assert {r[0] for r in rows if r[1]} <= {"random", "random_normal", "gen_random_uuid", "clock_timestamp",
                                           "timeofday"}
    assert not [r[0] for r in rows if r[2]]
    assert not [n for n in names if n.startswith("pg_") and n not in ("pg_typeof", "pg_column_size")]
    assert not {"ts_stat", "ts_rewrite", "query_to_xml", "current_setting", "set_config", "dblink"} & set(names)


def test_clickhouse_list_refuses_every_other_catalogued_function(ch_adapter):
    """Combinator stripping (countIf → count) never turns an excluded function into an allowed one."""
    from tripl_core.warehouse import BuiltQuery

    fl = function_list("clickhouse")
    names = ch_adapter.query_df(BuiltQuery("SELECT name FROM system.functions", max_rows=100_000))["name"]
    leaked = [n for n in names if n.lower() not in fl.functions and fl.allows(n)]
    assert leaked == []
    assert {"file", "joinget", "dictget", "getsetting", "sleep"}.isdisjoint(fl.functions)


def _libpq(parts: dict) -> dict:
    return {"host": parts["host"], "port": parts["port"], "dbname": parts["database"],
            "user": parts["username"] or None, "password": parts["password"] or None}


# --- size and nesting ------------------------------------------------------------------------------------------

NESTED_46 = "SELECT " + "(" * 46 + "1" + ")" * 46  # 100 characters: a RecursionError (500) before the limit


@pytest.mark.parametrize("dialect", ["postgres", "clickhouse", "bigquery"])
@pytest.mark.parametrize("sql", [
    NESTED_46,
    "SELECT * FROM " + "(SELECT * FROM " * 60 + "events" + ") AS a" * 60,
    "SELECT " + "CASE WHEN true THEN " * 70 + "1" + " END" * 70,
    "SELECT 1 WHERE " + "NOT " * 400 + "true",
])
def test_deep_nesting_is_a_422(dialect, sql):
    with pytest.raises(Invalid) as err:
        normalized_base_query(sql, dialect)
    assert err.value.loc == ["body", "base_query"] and "nest" in err.value.message


def test_oversized_query_is_a_422():
    sql = "SELECT 1 AS a" + ", 1" * (MAX_QUERY_CHARS // 3)
    with pytest.raises(Invalid) as err:
        parse_base_query(sql, "postgres")
    assert "characters" in err.value.message


def test_nested_query_answers_422_on_create_and_preview(owner, project, ch_adapter, chdb_host):
    """The finding: 46 levels in 100 characters answered 500 on Create and Preview Scan Config."""
    assert len(NESTED_46) == 100
    ch = chdb_source(owner, chdb_host)
    r = owner.post(scans_url(), json={"data_source_id": ch["id"], "name": "deep", "base_query": NESTED_46})
    assert r.status_code == 422, r.text
    assert error_loc(r) == ["body", "base_query"]
    p = owner.post(f"{scans_url()}/preview", json={"data_source_id": ch["id"], "base_query": NESTED_46})
    assert p.status_code == 422, p.text
    assert error_loc(p) == ["body", "base_query"]


def test_query_at_the_nesting_limit_is_probed_and_scanned(owner, project, ch_adapter, chdb_host):
    """At the limit the whole path still works: probe, and the scan's one-pass aggregate built around it."""
    from datetime import UTC, datetime

    from tripl_core.warehouse import ScanInterval
    from tripl_core.warehouse.aggregate import AggregateSpec, build_aggregate

    inner = "SELECT ts, event, country, props FROM events"
    levels = MAX_NESTING - 1
    sql = "SELECT * FROM " + "(SELECT * FROM " * (levels - 1) + f"({inner})" + " AS a" + ") AS a" * (levels - 1)
    ch = chdb_source(owner, chdb_host)
    r = owner.post(scans_url(), json={"data_source_id": ch["id"], "name": "deep", "base_query": sql,
                                      "time_column": "ts", "event_type_column": "event"})
    assert r.status_code == 201, r.text
    assert r.json()["verification_status"] == "verified"
    spec = AggregateSpec(base_query=sql, time_column="ts", interval=ScanInterval.h1,
                         start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 1, 2, tzinfo=UTC),
                         event_type_column="event", breakdown_columns=["country"])
    frame = ch_adapter.query_df(build_aggregate(ch_adapter.sql, spec).query)
    assert len(frame) > 0



def test_the_ts_stat_escape_is_refused_through_the_api(owner, editor, project, pg_warehouse):
    """The finding: an editor's Preview Scan Config ran SQL given as text to ts_stat (pg_terminate_backend,
    pg_read_binary_file). Create and Preview now answer 422 on base_query naming the function."""
    from tests.warehouse.helpers import pg_source

    ds = pg_source(owner, pg_warehouse)
    for sql in (TS_STAT_ATTACK, TS_STAT_ATTACK.replace("pg_terminate_backend(pid)::text",
                                                       "encode(pg_read_binary_file(''/etc/passwd'', 0, 1000), ''hex'')")):
        p = editor.post(f"{scans_url()}/preview", json={"data_source_id": ds["id"], "base_query": sql})
        assert p.status_code == 422, p.text
        assert error_loc(p) == ["body", "base_query"] and "ts_stat" in p.text
        r = editor.post(scans_url(), json={"data_source_id": ds["id"], "name": "x", "base_query": sql})
        assert r.status_code == 422 and "ts_stat" in r.text


def test_a_slow_user_query_stops_at_the_sources_timeout(owner, project, pg_warehouse, ch_adapter, chdb_host):
    """Statement timeout applies to user queries (previews here; probes and scans use the same adapters)."""
    from tests.warehouse.helpers import pg_source, wait_job

    pg = pg_source(owner, pg_warehouse, name="slow pg", timeout_seconds=1)
    ch = owner.post("/api/v1/data-sources", json={"name": "slow ch", "db_type": "clickhouse", "host": chdb_host,
                                                  "database_name": "default", "timeout_seconds": 1}).json()
    for ds, sql in ((pg, "SELECT count(*) AS n FROM generate_series(1, 2000000000) AS g(i)"),
                    (ch, "SELECT count() AS n FROM numbers(100000000000)")):
        r = owner.post(f"{scans_url()}/preview", json={"data_source_id": ds["id"], "base_query": sql})
        assert r.status_code in (200, 201, 202), r.text
        job = wait_job(owner, "shop-app", r.json()["id"], timeout=60)
        assert job["status"] == "failed", job
        assert "timeout" in job["error_message"].lower() or "TIMEOUT" in job["error_message"], job


@pytest.mark.parametrize(("dialect", "sql"), [
    ("clickhouse", "SELECT map(x) FROM events"),  # sqlglot's parser raised IndexError: a 500 before
    ("clickhouse", "SELECT map(1, 2, 3) FROM events"),
])
def test_inputs_that_crash_the_parser_are_a_422(dialect, sql):
    with pytest.raises(Invalid) as err:
        parse_base_query(sql, dialect)
    assert err.value.loc == ["body", "base_query"] and "Cannot parse" in err.value.message


def test_date_formats_survive_the_postgres_rendering(pg_adapter):
    """sqlglot holds to_char's format as strftime text ('%Y'); escaping its `%` for psycopg sent '%YYYY'."""
    base = "SELECT to_char(ts, 'YYYY-MM-DD') AS d, to_char(ts, 'HH24:MI') AS t FROM events WHERE country LIKE 'U%'"
    frame = pg_adapter.query_df(pg_adapter.sql.preview(base, 1, "ts"))
    assert frame["d"].iloc[0] == "2026-01-01" and len(frame["t"].iloc[0]) == 5
