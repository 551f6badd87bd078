"""Dagster: partitions materialised through the assets (single days in any order, or a batched range of days in
one run) equal a Replay Scan Metrics over the same days; sensors (queue, run status, cancellation, registration,
scheduling) evaluated with build_sensor_context and the real resources."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd
import pytest
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG
from sqlalchemy import text

from tests.pipelines.data import LAST
from tests.pipelines.helpers import SNAPSHOT_TABLES, replay, rows, snapshot
from tripl_core.db.models.scans import ProjectAnomalySettings, ScanJob, ScanJobKind, ScanJobStatus
from tripl_core.sources.data_sources import adapter_for
from tripl_pipelines.assets import SCAN_ASSETS
from tripl_pipelines.partitions import JOB_TAG, MODE_TAG, SCAN_CONFIGS, partition_key
from tripl_pipelines.progress import settle
from tripl_pipelines.resources import TriplDatabase, WarehouseClients
from tripl_pipelines.sensors import (
    apply_event_groups_queue,
    enqueue_due_runs,
    register_scan_configs,
    scan_job_cancellation,
    scan_job_queue,
    scan_run_failed,
    scan_scheduler,
)

DAYS = [LAST - timedelta(days=2), LAST - timedelta(days=1), LAST]
KEY = "shop-app/events-postgres"  # readable partition key of pg_scan: <project slug>/<config name slug>


class CountingWarehouse(WarehouseClients):
    """The real client, counting the statements a run sends and the clients it opens."""

    def client(self, cfg):  # type: ignore[override]
        from contextlib import contextmanager

        @contextmanager
        def _cm():
            adapter = adapter_for(cfg.data_source)
            real = adapter.query_df
            STATS["clients"] += 1

            def query_df(sql, *a, **k):
                STATS["queries"] += 1
                return real(sql, *a, **k)

            adapter.query_df = query_df  # type: ignore[method-assign]
            try:
                yield adapter
            finally:
                adapter.close()

        return _cm()


STATS = {"clients": 0, "queries": 0}


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


def _ctx(instance, **kw):
    return dg.build_sensor_context(instance=instance, resources={"tripl_db": TriplDatabase()}, **kw)


def _materialize(instance, day, tags: dict | None = None, raise_on_error: bool = True, last=None, warehouse=None):
    instance.add_dynamic_partitions(SCAN_CONFIGS.name, [KEY])
    resources = {"tripl_db": TriplDatabase(), "warehouse": warehouse or WarehouseClients()}
    if last is None:
        return dg.materialize(SCAN_ASSETS, instance=instance, partition_key=partition_key(KEY, day),
                              tags=tags or {}, raise_on_error=raise_on_error, resources=resources)
    rng = {ASSET_PARTITION_RANGE_START_TAG: str(partition_key(KEY, day)),
           ASSET_PARTITION_RANGE_END_TAG: str(partition_key(KEY, last))}
    return dg.materialize(SCAN_ASSETS, instance=instance, tags={**rng, **(tags or {})},
                          raise_on_error=raise_on_error, resources=resources)


def _clear_outputs(db) -> None:
    db.execute(text("TRUNCATE " + ", ".join(SNAPSHOT_TABLES) + ", scan_stages"))
    db.execute(text("UPDATE events SET last_seen_at = NULL"))
    db.commit()


def test_backfill_in_any_order_or_batched_equals_replay_and_is_idempotent(db, pg_scan, instance):
    db.add(ProjectAnomalySettings(project_id=uuid.UUID(pg_scan["project_id"]), min_history_buckets=24))
    db.commit()  # three days of hourly buckets: judge from the second day on
    for day in reversed(DAYS):  # a UI backfill may run partitions in any order
        assert _materialize(instance, day).success
    backfilled = snapshot(db)
    assert len(backfilled["metric_points"]) > 0 and len(backfilled["anomaly_signals"]) > 0

    assert _materialize(instance, DAYS[-1]).success  # materialising again changes nothing
    assert snapshot(db) == backfilled

    _clear_outputs(db)  # one batched run over the three days: the same rows, one warehouse client
    STATS.update(clients=0, queries=0)
    result = _materialize(instance, DAYS[0], last=DAYS[-1], warehouse=CountingWarehouse())
    assert result.success
    assert snapshot(db) == backfilled
    # the run's 3 days (replay_chunk_interval 6h: 12 chunks) are read together: one newest-data probe
    # (scanning/horizon.py), one aggregate and one sample statement ranked per chunk; one client for the run
    # (before: 3 × (4 × 2 + 1) = 27 statements)
    assert STATS == {"clients": 1, "queries": 3}
    mats = result.get_asset_materialization_events()
    per_day = {e.partition: e.materialization.metadata for e in mats if e.asset_key.path == ["event_metrics"]}
    assert sorted(per_day) == sorted(str(partition_key(KEY, d)) for d in DAYS)
    assert all(m["metric_points"].value > 0 for m in per_day.values())  # per-day numbers the UI plots
    assert all("/ui/projects/shop-app)" in m["tripl"].value for m in per_day.values())  # link back to tripl
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    volume = evaluations["volume_anomalies"]  # the crafted spike / silence of the last day: red, with links
    assert not volume.passed and volume.severity == dg.AssetCheckSeverity.WARN
    assert volume.metadata["signals"].value == len(backfilled["anomaly_signals"])
    assert "/ui/projects/shop-app/signals/" in volume.metadata["findings"].value
    contract = evaluations["contract_breaches"]  # load_time_ms turned into strings, a new property
    assert not contract.passed and "/ui/projects/shop-app/drifts/" in contract.metadata["findings"].value

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


def _tick(sensor, instance):
    """What the sensor daemon evaluates: the sensor plus Dagster's validation of its requests."""
    from tripl_pipelines.definitions import defs

    ctx = dg.build_sensor_context(instance=instance, resources={"tripl_db": TriplDatabase()}, definitions=defs,
                                  sensor_name=sensor.name)
    return sensor.evaluate_tick(ctx)


