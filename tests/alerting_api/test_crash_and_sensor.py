"""Crash safety and the Dagster sensor.

A dispatch process killed (os._exit: no cleanup, no rollback handlers) at each point of its cycle, then resumed:
- after the deliveries are committed, before sending: the resumed run sends each exactly once;
- in the middle of writing them (before the commit): nothing is half-written, the resumed run delivers all;
- after the channel accepted, before the outcome is recorded: the resumed run sends again with the same
  Idempotency-Key (at-least-once towards the channel; receivers de-duplicate on it).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg

from tests.alerting_api.helpers import BASE, NOW, run_dispatch, signal
from tripl_pipelines.alerting import alert_dispatch
from tripl_pipelines.jobs import alert_dispatch_job
from tripl_pipelines.resources import TriplDatabase

ROOT = Path(__file__).resolve().parents[2]

PRELUDE = """
import os, sys
from datetime import datetime
from tripl_core.alerting import dispatch, inbox, sending
from tripl_core.db.session import new_session
now = datetime.fromisoformat(sys.argv[1])
db = new_session()
"""


def run_child(body: str) -> subprocess.CompletedProcess:
    """Run a dispatch in another process (same database and secret key: inherited environment)."""
    code = PRELUDE + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code, NOW.isoformat()], cwd=ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=120)


def statuses(owner) -> list[tuple[str, int]]:
    return [(d["status"], d["attempts"]) for d in owner.get(f"{BASE}/alerts/deliveries").json()["items"]]


def test_killed_between_write_and_send_then_resumed(owner, world, db, hook, webhook_dest, make_rule):
    make_rule(webhook_dest)
    signal(db, world, event="purchase")
    signal(db, world, event="refund", direction="spike", actual=300, z=7)
    child = run_child("dispatch.run(db, now, after_write=lambda report: os._exit(3))")
    assert child.returncode == 3, child.stderr
    assert hook.requests == []
    assert statuses(owner) == [("pending", 0)]  # written, not sent: not lost
    report = run_dispatch(NOW)
    assert report.deliveries == [] and report.sent == 1  # no second delivery, the pending one sent
    assert len(hook.requests) == 1 and len(hook.last.json()["items"]) == 2
    run_dispatch(NOW)
    assert len(hook.requests) == 1 and statuses(owner) == [("sent", 1)]


def test_killed_while_writing_leaves_nothing_half_done(owner, world, db, hook, webhook_dest, make_rule):
    make_rule(webhook_dest)
    signal(db, world, event="purchase")
    signal(db, world, event="refund", direction="spike", actual=300, z=7)
    child = run_child("""
        real = inbox.assign_incident_groups
        def dying(db_, *args, **kwargs):
            groups = real(db_, *args, **kwargs)  # the delivery and its groups are flushed, not committed
            os._exit(4)
        inbox.assign_incident_groups = dying
        dispatch.run(db, now)
    """)
    assert child.returncode == 4, child.stderr
    assert statuses(owner) == [] and hook.requests == []
    report = run_dispatch(NOW)
    assert len(report.deliveries) == 1 and report.sent == 1
    assert len(hook.last.json()["items"]) == 2


def test_killed_after_the_channel_accepted(owner, world, db, hook, webhook_dest, make_rule):
    make_rule(webhook_dest)
    signal(db, world)
    child = run_child("""
        def dying(*args, **kwargs):
            os._exit(5)
        sending._record = dying
        dispatch.run(db, now)
    """)
    assert child.returncode == 5, child.stderr
    assert len(hook.requests) == 1 and statuses(owner) == [("pending", 0)]
    run_dispatch(NOW)
    assert len(hook.requests) == 2 and statuses(owner) == [("sent", 1)]
    keys = {r.headers["idempotency-key"] for r in hook.requests}
    assert len(keys) == 1


def test_sensor_end_to_end_twice_no_duplicates(owner, world, db, hook, webhook_dest, make_rule):
    """Findings rows → the Dagster sensor → the local webhook; a second evaluation sends nothing."""
    make_rule(webhook_dest, name="Checkout volume")
    make_rule(webhook_dest, name="Drops only", notify_on_spike=False)
    signal(db, world, event="purchase", direction="drop")
    signal(db, world, event="refund", direction="spike", z=8, actual=300)
    instance = dg.DagsterInstance.ephemeral()
    resources = {"tripl_db": TriplDatabase()}
    ctx = dg.build_sensor_context(instance=instance, resources=resources)
    first = alert_dispatch(ctx)  # the sensor decides; the alert_dispatch run sends
    assert isinstance(first, dg.RunRequest) and first.tags == {"tripl/reason": "new findings"}
    run = alert_dispatch_job.execute_in_process(instance=instance, resources=resources)
    assert run.success and run.output_for_node("alert_dispatch_op")["deliveries"] == 2
    assert run.output_for_node("alert_dispatch_op")["sent"] == 2
    assert sorted(len(r.json()["items"]) for r in hook.requests) == [1, 2]
    second = alert_dispatch(dg.build_sensor_context(instance=instance, cursor=ctx.cursor, resources=resources))
    assert isinstance(second, dg.SkipReason)
    assert alert_dispatch_job.execute_in_process(instance=instance, resources=resources).success
    assert len(hook.requests) == 2  # a further run sends nothing twice
    inbox = owner.get(f"{BASE}/alerts/inbox").json()
    assert inbox["total"] == 2  # purchase drop (both rules), refund spike
    purchase = next(g for g in inbox["items"] if g["scope_names"] == ["purchase"])
    assert purchase["delivery_count"] == 2 and purchase["rule_names"] == ["Checkout volume", "Drops only"]


def test_sensor_is_in_the_definitions():
    from tripl_pipelines.definitions import defs

    [sensor] = [s for s in defs.sensors if s.name == "alert_dispatch"]
    assert sensor.minimum_interval_seconds == 30
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
