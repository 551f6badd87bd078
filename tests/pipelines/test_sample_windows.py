"""A window that starts off the chunk grid — a scheduled run recomputes from watermark − scan_lookback_hours, e.g.
22:00 with 6-hour chunks — is sampled like any other: its rows were all dropped by the chunked sample (found by
`test_scan_killed.py`: the rerun's lookback buckets had sampled_rows 0, so breaches and new fields there were never
seen, and each scheduled run wiped the previous run's sample counts of its lookback)."""

from __future__ import annotations

from datetime import timedelta

from tests.pipelines.data import LAST
from tripl_core.scanning import passes, steps


def test_a_window_starting_mid_chunk_is_sampled(db, pg_scan):
    cfg = steps.load_config(db, pg_scan["id"])
    day = LAST - timedelta(days=1)
    passes.read_window(db, cfg, day, day + timedelta(days=1))  # the first read freezes the histogram bins
    start, end = day + timedelta(hours=22), day + timedelta(days=1)
    result = passes.read_window(db, cfg, start, end)
    rows = int(result.frames["counts"]["count"].sum())
    fields = result.frames["sample_fields"]
    assert len(fields), "nothing of the window was sampled"
    sampled = fields.groupby("bucket")["sampled_rows"].max()
    assert rows > 0 and len(sampled) == 2, sampled  # both buckets of the window
    assert int(sampled.sum()) == rows  # fewer rows than the sample limit: every row sampled
