"""A scan job whose runner died must not show "running" forever.

The in-process runner (`runner.run_job`: the API's scan thread, `tripl` commands, the `apply_scan_event_groups`
Dagster job) holds a PostgreSQL session-level advisory lock on the job for as long as it runs it, on a connection
of its own. The server releases such a lock the moment that connection ends, however its process ended (SIGKILL,
out of memory, a crashed API worker), so a running in-process job whose lock is free has no runner any more:
`settle_orphans` fails it with a reason. Nothing else can tell: a killed process runs no `finally`.

Jobs run by Dagster are settled from their runs instead (`tripl_pipelines/progress.py`; Dagster's code server
fails a run whose process died).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from tripl_core.db.models.scans import ScanJob, ScanJobStatus
from tripl_core.db.session import get_engine

ORPHANED = ("The process running this scan job stopped before it finished (killed or crashed); nothing of the day "
            "it was scanning was kept. Run the scan again: days are recomputed whole, so nothing is counted twice.")


def lock_key(job_id: uuid.UUID) -> str:
    return f"scan-job:{job_id}"


@contextlib.contextmanager
def running(job_id: uuid.UUID, wait: bool = True) -> Iterator[bool]:
    """Hold the job's liveness lock while the body runs; yields whether it is held. `wait=False`: do not wait for
    another runner of the same job (yields False at once). The connection is discarded afterwards, never
    pooled: a pooled connection would keep a session lock it failed to release."""
    conn = get_engine().connect()
    try:
        fn = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
        got = conn.execute(text(f"SELECT {fn}(hashtextextended(:k, 0))"), {"k": lock_key(job_id)}).scalar()
        conn.commit()
        yield got is not False
    finally:
        conn.invalidate()  # closes the server session, and with it the lock
        conn.close()


def settle_orphans(db: Session, scan_config_id: uuid.UUID | None = None) -> list[uuid.UUID]:
    """Fail every running in-process job (of one config, or all) whose runner's lock is free, and commit.
    Cheap when nothing runs (one indexed query). Returns the failed jobs' ids."""
    stmt = select(ScanJob.id).where(ScanJob.status == ScanJobStatus.running, ScanJob.trigger == "inprocess")
    if scan_config_id is not None:
        stmt = stmt.where(ScanJob.scan_config_id == scan_config_id)
    candidates = list(db.scalars(stmt))
    failed = []
    for job_id in candidates:
        # A transaction-level try-lock: taken only if no runner holds the session lock; released at commit.
        free = db.execute(text("SELECT pg_try_advisory_xact_lock(hashtextextended(:k, 0))"),
                          {"k": lock_key(job_id)}).scalar()
        # The status is tested again in the UPDATE: a runner that just finished released its lock after it
        # wrote its outcome.
        if free and db.execute(update(ScanJob).where(ScanJob.id == job_id, ScanJob.status == ScanJobStatus.running)
                               .values(status=ScanJobStatus.failed, completed_at=datetime.now(UTC),
                                       error_message=ORPHANED)).rowcount:
            failed.append(job_id)
    if candidates:
        db.commit()
        if failed:
            db.expire_all()
    return failed