def test_queue_sensor_requests_one_backfill_per_job(db, pg_scan, instance):
    job = _job(db, pg_scan)
    result = _tick(scan_job_queue, instance)
    assert len(result.run_requests) == 1
    request = result.run_requests[0]
    assert request.requires_backfill_daemon()
    assert {k: v for k, v in request.tags.items() if k.startswith("tripl/")} == {JOB_TAG: str(job.id),
                                                                                MODE_TAG: "full"}
    subset = request.asset_graph_subset
    assert {k.path[0] for k in subset.asset_keys} == {a.key.path[0] for a in SCAN_ASSETS}
    keys = subset.partitions_subsets_by_asset_key[SCAN_ASSETS[0].key].get_partition_keys()
    assert sorted(keys) == sorted(str(partition_key(KEY, d)) for d in DAYS)
    assert result.dynamic_partitions_requests[0].partition_keys == [KEY]
    db.refresh(job)
    assert job.status == ScanJobStatus.running and job.started_at is not None
    assert job.result_summary == {"days": 0, "days_total": 3}
    assert _tick(scan_job_queue, instance).run_requests == []  # dispatched once


def test_apply_event_groups_is_a_run_launched_once(db, pg_scan, instance):
    job = _job(db, pg_scan, kind=ScanJobKind.apply_event_groups)
    (request,) = _tick(apply_event_groups_queue, instance).run_requests
    assert request.run_key == f"apply:{job.id}" and apply_event_groups_queue.job_name == "apply_scan_event_groups"
    from tripl_pipelines.jobs import apply_event_groups_job

    run = apply_event_groups_job.execute_in_process(instance=instance, tags={JOB_TAG: str(job.id)},
                                                    resources={"tripl_db": TriplDatabase()})
    assert run.success
    db.refresh(job)
    assert job.status == ScanJobStatus.succeeded and job.result_summary is not None


def _as_backfill_run(instance, job, day, last=None, raise_on_error=True):
    return _materialize(instance, day, {JOB_TAG: str(job.id), MODE_TAG: "full"}, raise_on_error, last=last)


