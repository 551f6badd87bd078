"""A scan killed with SIGKILL in the middle of a partition (issue 21, item 5): the job does not stay "running",
and running the scan again leaves exactly the rows and alerts of one clean run.

The kill point is deterministic: the runner is another process (its own process group) reading the warehouse
through the TCP forwarder of `test_warehouse_faults`, which lets half the connections of a clean run through and
then accepts one and never answers it, so the runner sits inside the warehouse read of the run's days (both days are
read together, `steps.warehouse_aggregates_range`) — histogram bins decided and committed, no day written — when
its process group gets SIGKILL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from tests.alerting.helpers import FakeServer
from tests.alerting_api.conftest import hook  # noqa: F401 - fixture
from tests.alerting_api.helpers import BASE, alert_everything, run_dispatch
from tests.pipelines.conftest import make_config
from tests.pipelines.helpers import SNAPSHOT_TABLES, replay, snapshot
from tests.pipelines.test_warehouse_faults import WINDOW, Forwarder, _day_totals, forwarder  # noqa: F401
from tripl_core.db.models.scans import ScanJob, ScanJobKind

ROOT = Path(__file__).resolve().parents[2]
RUNNER = "import sys, uuid; from tripl_core.scanning import runner; runner.run_job_by_id(uuid.UUID(sys.argv[1]))"
# What one scan and its alerts leave behind, besides the job rows (wiped between the two runs compared).
OUTPUTS = [*SNAPSHOT_TABLES, "scan_states", "scan_stages", "dead_events", "variable_observations",
           "alert_deliveries", "alert_matches", "alert_correlation_groups", "alert_feedback"]


def _source(owner, pipe_pg: dict, port: int) -> dict:
    # a generous timeout: the stalled connection must still be waiting when the kill comes
    r = owner.post("/api/v1/data-sources", json={
        "name": "killed", "db_type": "postgres", "host": "127.0.0.1", "port": port,
        "database_name": pipe_pg["database"], "username": pipe_pg["username"], "password": pipe_pg["password"],
        "timeout_seconds": 120})
    assert r.status_code == 201, r.text
    return r.json()


def _state(db, scan_id: str) -> dict:
    out = snapshot(db)
    out["scan_states"] = [tuple(map(str, r)) for r in db.execute(text(
        "SELECT watermark, histogram_edges FROM scan_states WHERE scan_config_id = :s"), {"s": scan_id})]
    return out


def _alerts(sink: FakeServer) -> list[tuple]:
    """What the webhook received, without the scan job's own id (each run is another job)."""
    return sorted((i["kind"], i["finding_id"], i.get("scope_name"), i.get("summary"))
                  for r in sink.requests for i in r.json()["items"])


def _deliveries(db) -> list[tuple]:
    return sorted(tuple(map(str, r)) for r in db.execute(text(
        "SELECT status, attempts, matched_count FROM alert_deliveries")))


