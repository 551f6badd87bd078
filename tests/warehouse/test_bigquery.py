"""BigQuery adapter against a local server speaking the BigQuery REST protocol (see fake_bigquery.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlglot

from tests.warehouse.fake_bigquery import FakeBigQuery
from tripl_core.warehouse import (
    ConnectionConfig,
    DBType,
    ScanInterval,
    WarehouseError,
    connect,
    parse_field_ref,
)
from tripl_core.warehouse.aggregate import AggregateSpec, build_aggregate

ROWS = [[datetime(2026, 1, 1, 0, 0, tzinfo=UTC), "e1", 5], [datetime(2026, 1, 1, 0, 15, tzinfo=UTC), "e1", 7],
        [datetime(2026, 1, 1, 0, 30, tzinfo=UTC), "e2", 1], [datetime(2026, 1, 1, 0, 45, tzinfo=UTC), None, 2],
        [datetime(2026, 1, 1, 1, 0, tzinfo=UTC), "e3", 9]]


def responder(sql: str, params: dict):
    if "INFORMATION_SCHEMA.COLUMNS" in sql:
        return ([("table_name", "STRING"), ("column_name", "STRING"), ("data_type", "STRING"),
                 ("is_nullable", "STRING")],
                [["events", "ts", "TIMESTAMP", "NO"], ["events", "props", "STRING", "YES"]])
    if "nonexistent" in sql:
        raise ValueError("Not found: Table proj:ds.nonexistent was not found in location US")
    if sql.startswith("SELECT 1 AS ok"):
        return [("ok", "INT64")], [[1]]
    return [("bucket", "TIMESTAMP"), ("event", "STRING"), ("count", "INT64")], ROWS


@pytest.fixture
def fake():
    server = FakeBigQuery(responder, page_size=2).start()
    yield server
    server.stop()


def config(fake: FakeBigQuery, **overrides) -> ConnectionConfig:
    values = {"db_type": DBType.bigquery, "host": "proj", "database": "ds", "timeout_seconds": 10,
              "extra_params": {"api_endpoint": fake.url, "location": "US"}, "maximum_bytes_billed": 10**9}
    values.update(overrides)
    return ConnectionConfig(**values)


def test_query_dry_runs_first_then_binds_parameters_and_pages_results(fake):
    adapter = connect(config(fake))
    query = adapter.sql.bucketed_counts("SELECT * FROM events", "ts", ScanInterval.m15,
                                        datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC),
                                        group_by=[parse_field_ref("props.screen", "x")])
    df = adapter.query_df(query)
    assert len(df) == 5  # three pages of two rows
    assert list(df["count"]) == [5, 7, 1, 2, 9]
    assert str(df["bucket"].dt.tz) == "UTC" and df["bucket"].iloc[1] == datetime(2026, 1, 1, 0, 15, tzinfo=UTC)
    assert df["event"].isna().sum() == 1
    dry, real = fake.received[-2], fake.received[-1]
    assert dry["dry_run"] and not real["dry_run"] and dry["sql"] == real["sql"]
    assert real["param_types"] == {"start": "TIMESTAMP", "end": "TIMESTAMP"}
    assert real["params"]["start"].startswith("2026-01-01 00:00:00")
    assert real["maximum_bytes_billed"] == str(10**9)
    assert real["default_dataset"] == {"projectId": "proj", "datasetId": "ds"}
    tree = sqlglot.parse_one(real["sql"], read="bigquery")
    assert "TIMESTAMP_SECONDS(DIV(UNIX_SECONDS(`ts`), 900) * 900)" in real["sql"]
    assert "JSON_VALUE(`props`, '$.screen')" in real["sql"]
    assert "@start" in real["sql"] and "2026" not in real["sql"]  # bound, never pasted
    assert tree.find(sqlglot.exp.Subquery) is not None
    assert sum(1 for r in fake.requests if "/queries/" in r) >= 3


@pytest.mark.parametrize("interval", list(ScanInterval))
def test_every_interval_renders_valid_bigquery_sql(fake, interval):
    adapter = connect(config(fake))
    adapter.query_df(adapter.sql.bucketed_counts("SELECT * FROM events", "ts", interval))
    sql = fake.received[-1]["sql"]
    sqlglot.parse_one(sql, read="bigquery")
    assert f"* {interval.seconds})" in sql


def test_aggregate_top_k_and_histogram_sql_parse_as_bigquery(fake):
    adapter = connect(config(fake))
    spec = AggregateSpec(base_query="SELECT * FROM events", time_column="ts", interval=ScanInterval.h1,
                         event_type_column="event", event_name_format="{props.screen}",
                         breakdown_columns=["country"], fields=["props.price"],
                         histograms={"props.price": [1, 10]})
    for query in (build_aggregate(adapter.sql, spec).query,
                  adapter.sql.top_k("SELECT * FROM events", parse_field_ref("country", "x"), 3),
                  adapter.sql.histogram("SELECT * FROM events", parse_field_ref("amount", "x"), bins=5)):
        adapter.query_df(query)
        assert fake.received[-1]["sql"] == query.sql
        sqlglot.parse_one(query.sql, read="bigquery")
    assert "GROUPING SETS" in fake.received[-6]["sql"]  # each query: a dry run, then the run


def test_dry_run_over_maximum_bytes_billed_is_refused_before_running(fake):
    fake.bytes_processed = 5 * 10**9
    adapter = connect(config(fake))
    with pytest.raises(WarehouseError, match="maximum_bytes_billed"):
        adapter.query_df(adapter.sql.preview("SELECT * FROM events", 5))
    assert all(r["dry_run"] for r in fake.received)


def test_warehouse_error_message_is_kept(fake):
    adapter = connect(config(fake))
    with pytest.raises(WarehouseError, match="nonexistent was not found"):
        adapter.query_df(adapter.sql.preview("SELECT * FROM nonexistent", 5))


def test_probe_uses_the_dry_run_schema(fake):
    adapter = connect(config(fake))
    cols = adapter.probe("SELECT * FROM events")
    assert [(c.name, c.type) for c in cols] == [("bucket", "TIMESTAMP"), ("event", "STRING"), ("count", "INT64")]
    assert fake.received[-1]["dry_run"] and "LIMIT 0" in fake.received[-1]["sql"]
    assert not fake.jobs  # nothing ran


def test_schema_and_test_connection(fake):
    adapter = connect(config(fake))
    assert "proj" in adapter.test_connection()
    tables = adapter.list_schema()
    assert [(t.name, [c.name for c in t.columns]) for t in tables] == [("events", ["ts", "props"])]


def test_service_account_credentials_are_used_and_never_leak(fake):
    """A malformed service-account JSON fails cleanly, without echoing the key material."""
    secret = "-----BEGIN PRIVATE KEY-----SUPERSECRET-----END PRIVATE KEY-----"
    creds = json.dumps({"type": "service_account", "private_key": secret, "client_email": "x@y"})
    adapter = connect(config(fake, extra_params={"api_endpoint": fake.url, "credentials_json": creds}))
    with pytest.raises(WarehouseError) as err:
        adapter.test_connection()
    assert "SUPERSECRET" not in str(err.value)
