"""The Dagster code location loaded by workspace.yaml: scan assets (grouped "scans"), the partition job, and the
sensors that connect tripl's scan jobs to runs. Everything heavy lives in tripl_core.scanning."""

from __future__ import annotations

import dagster as dg

from tripl_pipelines.alerting import alert_dispatch
from tripl_pipelines.assets import SCAN_ASSETS, scan_partition_job
from tripl_pipelines.sensors import (
    register_scan_configs,
    scan_job_cancellation,
    scan_job_queue,
    scan_job_status,
    scan_scheduler,
)

defs = dg.Definitions(
    assets=SCAN_ASSETS,
    jobs=[scan_partition_job],
    sensors=[register_scan_configs, scan_job_queue, scan_job_status, scan_job_cancellation, scan_scheduler,
             alert_dispatch],
    schedules=[],
    executor=dg.in_process_executor,  # also for ad-hoc materialisations from the UI (see assets.py)
)
