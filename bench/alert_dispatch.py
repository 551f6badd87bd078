"""Alert dispatch cost: one sensor cycle over many fresh findings, and the steady-state cycle with nothing new.

Starts an embedded PostgreSQL, creates a project with `--events` events, `--rules` webhook rules and `--signals`
open anomaly signals of the last day; only dispatch's matching and writing are measured (`dispatch_new`: nothing
is sent). Figures (same run):
- baseline: loading and matching the candidates only (`candidates.load` + `matching.matches` per rule);
- first cycle: ledger + deliveries + items + inbox groups written for every match (`dispatch.dispatch_new`);
- steady cycle: the same call again (everything already in the ledger) — what the 30-second sensor costs.

    .venv/bin/python bench/alert_dispatch.py [--events 200] [--signals 2000] [--rules 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import scratch_dir, start_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--signals", type=int, default=2000)
    parser.add_argument("--rules", type=int, default=5)
    args = parser.parse_args()
    tmp = scratch_dir("tripl-bench-alerts-")
    url = start_database(tmp)
    os.environ.update(TRIPL_DATABASE_URL=url, TRIPL_DATA_DIR=str(tmp), TRIPL_SECRET_KEY="bench-secret")

    from sqlalchemy import text

    from tripl_core.alerting import candidates, dispatch, matching
    from tripl_core.db.models.alerting import AlertDestination, AlertRule, DestinationType
    from tripl_core.db.models.plan import Event, EventStatus, EventType
    from tripl_core.db.models.projects import Project
    from tripl_core.db.models.sources import DataSource, ScanConfig
    from tripl_core.db.session import new_session
    from tripl_core.plan import branching
    from tripl_core.warehouse import DBType

    db = new_session()
    project = Project(name="Bench", slug="bench")
    db.add(project)
    db.flush()
    branch = branching.create_main(db, project)
    et = EventType(project_id=project.id, branch_id=branch.id, name="screen", display_name="Screen")
    db.add(et)
    db.flush()
    events = [Event(project_id=project.id, branch_id=branch.id, event_type_id=et.id, name=f"e{i}",
                    status=EventStatus.live) for i in range(args.events)]
    db.add_all(events)
    ds = DataSource(name="wh", db_type=DBType.postgres, host="localhost", port=5432, database_name="wh")
    db.add(ds)
    db.flush()
    cfg = ScanConfig(project_id=project.id, data_source_id=ds.id, name="hourly", base_query="SELECT 1",
                     time_column="ts", interval="1h")
    db.add(cfg)
    dest = AlertDestination(project_id=project.id, type=DestinationType.webhook, name="hook", enabled=True)
    db.add(dest)
    db.flush()
    for r in range(args.rules):
        db.add(AlertRule(project_id=project.id, destination_id=dest.id, name=f"rule {r}", cooldown_minutes=1,
                         min_percent_delta=10.0 * r, filters=[]))
    db.commit()
    now = datetime.now(UTC)
    db.execute(text("""
        insert into anomaly_signals (id, project_id, scan_config_id, scope_type, scope_ref, event_type_id, status,
            direction, since, bucket, bucket_count, actual, expected, lower, upper, z, peak_z, forecast,
            created_at, updated_at)
        select gen_random_uuid(), :p, :c, 'event', e.id, :t, 'open', 'drop',
               :now - (g * interval '1 minute'), :now - (g * interval '1 minute'), 1, 10, 100, 80, 120, -7, -7,
               '[]', now(), now()
        from generate_series(1, :n) g
        join lateral (select id from events where project_id = :p order by id offset (g % :ne) limit 1) e on true
    """), {"p": project.id, "c": cfg.id, "t": et.id, "now": now, "n": args.signals, "ne": args.events})
    db.commit()

    rules = list(db.query(AlertRule))
    start = time.perf_counter()
    cands = candidates.load(db, [project.id], now - timedelta(hours=48))
    matched = sum(1 for rule in rules for c in cands if matching.matches(rule, c))
    base_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    first = dispatch.dispatch_new(db, now)
    first_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    steady = dispatch.dispatch_new(db, now + timedelta(seconds=30))
    steady_ms = (time.perf_counter() - start) * 1000
    print(f"{len(cands)} findings × {len(rules)} rules = {matched} matches")
    print(f"baseline (load + match only):      {base_ms:9.1f} ms")
    print(f"first cycle (write {len(first.deliveries)} deliveries, {first.matched} ledger rows): {first_ms:9.1f} ms"
          f"  ({first_ms / max(first.matched, 1):.2f} ms per match)")
    print(f"steady cycle (nothing new, {steady.matched} matches): {steady_ms:9.1f} ms"
          f"  ({steady_ms / max(base_ms, 1e-9):.1f}× baseline)")
    db.close()


if __name__ == "__main__":
    main()
