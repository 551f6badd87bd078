"""Partitions of every scan asset: scan config (dynamic, registered by `register_scan_configs`) × UTC day.

Why days: Dagster advises at most ~100k partitions per asset; configs × 15-minute windows over a year is far
beyond that. A config's own interval (5m … 1d) is the bucket inside the day.
"""

from __future__ import annotations

from datetime import datetime

import dagster as dg

SCAN_CONFIGS = dg.DynamicPartitionsDefinition(name="scan_configs")
DAYS = dg.DailyPartitionsDefinition(start_date="2020-01-01", end_offset=1, timezone="UTC")
SCAN_PARTITIONS = dg.MultiPartitionsDefinition({"scan_config": SCAN_CONFIGS, "day": DAYS})
FIRST_DAY = datetime(2020, 1, 1)

# Run tags the sensors set and the assets read.
JOB_TAG = "tripl/job_id"
MODE_TAG = "tripl/mode"  # full (replay, UI backfill: whole day) | incremental (scheduled run)


def partition_key(scan_config_id: str, day: datetime) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"scan_config": str(scan_config_id), "day": day.strftime("%Y-%m-%d")})
