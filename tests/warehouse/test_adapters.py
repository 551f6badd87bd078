"""ClickHouse (real chdb engine) and PostgreSQL adapters against the same synthetic events, checked with pandas."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import pytest

from tests.warehouse.conftest import START
from tripl_core.warehouse import BuiltQuery, ScanInterval, WarehouseError, parse_field_ref
from tripl_core.warehouse.aggregate import AggregateSpec, build_aggregate

ADAPTERS = ["ch_adapter", "pg_adapter"]
BASE = "SELECT * FROM events"
FREQ = {"5m": "5min", "15m": "15min", "30m": "30min", "1h": "1h", "6h": "6h", "12h": "12h", "1d": "1D"}


@pytest.fixture(params=ADAPTERS)
def adapter(request):
    return request.getfixturevalue(request.param)


def naive_utc(series: pd.Series) -> pd.Series:
    s = pd.to_datetime(series)
    if s.dt.tz is not None:
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    return s.astype("datetime64[us]")


def ref(text: str):
    return parse_field_ref(text, "test")


@pytest.mark.parametrize("interval", list(ScanInterval))
def test_bucketed_counts_match_pandas_at_every_interval(adapter, events_frame, interval):
    start, end = START + timedelta(minutes=65), START + timedelta(hours=19, minutes=7)
    got = adapter.query_df(adapter.sql.bucketed_counts(BASE, "ts", interval, start, end))
    window = events_frame[(events_frame.ts >= start) & (events_frame.ts < end)]
    expected = window.groupby(window.ts.dt.floor(FREQ[interval.value])).size()
    got_map = dict(zip(naive_utc(got["bucket"]), got["count"].astype(int), strict=True))
    exp_map = {k.tz_convert(None): int(v) for k, v in expected.items()}
    assert got_map == exp_map
    assert sum(got_map.values()) == len(window)


def test_buckets_grouped_by_a_json_path(adapter, events_frame):
    got = adapter.query_df(adapter.sql.bucketed_counts(BASE, "ts", ScanInterval.h6, group_by=[
        ref("props.screen"), ref("event")]))
    screens = events_frame.props.map(lambda p: json.loads(p)["screen"])
    expected = events_frame.groupby([events_frame.ts.dt.floor("6h").dt.tz_convert(None), screens,
                                     events_frame.event]).size()
    got_idx = got.set_index([naive_utc(got["bucket"]), "g0", "g1"])["count"].astype(int)
    assert got_idx.sort_index().to_dict() == expected.sort_index().to_dict()


def test_json_text_extraction_and_top_k_of_a_json_path(adapter):
    got = adapter.query_df(adapter.sql.top_k(BASE, ref("props.screen"), 10))
    assert dict(zip(got["value"], got["count"].astype(int), strict=True)) == {
        "s0": 500, "s1": 500, "s2": 500, "s3": 500}
    nested = adapter.query_df(adapter.sql.top_k(BASE, ref("props.nested.flag"), 10))
    assert dict(zip(nested["value"], nested["count"].astype(int), strict=True)) == {"true": 1000, "false": 1000}


def test_top_k_with_other_remainder(adapter, events_frame):
    got = adapter.query_df(adapter.sql.top_k(BASE, ref("country"), 2))
    counts = events_frame.country.value_counts()
    top = got[~got["is_other"].astype(bool)]
    other = got[got["is_other"].astype(bool)]
    assert list(top["value"]) == ["US", "DE"]
    assert list(top["count"].astype(int)) == [counts["US"], counts["DE"]]
    assert len(other) == 1 and pd.isna(other["value"].iloc[0])
    assert int(other["count"].iloc[0]) == len(events_frame) - counts["US"] - counts["DE"]
    # with k above the number of values there is no remainder row
    everything = adapter.query_df(adapter.sql.top_k(BASE, ref("country"), 50))
    assert not everything["is_other"].astype(bool).any() and len(everything) == counts.size


def test_top_k_respects_the_time_window(adapter, events_frame):
    start, end = START, START + timedelta(hours=1)
    got = adapter.query_df(adapter.sql.top_k(BASE, ref("event"), 3, "ts", start, end))
    window = events_frame[(events_frame.ts >= start) & (events_frame.ts < end)]
    assert int(got["count"].sum()) == len(window)


def test_histogram_with_fixed_edges(adapter, events_frame):
    edges = [10.0, 25.0, 40.0]
    got = adapter.query_df(adapter.sql.histogram(BASE, ref("amount"), edges=edges))
    amount = events_frame.amount.dropna()
    expected = pd.cut(amount, [-float("inf"), *edges, float("inf")], right=False, labels=False).value_counts()
    assert dict(zip(got["bin"].astype(int), got["count"].astype(int), strict=True)) == {
        int(k): int(v) for k, v in expected.items()}


def test_histogram_of_a_json_number_with_equal_width_bins(adapter, events_frame):
    got = adapter.query_df(adapter.sql.histogram(BASE, ref("props.price"), bins=4))
    assert list(got["bin"].astype(int)) == [0, 1, 2, 3]
    assert int(got["count"].sum()) == len(events_frame)
    assert float(got["lower"].iloc[0]) == 0.0 and float(got["upper"].iloc[-1]) == 99.0
    # prices 0..99 in equal quarters of width 24.75: 25 values per quarter, 20 rows per value
    assert list(got["count"].astype(int)) == [500, 500, 500, 500]


def test_null_counts_for_columns_and_json_paths(adapter, events_frame):
    refs = [ref("amount"), ref("props.maybe"), ref("props.opt"), ref("props.absent")]
    got = adapter.query_df(adapter.sql.null_counts(BASE, refs)).iloc[0]
    n = len(events_frame)
    k = pd.Series(range(n))
    assert int(got["rows"]) == n
    assert (int(got["present_0"]), int(got["nulls_0"])) == (n, int((k % 7 == 0).sum()))
    assert (int(got["present_1"]), int(got["nulls_1"])) == (int((k % 10 == 0).sum()), n)
    assert (int(got["present_2"]), int(got["nulls_2"])) == (int((k % 3 == 0).sum()), int((k % 3 != 0).sum()))
    assert (int(got["present_3"]), int(got["nulls_3"])) == (0, n)


def test_probe_returns_output_columns_without_rows(adapter):
    cols = adapter.probe("SELECT ts, event AS name, amount FROM events")
    assert [c.name for c in cols] == ["ts", "name", "amount"]
    assert all(c.type for c in cols)


def test_preview_limits_rows_and_filters_by_time(adapter):
    since = START + timedelta(hours=20)
    df = adapter.query_df(adapter.sql.preview(BASE, 5, "ts", since))
    assert 0 < len(df) <= 5
    assert (naive_utc(df["ts"]) >= since.replace(tzinfo=None)).all()


def test_one_pass_aggregate(adapter, events_frame):
    start, end = START, START + timedelta(hours=6)
    spec = AggregateSpec(
        base_query=BASE, time_column="ts", interval=ScanInterval.h1, start=start, end=end,
        event_type_column="event", event_name_format="{event}:{props.screen}",
        breakdown_columns=["country"], breakdown_top_k=2, app_version_column="app_version",
        fields=["amount", "props.opt", "props.maybe"], histograms={"amount": [10, 25]},
    )
    agg = build_aggregate(adapter.sql, spec)
    result = agg.split(adapter.query_df(agg.query))
    window = events_frame[(events_frame.ts >= start) & (events_frame.ts < end)].copy()
    window["bucket"] = window.ts.dt.floor("1h").dt.tz_convert(None)
    window["name"] = window.event + ":" + window.props.map(lambda p: json.loads(p)["screen"])

    counts = result.counts.assign(bucket=naive_utc(result.counts["bucket"]))
    expected = window.groupby(["bucket", "event", "name"]).size()
    got = counts.set_index(["bucket", "event_type", "event_name"])["count"]
    assert got.sort_index().to_dict() == expected.sort_index().to_dict()

    bd = result.breakdowns
    assert set(bd["column"]) == {"country"}
    assert set(bd.loc[~bd["is_other"], "value"]) == {"US", "DE"}
    assert int(bd["count"].sum()) == len(window)
    assert int(bd.loc[bd["is_other"], "count"].sum()) == int((~window.country.isin(["US", "DE"])).sum())

    assert set(result.app_versions["app_version"]) == {"1.0", "1.1", "1.2"}
    assert int(result.app_versions["count"].sum()) == len(window)

    fields = result.fields.groupby("field")[["rows", "present", "nulls", "type_number", "type_null"]].sum()
    k = window.index.to_series()
    assert int(fields.loc["amount", "nulls"]) == int(window.amount.isna().sum())
    assert int(fields.loc["props.opt", "present"]) == int((k % 3 == 0).sum())
    assert int(fields.loc["props.opt", "type_number"]) == int((k % 3 == 0).sum())
    assert int(fields.loc["props.maybe", "type_null"]) == int((k % 10 == 0).sum())

    hist = result.histograms.dropna(subset=["bin"]).groupby("bin")["count"].sum()
    amount = window.amount.dropna()
    assert hist.to_dict() == {0: int((amount < 10).sum()), 1: int(((amount >= 10) & (amount < 25)).sum()),
                              2: int((amount >= 25).sum())}


def test_writes_are_refused_by_the_engine_and_the_table_survives(adapter):
    for sql in ("DROP TABLE events", "CREATE TABLE hacked (x int)"):
        with pytest.raises(WarehouseError):
            adapter.query_df(BuiltQuery(sql))
    assert int(adapter.query_df(BuiltQuery("SELECT COUNT(*) AS n FROM events"))["n"].iloc[0]) == 2000


def test_row_cap_is_enforced(adapter):
    with pytest.raises(WarehouseError, match="row|rows|ROWS"):
        adapter.query_df(BuiltQuery("SELECT * FROM events", max_rows=10))


def test_percent_signs_in_user_sql_survive_parameter_binding(adapter, events_frame):
    """psycopg reads `%` as a placeholder; the Postgres builder escapes it, ClickHouse needs nothing."""
    base = "SELECT * FROM events WHERE country LIKE 'U%' AND LENGTH(country) % 2 = 0"
    got = adapter.query_df(adapter.sql.bucketed_counts(base, "ts", ScanInterval.d1, START, START + timedelta(days=2)))
    expected = events_frame[events_frame.country.str.startswith("U")]
    assert int(got["count"].sum()) == len(expected)


def test_statement_timeout_applies(ch_adapter, pg_warehouse):
    from dataclasses import replace

    from tests.warehouse.conftest import pg_config
    from tripl_core.warehouse import connect

    slow_pg = connect(pg_config(pg_warehouse, timeout_seconds=1))
    with pytest.raises(WarehouseError, match="statement timeout"):
        slow_pg.query_df(BuiltQuery("SELECT pg_sleep(5)"))
    slow_ch = connect(replace(ch_adapter.config, timeout_seconds=1))
    with pytest.raises(WarehouseError, match="TIMEOUT_EXCEEDED|Timeout exceeded|timeout"):
        slow_ch.query_df(BuiltQuery("SELECT count() FROM numbers(100000000000)"))


def test_unreachable_and_unknown_database_are_unavailable(pg_warehouse):
    from tests.warehouse.conftest import pg_config
    from tripl_core.warehouse import WarehouseUnavailable, connect

    with pytest.raises(WarehouseUnavailable):
        connect(pg_config(pg_warehouse, database="nope_db")).test_connection()
    with pytest.raises(WarehouseUnavailable):
        connect(pg_config(pg_warehouse, host="127.0.0.1", port=1, timeout_seconds=2)).test_connection()