def test_run_outcomes_settle_progress_then_success_with_totals(db, pg_scan, instance):
    db.add(ProjectAnomalySettings(project_id=uuid.UUID(pg_scan["project_id"]), min_history_buckets=24))
    job = _job(db, pg_scan)
    scan_job_queue(_ctx(instance))
    assert _as_backfill_run(instance, job, DAYS[0], last=DAYS[1]).success  # first run: 2 of 3 days
    db.refresh(job)
    settle(instance, db, job)
    assert job.status == ScanJobStatus.running and job.result_summary["days"] == 2
    assert job.result_summary["days_total"] == 3
    assert _as_backfill_run(instance, job, DAYS[2]).success
    line = settle(instance, db, job)
    db.commit()
    assert job.status == ScanJobStatus.succeeded and "3/3 days, succeeded" in line
    assert job.result_summary["rows"] > 0 and job.result_summary["metric_points"] > 0
    assert len(job.dagster_run_ids) == 2 and job.completed_at >= job.started_at
    dagster_summary = {k: v for k, v in job.result_summary.items() if k != "seconds"}

    _clear_outputs(db)  # the same work in-process: the same result_summary (totals of the window, not sums)
    inprocess = replay(db, pg_scan, DAYS[0], DAYS[-1] + timedelta(days=1))
    assert {k: v for k, v in inprocess.result_summary.items() if k != "seconds"} == dagster_summary
    assert dagster_summary["days"] == dagster_summary["days_total"] == 3 and dagster_summary["signals"] >= 1


def test_a_replay_through_dagster_is_cut_at_its_time_to_like_the_inprocess_runner(db, pg_scan, instance):
    """A replay ending mid-day (D9 14:00) stores nothing at or after 14:00 through the assets, and exactly the
    rows the in-process runner stores for the same replay (issue 19: both executors cut at time_to)."""
    db.add(ProjectAnomalySettings(project_id=uuid.UUID(pg_scan["project_id"]), min_history_buckets=24))
    time_to = LAST + timedelta(hours=14)
    job = ScanJob(project_id=uuid.UUID(pg_scan["project_id"]), scan_config_id=uuid.UUID(pg_scan["id"]),
                  kind=ScanJobKind.replay, time_from=DAYS[0], time_to=time_to)
    db.add(job)
    db.commit()
    assert _as_backfill_run(instance, job, DAYS[0], last=DAYS[-1]).success
    via_dagster = snapshot(db)
    points = rows(db, "metric_points")
    assert len(points) > 0
    last_bucket = pd.to_datetime(points["bucket"], utc=True).max()
    assert last_bucket == pd.Timestamp(time_to - timedelta(hours=1))  # 13:00, the last bucket before time_to
    for table in ("metric_points", "breakdown_points", "app_version_points", "field_observations",
                  "anomaly_signals"):
        late = rows(db, table, "bucket >= :t", t=time_to)
        assert late.empty, (table, late)

    _clear_outputs(db)
    inprocess = replay(db, pg_scan, DAYS[0], time_to)
    assert inprocess.status == ScanJobStatus.succeeded, inprocess.error_message
    assert snapshot(db) == via_dagster


def test_failed_run_fails_job_with_the_warehouse_message(db, pg_scan, instance, owner):
    from tests.alerting.helpers import FakeServer

    hook = FakeServer()
    r = owner.post("/api/v1/projects/shop-app/alerts/destinations", json={
        "type": "webhook", "name": "ops hook", "target_url": f"{hook.url}/tripl"})
    assert r.status_code == 201, r.text
    db.execute(text("UPDATE scan_configs SET base_query = 'SELECT * FROM missing_table' WHERE id = :i"),
               {"i": pg_scan["id"]})
    db.commit()
    job = _job(db, pg_scan, days=[LAST])
    scan_job_queue(_ctx(instance))
    result = _as_backfill_run(instance, job, LAST, raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE]
    ctx = dg.build_run_status_sensor_context(
        sensor_name="scan_run_failed", dagster_event=failure, dagster_instance=instance,
        dagster_run=result.dagster_run, resources={"tripl_db": TriplDatabase()}).for_run_failure()
    request = scan_run_failed(ctx)  # the run failure sensor settles the job and asks for the alert run
    db.refresh(job)
    assert job.status == ScanJobStatus.failed
    assert 'relation "missing_table" does not exist' in job.error_message
    assert db.execute(text("SELECT count(*) FROM metric_points")).scalar() == 0
    assert isinstance(request, dg.RunRequest) and request.run_key == f"scan-failed:{job.id}"

    from tripl_pipelines.jobs import scan_failed_alert_job

    try:
        run = scan_failed_alert_job.execute_in_process(instance=instance, tags=request.tags,
                                                       resources={"tripl_db": TriplDatabase()})
        assert run.success and run.output_for_node("scan_failed_alert_op") == {"sent": 1, "failed": 0}
        (sent,) = hook.requests
        body = sent.json()
        assert body["subject"].startswith("Scan failed: events postgres")
        assert 'relation "missing_table" does not exist' in body["text"]
        assert f"/ui/projects/shop-app/scan-jobs/{job.id}" in body["text"]
    finally:
        hook.close()


