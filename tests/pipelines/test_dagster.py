"""Dagster: partitions materialised through the assets (any order) equal a Replay Scan Metrics over the same days;
sensors (queue, status, cancellation, registration, scheduling) evaluated with build_sensor_context."""

from __future__ import annotations

import uuid
from datetime import timedelta

import dagster as dg
import pytest
from sqlalchemy import text

from tests.pipelines.data import LAST
from tests.pipelines.helpers import SNAPSHOT_TABLES, replay, snapshot
from tripl_core.db.models.scans import ProjectAnomalySettings, ScanJob, ScanJobKind, ScanJobStatus
from tripl_pipelines.assets import SCAN_ASSETS
from tripl_pipelines.partitions import JOB_TAG, MODE_TAG, SCAN_CONFIGS, partition_key
from tripl_pipelines.sensors import (
    enqueue_due_runs,
    register_scan_configs,
    scan_job_cancellation,
    scan_job_queue,
    scan_job_status,
)

DAYS = [LAST - timedelta(days=2), LAST - timedelta(days=1), LAST]


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


def _materialize(instance, scan: dict, day, tags: dict | None = None, raise_on_error: bool = True):
    instance.add_dynamic_partitions(SCAN_CONFIGS.name, [scan["id"]])
    return dg.materialize(SCAN_ASSETS, instance=instance, partition_key=partition_key(scan["id"], day),
                          tags=tags or {}, raise_on_error=raise_on_error)


def _clear_outputs(db) -> None:
    db.execute(text("TRUNCATE " + ", ".join(SNAPSHOT_TABLES) + ", scan_stages"))
    db.execute(text("UPDATE events SET last_seen_at = NULL"))
    db.commit()


def test_backfill_in_any_order_equals_replay_and_is_idempotent(db, pg_scan, instance):
    db.add(ProjectAnomalySettings(project_id=uuid.UUID(pg_scan["project_id"]), min_history_buckets=24))
    db.commit()  # three days of hourly buckets: judge from the second day on
    for day in reversed(DAYS):  # a UI backfill may run partitions in any order
        assert _materialize(instance, pg_scan, day).success
    backfilled = snapshot(db)
    assert len(backfilled["metric_points"]) > 0 and len(backfilled["anomaly_signals"]) > 0

    assert _materialize(instance, pg_scan, DAYS[-1]).success  # materialising again changes nothing
    assert snapshot(db) == backfilled

    _clear_outputs(db)  # scan_states (frozen histogram edges) stay, as in production
    job = replay(db, pg_scan, DAYS[0], DAYS[-1] + timedelta(days=1))
    assert job.status == ScanJobStatus.succeeded, job.error_message
    assert snapshot(db) == backfilled


def _job(db, scan: dict, kind=ScanJobKind.replay, days=DAYS) -> ScanJob:
    job = ScanJob(project_id=uuid.UUID(scan["project_id"]), scan_config_id=uuid.UUID(scan["id"]), kind=kind,
                  time_from=days[0], time_to=days[-1] + timedelta(days=1))
    db.add(job)
    db.commit()
    return job


def test_queue_sensor_requests_one_run_per_day_with_job_run_keys(db, pg_scan, instance):
    job = _job(db, pg_scan)
    result = scan_job_queue(dg.build_sensor_context(instance=instance))
    keys = sorted(r.run_key for r in result.run_requests)
    assert keys == [f"{job.id}:{d:%Y-%m-%d}" for d in DAYS]
    assert all(r.tags == {JOB_TAG: str(job.id), MODE_TAG: "full"} for r in result.run_requests)
    assert [r.partition_key for r in result.run_requests][0] == partition_key(pg_scan["id"], DAYS[0])
    assert result.dynamic_partitions_requests[0].partition_keys == [pg_scan["id"]]
    db.refresh(job)
    assert job.status == ScanJobStatus.running and job.started_at is not None
    assert scan_job_queue(dg.build_sensor_context(instance=instance)).run_requests == []  # dispatched once


def test_status_sensor_writes_success_and_summary(db, pg_scan, instance):
    job = _job(db, pg_scan, days=[LAST])
    scan_job_queue(dg.build_sensor_context(instance=instance))
    assert _materialize(instance, pg_scan, LAST, {JOB_TAG: str(job.id), MODE_TAG: "full"}).success
    scan_job_status(dg.build_sensor_context(instance=instance))
    db.refresh(job)
    assert job.status == ScanJobStatus.succeeded
    assert job.result_summary["days"] == 1 and job.result_summary["rows"] > 0
    assert job.result_summary["metric_points"] > 0 and len(job.dagster_run_ids) == 1
    assert job.completed_at >= job.started_at


def test_status_sensor_fails_job_with_the_warehouse_message(db, pg_scan, instance):
    db.execute(text("UPDATE scan_configs SET base_query = 'SELECT * FROM missing_table' WHERE id = :i"),
               {"i": pg_scan["id"]})
    db.commit()
    job = _job(db, pg_scan, days=[LAST])
    scan_job_queue(dg.build_sensor_context(instance=instance))
    result = _materialize(instance, pg_scan, LAST, {JOB_TAG: str(job.id)}, raise_on_error=False)
    assert not result.success
    scan_job_status(dg.build_sensor_context(instance=instance))
    db.refresh(job)
    assert job.status == ScanJobStatus.failed
    assert 'relation "missing_table" does not exist' in job.error_message
    assert db.execute(text("SELECT count(*) FROM metric_points")).scalar() == 0


def test_cancellation_sensor_cancels_queued_runs(db, pg_scan, instance):
    job = _job(db, pg_scan, days=[LAST])
    scan_job_queue(dg.build_sensor_context(instance=instance))
    from tripl_pipelines.assets import scan_partition_job
    from tripl_pipelines.definitions import defs

    instance.add_dynamic_partitions(SCAN_CONFIGS.name, [pg_scan["id"]])
    job_def = defs.resolve_job_def(scan_partition_job.name)
    run = instance.create_run_for_job(job_def, tags={JOB_TAG: str(job.id)})
    db.refresh(job)
    job.cancel_requested_at = job.started_at
    db.commit()
    assert scan_job_cancellation(dg.build_sensor_context(instance=instance)) is None
    assert instance.get_run_by_id(run.run_id).status in (dg.DagsterRunStatus.CANCELED,
                                                          dg.DagsterRunStatus.CANCELING)
    scan_job_status(dg.build_sensor_context(instance=instance))
    db.refresh(job)
    assert job.status == ScanJobStatus.cancelled


def test_register_sensor_adds_and_removes_scan_config_partitions(db, pg_scan, instance):
    instance.add_dynamic_partitions(SCAN_CONFIGS.name, ["gone"])
    result = register_scan_configs(dg.build_sensor_context(instance=instance))
    kinds = {type(r).__name__: r.partition_keys for r in result.dynamic_partitions_requests}
    assert kinds == {"AddDynamicPartitionsRequest": [pg_scan["id"]], "DeleteDynamicPartitionsRequest": ["gone"]}


def test_scheduler_enqueues_one_run_per_due_config(db, pg_scan):
    from datetime import UTC, datetime

    made = enqueue_due_runs(datetime.now(UTC))
    assert len(made) == 1
    job = db.get(ScanJob, made[0])
    assert job.kind == ScanJobKind.run and job.trigger == "schedule" and job.status == ScanJobStatus.pending
    assert enqueue_due_runs(datetime.now(UTC)) == []  # not while one is open