def test_a_scan_killed_mid_partition_is_failed_and_its_rerun_equals_one_clean_run(
        owner, plan, pipe_pg, db, forwarder, hook):  # noqa: F811
    scan = make_config(owner, _source(owner, pipe_pg, forwarder.port), name="killed")
    alert_everything(owner, f"{hook.url}/scan")
    now = WINDOW[1] + timedelta(hours=1)

    # The reference: one clean run, its rows and the alerts dispatched for it.
    forwarder.connections = 0
    clean = replay(db, scan, *WINDOW)
    assert clean.status.value == "succeeded", clean.error_message
    needed, reference = forwarder.connections, _state(db, scan["id"])
    assert run_dispatch(now).sent == 1
    reference_alerts, reference_deliveries = _alerts(hook), _deliveries(db)
    assert reference_alerts and reference["schema_drifts"]
    db.execute(text(f"TRUNCATE {', '.join(OUTPUTS)} CASCADE"))
    db.commit()
    hook.requests.clear()

    # The killed run: stuck inside the warehouse read of its two days.
    forwarder.connections, forwarder.budget, forwarder.mode = 0, needed // 2 + 1, "stall"
    job = ScanJob(project_id=uuid.UUID(scan["project_id"]), scan_config_id=uuid.UUID(scan["id"]),
                  kind=ScanJobKind.replay, time_from=WINDOW[0], time_to=WINDOW[1], trigger="inprocess")
    db.add(job)
    db.commit()
    child = subprocess.Popen([sys.executable, "-c", RUNNER, str(job.id)], cwd=ROOT, env=dict(os.environ),
                             start_new_session=True, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while forwarder.connections <= forwarder.budget:  # until the stalled connection is accepted
        assert child.poll() is None, child.stderr.read() if child.stderr else child.returncode
        assert time.monotonic() < deadline, "the runner never reached the stalled connection"
        time.sleep(0.05)
    os.killpg(child.pid, signal.SIGKILL)
    assert child.wait(30) == -signal.SIGKILL
    db.expire_all()
    assert list(_day_totals(db, scan["id"]).values()) == []  # neither day half-written

    # The killed job is failed with a reason as soon as anyone looks (no runner holds it any more).
    r = owner.get(f"{BASE}/scans/{scan['id']}/jobs/{job.id}")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "failed" and "stopped before it finished" in r.json()["error_message"], r.json()
    assert r.json()["completed_at"]

    # The warehouse is reachable again; the scan runs again: exactly one clean run's rows and alerts.
    forwarder.budget = None
    forwarder.close()
    fresh = Forwarder(pipe_pg)
    try:
        db.execute(text("UPDATE data_sources SET port = :p WHERE name = 'killed'"), {"p": fresh.port})
        db.commit()
        rerun = replay(db, scan, *WINDOW)
    finally:
        fresh.close()
    assert rerun.status.value == "succeeded", rerun.error_message
    assert _state(db, scan["id"]) == reference
    assert run_dispatch(now).sent == 1
    assert _alerts(hook) == reference_alerts and _deliveries(db) == reference_deliveries


def test_a_running_job_with_a_live_runner_is_left_alone(owner, plan, pipe_pg, db, forwarder):  # noqa: F811
    """The other side: a job whose runner is alive (stuck on the warehouse, but alive) stays running."""
    scan = make_config(owner, _source(owner, pipe_pg, forwarder.port), name="alive")
    forwarder.connections, forwarder.budget, forwarder.mode = 0, 0, "stall"
    job = ScanJob(project_id=uuid.UUID(scan["project_id"]), scan_config_id=uuid.UUID(scan["id"]),
                  kind=ScanJobKind.replay, time_from=WINDOW[0], time_to=WINDOW[1], trigger="inprocess")
    db.add(job)
    db.commit()
    child = subprocess.Popen([sys.executable, "-c", RUNNER, str(job.id)], cwd=ROOT, env=dict(os.environ),
                             start_new_session=True, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while forwarder.connections < 1:
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        jobs = owner.get(f"{BASE}/scans/{scan['id']}/jobs").json()
        assert [(j["id"], j["status"]) for j in jobs] == [(str(job.id), "running")]
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(30)
    jobs = owner.get(f"{BASE}/scans/{scan['id']}/jobs").json()
    assert [j["status"] for j in jobs] == ["failed"]


def test_a_dagster_run_worker_killed_fails_its_job_saying_why(owner, plan, pipe_pg, db, forwarder):  # noqa: F811
    """Under Dagster (DefaultRunLauncher) a run worker is a child process of the code server, which notices a dead
    one (`dagster/_grpc/server.py`, `_check_for_orphaned_runs`): it records the crash in an engine event and marks
    the run failed. Here a real code server launches a real scan run, the run worker stalls in the warehouse
    read and gets SIGKILL; settling the job (what the run-failure sensor does) fails it with the crash as its
    reason — before: Dagster's "marked as failed from outside the execution context" (the event's text starts
    with "[DagsterApiServer] ", which the first version of the fix did not expect)."""
    import re

    from dagster._core.test_utils import create_run_for_test, instance_for_test
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import GrpcServerTarget
    from dagster._grpc.server import GrpcServerProcess

    from tripl_pipelines.partitions import JOB_TAG, SCAN_CONFIGS, partition_key
    from tripl_pipelines.progress import settle

    scan = make_config(owner, _source(owner, pipe_pg, forwarder.port), name="dagster kill")
    key, day = "shop-app/dagster-kill", WINDOW[0]
    job = ScanJob(project_id=uuid.UUID(scan["project_id"]), scan_config_id=uuid.UUID(scan["id"]),
                  kind=ScanJobKind.replay, time_from=day, time_to=day + timedelta(days=1), trigger="api",
                  status="running")
    db.add(job)
    db.commit()
    forwarder.connections, forwarder.budget, forwarder.mode = 0, 0, "stall"
    with instance_for_test() as instance:
        instance.add_dynamic_partitions(SCAN_CONFIGS.name, [key])
        origin = LoadableTargetOrigin(executable_path=sys.executable, module_name="tripl_pipelines.definitions",
                                      working_directory=str(ROOT))
        with GrpcServerProcess(instance_ref=instance.get_ref(), loadable_target_origin=origin,
                               startup_timeout=120) as server, \
                WorkspaceProcessContext(instance, GrpcServerTarget(host="localhost", port=server.port,
                                                                   socket=server.socket,
                                                                   location_name="tripl")) as workspace:
            request = workspace.create_request_context()
            remote = request.get_code_location("tripl").get_repository("__repository__").get_full_job(
                "scan_partition")
            run = create_run_for_test(
                instance, job_name="scan_partition", remote_job_origin=remote.get_remote_origin(),
                job_code_origin=remote.get_python_origin(),
                tags={JOB_TAG: str(job.id), "dagster/partition": str(partition_key(key, day)),
                      "dagster/partition/config": key, "dagster/partition/day": day.strftime("%Y-%m-%d")})
            instance.launch_run(run.run_id, request)
            deadline = time.monotonic() + 180
            while forwarder.connections < 1:  # the run worker is inside the warehouse read
                assert not instance.get_run_by_id(run.run_id).is_finished, \
                    [r.message for r in instance.all_logs(run.run_id)][-5:]
                assert time.monotonic() < deadline, "the run never reached the warehouse"
                time.sleep(0.1)
            worker = next(int(m.group(1)) for r in instance.all_logs(run.run_id)
                          if (m := re.search(r"Started process for run \(pid: (\d+)\)", r.message or "")))
            os.kill(worker, signal.SIGKILL)
            while not instance.get_run_by_id(run.run_id).is_finished:  # the code server's cleanup tick
                assert time.monotonic() < deadline, "the code server never failed the run"
                time.sleep(0.2)
            assert instance.get_run_by_id(run.run_id).status.value == "FAILURE"
            db.refresh(job)
            settle(instance, db, job)
            db.commit()
    assert job.status.value == "failed" and job.completed_at is not None
    assert job.error_message.startswith(f"Run execution process for {run.run_id} was terminated by signal 9 "
                                        "(SIGKILL)."), job.error_message
    assert db.execute(text("SELECT count(*) FROM metric_points")).scalar() == 0


def test_an_api_that_starts_fails_dead_jobs_and_runs_the_pending_ones_it_lost(app, pg_scan, db, inprocess):
    """TRIPL_SCAN_EXECUTOR=inprocess: a job queued on a worker's scan thread dies with the worker (kill -9, a
    restart) and nothing would ever start it; a job that worker was running stays "running". When an API
    process starts it fails the second and runs the first."""
    from fastapi.testclient import TestClient

    from tripl_core.db.models.scans import ScanJobStatus
    from tripl_core.scanning.liveness import ORPHANED

    def job(status: ScanJobStatus) -> ScanJob:
        return ScanJob(project_id=uuid.UUID(pg_scan["project_id"]), scan_config_id=uuid.UUID(pg_scan["id"]),
                       kind=ScanJobKind.replay, time_from=WINDOW[0], time_to=WINDOW[1], trigger="inprocess",
                       status=status)

    lost, dead = job(ScanJobStatus.pending), job(ScanJobStatus.running)
    db.add_all([lost, dead])
    db.commit()
    with TestClient(app):
        deadline = time.monotonic() + 120
        while True:
            db.expire_all()
            if db.get(ScanJob, lost.id).status.is_final:
                break
            assert time.monotonic() < deadline, f"the lost job is still {db.get(ScanJob, lost.id).status.value}"
            time.sleep(0.2)
    assert db.get(ScanJob, lost.id).status == ScanJobStatus.succeeded, db.get(ScanJob, lost.id).error_message
    assert db.get(ScanJob, dead.id).status == ScanJobStatus.failed
    assert db.get(ScanJob, dead.id).error_message == ORPHANED


RUN_AT = ("import sys, uuid; from datetime import datetime; from tripl_core.db.session import new_session; "
          "from tripl_core.db.models.scans import ScanJob; from tripl_core.scanning import runner; db = new_session(); "
          "runner.run_job(db, db.get(ScanJob, uuid.UUID(sys.argv[1])), now=datetime.fromisoformat(sys.argv[2]))")


def _waiting_on_advisory_lock(db) -> int:
    return db.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).scalar()


def test_a_scheduled_run_killed_between_its_days_reruns_to_one_clean_run(owner, pg_scan, db, hook):  # noqa: F811
    """The other kill point: after the warehouse read, the first day committed (rows and watermark), the second
    day's transaction open. Made deterministic with the config's own writer lock (`store.advisory_lock`, taken by
    each day's metrics step): the test holds it, lets the first day through by queueing for it again behind the
    runner (PostgreSQL grants waiters in order), and kills the runner once it waits for it in the second day."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from tripl_core.db.session import database_url
    from tripl_core.scanning import runner

    alert_everything(owner, f"{hook.url}/run")
    now, start = WINDOW[1] + timedelta(hours=1), WINDOW[0] + timedelta(hours=2)
    cfg_id = uuid.UUID(pg_scan["id"])

    def scheduled() -> ScanJob:
        db.execute(text("INSERT INTO scan_states (scan_config_id, watermark) VALUES (:s, :w) ON CONFLICT "
                        "(scan_config_id) DO UPDATE SET watermark = :w"), {"s": cfg_id, "w": start})
        job = ScanJob(project_id=uuid.UUID(pg_scan["project_id"]), scan_config_id=cfg_id, kind=ScanJobKind.run,
                      trigger="inprocess")
        db.add(job)
        db.commit()
        return job

    clean = runner.run_job(db, scheduled(), now=now)
    assert clean.status.value == "succeeded" and clean.result_summary["days"] >= 2, clean.error_message
    reference = _state(db, pg_scan["id"])
    assert reference["scan_states"][0][0] == str(WINDOW[1])  # the watermark: the end of the data
    assert run_dispatch(now).sent == 1
    reference_alerts, reference_deliveries = _alerts(hook), _deliveries(db)
    db.execute(text(f"TRUNCATE {', '.join(OUTPUTS)} CASCADE"))
    db.commit()
    hook.requests.clear()

    job = scheduled()
    locker = create_engine(database_url(), poolclass=NullPool).connect()  # the test's own session, for the lock
    key = {"k": f"scan:{cfg_id}"}
    locker.execute(text("SET lock_timeout = '120s'"))
    locker.execute(text("SELECT pg_advisory_lock(hashtextextended(:k, 0))"), key)
    child = subprocess.Popen([sys.executable, "-c", RUN_AT, str(job.id), now.isoformat()], cwd=ROOT,
                             env=dict(os.environ), start_new_session=True, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not _waiting_on_advisory_lock(db):  # the first day waits for the lock the test holds
            assert child.poll() is None, child.stderr.read() if child.stderr else child.returncode
            assert time.monotonic() < deadline, "the runner never reached the first day's metrics"
            time.sleep(0.05)
        locker.execute(text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))"), key)
        # queued behind the runner: granted when the first day commits
        locker.execute(text("SELECT pg_advisory_lock(hashtextextended(:k, 0))"), key)
        while not _waiting_on_advisory_lock(db):  # the second day's transaction waits for it now
            assert child.poll() is None, child.stderr.read() if child.stderr else child.returncode
            assert time.monotonic() < deadline, "the runner never reached the second day's metrics"
            time.sleep(0.05)
        os.killpg(child.pid, signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(30)
        locker.close()
    db.expire_all()
    assert list(_day_totals(db, pg_scan["id"]).values()) == [24]  # the first day committed, the second not at all
    watermark = db.execute(text("SELECT watermark FROM scan_states WHERE scan_config_id = :s"), {"s": cfg_id})
    assert watermark.scalar() == WINDOW[0] + timedelta(days=1)  # moved with the committed day only

    r = owner.get(f"{BASE}/scans/{pg_scan['id']}/jobs/{job.id}")
    assert r.json()["status"] == "failed" and "stopped before it finished" in r.json()["error_message"], r.json()

    rerun = ScanJob(project_id=uuid.UUID(pg_scan["project_id"]), scan_config_id=cfg_id, kind=ScanJobKind.run,
                    trigger="inprocess")  # the next scheduled run: from the watermark the killed one left
    db.add(rerun)
    db.commit()
    assert runner.run_job(db, rerun, now=now).status.value == "succeeded", rerun.error_message
    assert _state(db, pg_scan["id"]) == reference
    assert run_dispatch(now).sent == 1
    assert _alerts(hook) == reference_alerts and _deliveries(db) == reference_deliveries


def test_the_console_shows_a_job_whose_runner_died_as_failed(owner, pg_scan, db):
    from tripl_core.db.models.scans import ScanJobStatus

    job = ScanJob(project_id=uuid.UUID(pg_scan["project_id"]), scan_config_id=uuid.UUID(pg_scan["id"]),
                  kind=ScanJobKind.replay, time_from=WINDOW[0], time_to=WINDOW[1], trigger="inprocess",
                  status=ScanJobStatus.running)  # as a killed runner leaves it
    db.add(job)
    db.commit()
    page = owner.get(f"/ui/projects/shop-app/scan-jobs/{job.id}")
    assert page.status_code == 200 and "stopped before it finished" in page.text, page.text[-3000:]
    db.expire_all()
    assert db.get(ScanJob, job.id).status == ScanJobStatus.failed