def test_unknown_config_partition_fails_at_once_with_a_clear_message(db, pg_scan, instance):
    instance.add_dynamic_partitions(SCAN_CONFIGS.name, ["shop-app/renamed-away"])
    result = dg.materialize(SCAN_ASSETS, instance=instance, partition_key=partition_key("shop-app/renamed-away", LAST),
                            resources={"tripl_db": TriplDatabase(), "warehouse": WarehouseClients()},
                            raise_on_error=False)
    assert not result.success
    failure = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE][0]
    assert "No scan config has the partition key 'shop-app/renamed-away'" in failure.step_failure_data.error.message


def test_cancellation_sensor_cancels_queued_runs(db, pg_scan, instance):
    job = _job(db, pg_scan, days=[LAST])
    scan_job_queue(_ctx(instance))
    from tripl_pipelines.assets import scan_partition_job
    from tripl_pipelines.definitions import defs

    instance.add_dynamic_partitions(SCAN_CONFIGS.name, [KEY])
    job_def = defs.resolve_job_def(scan_partition_job.name)
    run = instance.create_run_for_job(job_def, tags={JOB_TAG: str(job.id)})
    db.refresh(job)
    job.cancel_requested_at = job.started_at
    db.commit()
    assert scan_job_cancellation(_ctx(instance)) is None
    assert instance.get_run_by_id(run.run_id).status in (dg.DagsterRunStatus.CANCELED,
                                                          dg.DagsterRunStatus.CANCELING)
    db.refresh(job)
    assert job.status == ScanJobStatus.cancelled


def test_register_sensor_adds_readable_keys_and_follows_renames(db, pg_scan, instance, owner):
    instance.add_dynamic_partitions(SCAN_CONFIGS.name, ["gone"])
    result = register_scan_configs(_ctx(instance))
    kinds = {type(r).__name__: r.partition_keys for r in result.dynamic_partitions_requests}
    assert kinds == {"AddDynamicPartitionsRequest": [KEY], "DeleteDynamicPartitionsRequest": ["gone"]}
    r = owner.patch(f"/api/v1/projects/shop-app/scans/{pg_scan['id']}", json={"name": "Web Events"})
    assert r.status_code == 200, r.text
    instance.add_dynamic_partitions(SCAN_CONFIGS.name, [KEY])
    instance.delete_dynamic_partition(SCAN_CONFIGS.name, "gone")
    result = register_scan_configs(_ctx(instance))
    kinds = {type(r).__name__: r.partition_keys for r in result.dynamic_partitions_requests}
    assert kinds == {"AddDynamicPartitionsRequest": ["shop-app/web-events"], "DeleteDynamicPartitionsRequest": [KEY]}


def test_scheduler_enqueues_one_run_per_due_config(db, pg_scan, instance, monkeypatch):
    made = enqueue_due_runs(db, datetime.now(UTC))
    db.commit()
    assert len(made) == 1
    job = db.get(ScanJob, made[0])
    assert job.kind == ScanJobKind.run and job.trigger == "schedule" and job.status == ScanJobStatus.pending
    assert enqueue_due_runs(db, datetime.now(UTC)) == []  # not while one is open


def test_scheduler_schedules_nothing_when_the_api_executes_scans(db, pg_scan, instance, monkeypatch):
    from tripl_core.settings import get_settings

    monkeypatch.setattr(get_settings(), "scan_executor", "inprocess")
    assert isinstance(scan_scheduler(_ctx(instance)), dg.SkipReason)
    assert db.execute(text("SELECT count(*) FROM scan_jobs")).scalar() == 0
