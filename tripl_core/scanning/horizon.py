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
from tripl_core.warehouse.sql import BuiltQuery, col

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
    if df.empty or df.iloc[0, 0] is None or pd.isna(df.iloc[0, 0]):
        return None
    try:
        ts = pd.Timestamp(df.iloc[0, 0])
    except (TypeError, ValueError):  # a time column the engine does not return as a time: no data clip
        return end
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


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


def newest_by_bucket(adapter: WarehouseAdapter, cfg: ScanConfig, start: datetime, end: datetime
                     ) -> pd.Series | None:
    """The newest time per bucket of [start, end + PROBE_AHEAD), in one statement for a run's days: the newest row
    of any bucket-aligned window inside it is then `newest_in` without another round trip. None: the engine does
    not return the column as a time (no data clip, as `newest_row`)."""
    sql = adapter.sql
    params: dict = {}
    types: dict = {}
    bucket = sql.time_bucket(col(cfg.time_column), ScanInterval(cfg.interval))
    tree = (exp.select(bucket.as_("__bucket"), exp.Max(this=col(cfg.time_column)).as_("newest"))
            .from_(sql.source(cfg.base_query)).group_by(bucket.copy()))
    cond = sql.window_filter(cfg.time_column, start, end + PROBE_AHEAD, params, types)
    if cond is not None:
        tree = tree.where(cond)
    steps = (end + PROBE_AHEAD - start).total_seconds() / ScanInterval(cfg.interval).seconds
    df = adapter.query_df(BuiltQuery(sql.render(tree), params, types, max_rows=int(steps) + 2))
    if df.empty:
        return pd.Series([], dtype="datetime64[us, UTC]")
    try:
        newest = pd.to_datetime(df["newest"], utc=True)
    except (TypeError, ValueError):  # a time column the engine does not return as a time: no data clip
        return None
    return pd.Series(newest.to_numpy(), index=pd.to_datetime(df["__bucket"], utc=True)).dropna().sort_index()


def newest_in(newest: pd.Series | None, start: datetime, end: datetime) -> datetime | None:
    """What `newest_row(adapter, cfg, start, end)` returns, read from `newest_by_bucket` (start and end on
    bucket bounds)."""
    if newest is None:
        return end
    part = newest[(newest.index >= pd.Timestamp(start)) & (newest.index < pd.Timestamp(end + PROBE_AHEAD))]
    if part.empty:
        return None
    return pd.Timestamp(part.max()).to_pydatetime()
