"""The Dagster code location loaded by workspace.yaml: scan assets (grouped "scans"), the op jobs sensors launch,
the sensors that connect tripl's scan jobs to Dagster, and the resources they all receive."""

from __future__ import annotations

import dagster as dg

from tripl_pipelines.alerting import alert_dispatch
from tripl_pipelines.assets import SCAN_ASSETS, scan_partition_job
from tripl_pipelines.jobs import alert_dispatch_job, apply_event_groups_job, scan_failed_alert_job
from tripl_pipelines.resources import default_resources
from tripl_pipelines.sensors import (
    apply_event_groups_queue,
    register_scan_configs,
    scan_job_cancellation,
    scan_job_queue,
    scan_job_watchdog,
    scan_run_canceled,
    scan_run_failed,
    scan_run_finished,
    scan_scheduler,
)

defs = dg.Definitions(
    assets=SCAN_ASSETS,
    jobs=[scan_partition_job, apply_event_groups_job, alert_dispatch_job, scan_failed_alert_job],
    sensors=[register_scan_configs, scan_job_queue, apply_event_groups_queue, scan_run_finished, scan_run_failed, scan_run_canceled,
             scan_job_cancellation, scan_job_watchdog, scan_scheduler, alert_dispatch],
    resources=default_resources(),
    executor=dg.in_process_executor,  # also for ad-hoc materialisations from the UI (see assets.py)
    # runs log at INFO: the console showed ~4,000 DEBUG lines (every step event) for the demo
    loggers={"console": dg.colored_console_logger.configured({"log_level": "INFO"})},
)
