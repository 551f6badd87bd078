"""A run's days are read from the warehouse together (issue 16 point 1): one newest-data probe, one aggregate and
one sample statement for 7 days, and every day's frames equal what reading that day alone gives — top-K values and
samples are ranked per replay chunk inside the statement — on PostgreSQL and on chdb."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from tests.pipelines.data import LAST
from tripl_core.scanning import passes, steps
from tripl_core.sources.data_sources import adapter_for

WEEK = [LAST - timedelta(days=6 - i) for i in range(7)]


def _counting(cfg):
    adapter = adapter_for(cfg.data_source)
    real = adapter.query_df
    adapter.statements = 0

    def query_df(query, *a, **k):
        adapter.statements += 1
        return real(query, *a, **k)

    adapter.query_df = query_df
    return adapter


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for c in df.columns:  # dicts (type_counts) are compared as text
        df[c] = df[c].map(lambda v: repr(sorted(v.items())) if isinstance(v, dict) else v)
    return df.sort_values(list(df.columns), na_position="first").reset_index(drop=True)


def test_a_weeks_days_read_together_equal_each_day_read_alone_in_three_statements(db, scan):
    cfg = steps.load_config(db, scan["id"])
    windows = [steps.full_day_window(d) for d in WEEK]
    # the last day cut mid-day (a replay's time_to): its chunks, and so its per-chunk sample share, differ
    windows[-1] = (windows[-1][0], windows[-1][0] + timedelta(hours=15))
    passes.read_window(db, cfg, *windows[0])  # the config's first read freezes the histogram bins
    db.commit()
    cfg.metric_breakdown_values_limit = 1  # (not committed) top-1 of 3 platforms: which one leads varies by chunk

    adapter = _counting(cfg)
    try:
        alone = [passes.read_window(db, cfg, s, e, adapter=adapter) for s, e in windows]
        per_day = adapter.statements
        adapter.statements = 0
        together = passes.read_windows(db, cfg, windows, adapter=adapter)
        assert adapter.statements == 2  # one aggregate, one sample for the 7 days
        adapter.statements = 0
        summaries = steps.warehouse_aggregates_range(db, cfg, windows, adapter=adapter)
        assert adapter.statements == 3  # plus one newest-data probe for the run
    finally:
        adapter.close()
    assert per_day == 7 * 2  # a day alone: one aggregate, one sample (before: 2 per 6-hour chunk, 4 chunks a day)
    assert [s["rows"] for s in summaries] == [r.rows for r in alone]
    assert all(r.rows > 0 for r in alone)
    for one, both in zip(alone, together, strict=True):
        assert one.rows == both.rows and one.chunks == both.chunks
        assert set(one.frames) == set(both.frames)
        for name in one.frames:
            a, b = _sorted(one.frames[name]), _sorted(both.frames[name])
            assert len(a) > 0 or name in ("variables",), name
            pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=name)
