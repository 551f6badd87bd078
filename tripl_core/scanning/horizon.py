"""Where observed time ends: a scan window never reaches past now or past the newest data of the warehouse.

Why: a bucket the warehouse has not received yet has no rows, and zero rows read as a drop to zero. Buckets after
the observed end are therefore not scanned at all (no metric points, no verdicts, no signals, no alerts) rather
than stored as zeros. The rule, for every window (replays, UI backfills, scheduled runs — the steps apply it, so
the in-process runner and the Dagster assets agree):

    end = min(the end asked for, the start of the bucket holding now, the end of the newest complete data bucket)

- The bucket holding *now* is still filling: it is held until complete (the next run scans it; a run's lookback
  re-reads the buckets late rows change). See docs/detection.md, "Unobserved time".
- The newest row's bucket is complete when the warehouse has been silent for a whole interval since that row
  (a warehouse whose data ends — a demo, a static export — or a stalled pipeline); while rows still arrive
  (the newest row is less than an interval old) it is held like the current bucket.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlglot import exp

from tripl_core.db.models.sources import ScanConfig
from tripl_core.warehouse import ScanInterval, WarehouseAdapter
from tripl_core.warehouse.sql import BuiltQuery, case, col, utc_naive

PROBE_AHEAD = timedelta(days=1)  # rows this far after a window prove it was observed; bounds the probe's range


def floor_bucket(value: datetime, cfg: ScanConfig) -> datetime:
    step = ScanInterval(cfg.interval).seconds
    return datetime.fromtimestamp((int(value.timestamp()) // step) * step, tz=UTC)


def newest_row(adapter: WarehouseAdapter, cfg: ScanConfig, start: datetime, end: datetime) -> datetime | None:
    """The newest time in [start, end + PROBE_AHEAD) of the config's base query (None: no row at all)."""
    sql = adapter.sql
    params: dict = {}
    types: dict = {}
    tree = exp.select(exp.Max(this=col(cfg.time_column)).as_("newest")).from_(sql.source(cfg.base_query))
    cond = sql.window_filter(cfg.time_column, start, end + PROBE_AHEAD, params, types)
    if cond is not None:
        tree = tree.where(cond)
    df = adapter.query_df(BuiltQuery(sql.render(tree), params, types, max_rows=1))
    return _as_time(None if df.empty else df.iloc[0, 0], end)


def observed_end(cfg: ScanConfig, end: datetime, now: datetime, newest: datetime | None,
                 start: datetime | None = None) -> datetime:
    """min(end, start of now's bucket, end of the newest complete data bucket); `start` when nothing is observed."""
    step = ScanInterval(cfg.interval).delta
    out = min(end, floor_bucket(now, cfg))
    if newest is None:
        return start if start is not None else out
    if newest < out:
        data_end = floor_bucket(newest, cfg)
        if now - newest >= step:  # the warehouse stopped filling the newest row's bucket
            data_end += step
        out = min(out, data_end)
    return out



def newest_rows(adapter: WarehouseAdapter, cfg: ScanConfig, windows: list[tuple[datetime, datetime]]
                ) -> list[datetime | None]:
    """`newest_row` of every window of a run in one statement: one MAX(time) FILTER per window over the span of
    all of them (a plain scan — no per-row bucketing or grouping, as cheap as one window's probe)."""
    if len(windows) == 1:
        return [newest_row(adapter, cfg, *windows[0])]
    sql = adapter.sql
    params: dict = {}
    types: dict = {}
    cols = []
    for i, (start, end) in enumerate(windows):
        params[f"s{i}"], types[f"s{i}"] = utc_naive(start), "timestamp"
        params[f"e{i}"], types[f"e{i}"] = utc_naive(end + PROBE_AHEAD), "timestamp"
        inside = exp.and_(exp.GTE(this=col(cfg.time_column), expression=sql.param(f"s{i}", "timestamp")),
                          exp.LT(this=col(cfg.time_column), expression=sql.param(f"e{i}", "timestamp")))
        cols.append(exp.Max(this=case([(inside, col(cfg.time_column))])).as_(f"newest_{i}"))
    tree = exp.select(*cols).from_(sql.source(cfg.base_query))
    cond = sql.window_filter(cfg.time_column, windows[0][0], max(e for _, e in windows) + PROBE_AHEAD, params,
                             types)
    if cond is not None:
        tree = tree.where(cond)
    df = adapter.query_df(BuiltQuery(sql.render(tree), params, types, max_rows=1))
    return [_as_time(df.iloc[0, i] if len(df) else None, end) for i, (_, end) in enumerate(windows)]


def _as_time(value: object, end: datetime) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):  # a time column the engine does not return as a time: no data clip
        return end
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()
