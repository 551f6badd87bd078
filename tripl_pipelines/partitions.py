"""Partitions of every scan asset: scan config (dynamic, kept in sync by `register_scan_configs`) × UTC day.

Why days: Dagster advises at most ~100k partitions per asset; configs × 15-minute windows over a year is far
beyond that. A config's own interval (5m … 1d) is the bucket inside the day. Days start at
`tripl_core.scanning.jobs.first_day()` (TRIPL_SCAN_FIRST_DAY), not 2020, so the UI's fill percentage counts days
that can hold data.

Why config × day with a multi-run BackfillPolicy (docs/pipelines.md, "Batched backfills"): Dagster builds the runs
of a backfill by holding the dimension with fewer selected keys constant (one config) and cutting the other (days)
into contiguous ranges of at most `DAYS_PER_RUN` (7 unless TRIPL_SCAN_DAYS_PER_RUN says more) — so N days of one
config are ⌈N / DAYS_PER_RUN⌉ runs, each on a key range `<config>|<first day>` … `<config>|<last day>`. The older
bugs where single_run/multi_run on a multi-partitioned asset fell back to one run per partition (dagster-io/dagster
#18852, #23996) are the grouping this version fixes; `tests/pipelines/test_backfills.py` proves the run count with
the daemon's own backfill iteration.

Config partition keys are readable — `<project slug>/<config name slug>` — and follow renames and deletes (the
registration sensor adds the new key and drops the old one). A key that names no config fails the run at once.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

import dagster as dg
from sqlalchemy import select
from sqlalchemy.orm import Session

from tripl_core.db.models.projects import Project
from tripl_core.db.models.sources import ScanConfig
from tripl_core.scanning.jobs import first_day
from tripl_core.settings import get_settings

DAYS_PER_RUN = get_settings().scan_days_per_run  # TRIPL_SCAN_DAYS_PER_RUN, default 7
FIRST_DAY = first_day()
SCAN_CONFIGS = dg.DynamicPartitionsDefinition(name="scan_configs")
DAYS = dg.DailyPartitionsDefinition(start_date=FIRST_DAY.strftime("%Y-%m-%d"), end_offset=1, timezone="UTC")
# dimension names sort "config" < "day": Dagster orders a multi-partition's keys by dimension name
SCAN_PARTITIONS = dg.MultiPartitionsDefinition({"config": SCAN_CONFIGS, "day": DAYS})
BACKFILL_POLICY = dg.BackfillPolicy.multi_run(DAYS_PER_RUN)

# Run tags the sensors set and the assets read.
JOB_TAG = "tripl/job_id"
MODE_TAG = "tripl/mode"  # full (replay, UI backfill: whole day) | incremental (scheduled run)

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    return _NOT_SLUG.sub("-", text.lower()).strip("-") or "config"


def config_keys(rows: Iterable[tuple[uuid.UUID, str, str]]) -> dict[uuid.UUID, str]:
    """(config id, project slug, config name) → partition key `<project>/<config>`; configs of one project whose
    names slug alike get a short id suffix, so keys stay unique and stable."""
    base = {cid: f"{project}/{slug(name)}" for cid, project, name in rows}
    seen: dict[str, int] = {}
    for key in base.values():
        seen[key] = seen.get(key, 0) + 1
    return {cid: key if seen[key] == 1 else f"{key}-{str(cid)[:8]}" for cid, key in base.items()}


def all_config_keys(db: Session) -> dict[uuid.UUID, str]:
    rows = db.execute(select(ScanConfig.id, Project.slug, ScanConfig.name)
                      .join(Project, Project.id == ScanConfig.project_id))
    return config_keys((r[0], r[1], r[2]) for r in rows)


def config_key(db: Session, scan_config_id: uuid.UUID | str) -> str:
    return all_config_keys(db)[uuid.UUID(str(scan_config_id))]


def resolve_config(db: Session, key: str) -> ScanConfig:
    """The scan config a partition key names; a clear failure for keys of deleted or renamed configs."""
    for cid, k in all_config_keys(db).items():
        if k == key:
            return db.get(ScanConfig, cid)
    raise dg.Failure(description=f"No scan config has the partition key '{key}': it was renamed or deleted. "
                                 "Partitions of current configs are kept in sync by the register_scan_configs "
                                 "sensor; backfill those instead.")


def partition_key(config: str, day: datetime) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"config": config, "day": day.strftime("%Y-%m-%d")})


def day_of_key(day: str) -> datetime:
    return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
