"""Delivery semantics per incident (issue 19 item 4): grouping across scopes, per-incident cooldown that false
alarms do not start, an incident that goes on is updated and not re-sent, a "resolved" message when it ends,
replays of old data recorded but never sent, and series still learning never alert."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.alerting_api.helpers import BASE, NOW, run_dispatch, schema_drift, signal
from tripl_core.db.models.alerting import AlertMatch
from tripl_core.db.models.findings import SignalStatus

INBOX = f"{BASE}/alerts/inbox"


def outcomes(db) -> dict[str, str]:
    db.expire_all()
    return {m.finding_key: m.outcome.value for m in db.scalars(select(AlertMatch))}


def test_event_event_type_and_total_overlapping_are_one_item_one_delivery(owner, world, db, hook, webhook_dest,
                                                                          make_rule):
    make_rule(webhook_dest)
    ev = signal(db, world, event="purchase", at=NOW - timedelta(hours=3), actual=38, expected=410, z=-9)
    et = signal(db, world, scope="event_type", at=NOW - timedelta(hours=2), actual=300, expected=800, z=-6)
    tot = signal(db, world, scope="project_total", at=NOW - timedelta(hours=3), actual=900, expected=1400, z=-5)
    report = run_dispatch(NOW)
    assert len(report.deliveries) == 1 and len(hook.requests) == 1
    [item] = hook.last.json()["items"]
    assert item["finding_id"] == str(ev.id)  # the most specific scope leads
    assert {r["finding_id"] for r in item["related"]} == {str(et.id), str(tot.id)}
    text = hook.last.json()["text"]
    assert text.count("\n    also: ") == 2 and "checkout.purchase 38 vs ~410 expected" in text
    inbox = owner.get(INBOX).json()
    assert inbox["total"] == 1 and inbox["items"][0]["item_count"] == 3
    assert sorted(inbox["items"][0]["scope_names"]) == ["checkout", "project total", "purchase"]


def test_thirty_false_spikes_on_other_scopes_do_not_hold_back_the_real_one(owner, world, db, hook, webhook_dest,
                                                                          make_rule):
    make_rule(webhook_dest, include_project_total=False, include_event_types=False)
    for n in range(30):  # a cold start: spikes every hour on refund, delivered once then cooling down
        signal(db, world, event="refund", direction="spike", at=NOW - timedelta(hours=40 - n), actual=300, z=8)
    run_dispatch(NOW - timedelta(hours=5))
    assert len(hook.requests) == 1
    real = signal(db, world, event="purchase", direction="spike", at=NOW - timedelta(hours=1), actual=900, z=12)
    report = run_dispatch(NOW)
    assert report.outcomes == {"delivered": 1}
    assert [i["finding_id"] for i in hook.last.json()["items"]] == [str(real.id)]


def test_cooldown_is_per_direction_and_a_false_positive_starts_none(owner, world, db, hook, webhook_dest,
                                                                   make_rule):
    make_rule(webhook_dest)  # cooldown 24 h
    signal(db, world, event="purchase", direction="spike", at=NOW - timedelta(hours=10), actual=300, z=8)
    run_dispatch(NOW - timedelta(hours=9))
    drop = signal(db, world, event="purchase", direction="drop", at=NOW - timedelta(hours=6))
    run_dispatch(NOW - timedelta(hours=5))
    assert outcomes(db)[f"volume:{drop.id}"] == "delivered"  # a drop is another incident than the spike
    [spike_group] = [g for g in owner.get(INBOX).json()["items"] if g["direction"] == "spike"]
    r = owner.post(f"{INBOX}/{spike_group['correlation_group_id']}/action", json={"action": "false_positive"})
    assert r.status_code == 200
    real = signal(db, world, event="purchase", direction="spike", at=NOW - timedelta(hours=1), actual=900, z=12)
    report = run_dispatch(NOW)
    assert report.outcomes == {"delivered": 1}, "a false alarm must not start the cooldown"
    assert outcomes(db)[f"volume:{real.id}"] == "delivered"
    again = signal(db, world, event="purchase", direction="drop", at=NOW + timedelta(hours=2))
    run_dispatch(NOW + timedelta(hours=3))
    assert outcomes(db)[f"volume:{again.id}"] == "cooldown"  # the real drop 8 h ago did start one


def test_an_incident_that_goes_on_is_updated_not_resent_then_resolved(owner, world, db, hook, webhook_dest,
                                                                      make_rule):
    make_rule(webhook_dest)
    ev = signal(db, world, event="purchase", at=NOW - timedelta(hours=2))
    run_dispatch(NOW - timedelta(hours=1, minutes=50))
    assert len(hook.requests) == 1
    # The next scan: the event's incident goes on (same signal, one bucket more) and its event type joins it.
    ev.bucket, ev.bucket_count = NOW - timedelta(hours=1), 2
    db.commit()
    et = signal(db, world, scope="event_type", at=NOW - timedelta(hours=1))
    report = run_dispatch(NOW - timedelta(minutes=50))
    assert report.outcomes == {"updated": 1} and report.deliveries == [] and len(hook.requests) == 1
    [group] = owner.get(INBOX).json()["items"]
    assert group["latest_bucket"].startswith((NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H"))
    # Both end: one "resolved" message, the inbox item resolved, and never again.
    for row in (ev, et):
        row.status, row.closed_at = SignalStatus.closed, NOW
    db.commit()
    report = run_dispatch(NOW)
    assert len(report.deliveries) == 1 and len(hook.requests) == 2
    body = hook.last.json()
    assert body["status"] == "resolved" and body["subject"].startswith("[tripl] Resolved: 1 incident ended")
    assert [i["finding_id"] for i in body["items"]] == [str(ev.id)]
    assert body["items"][0]["summary"].startswith(f"ended {NOW:%Y-%m-%d %H:%M} UTC: checkout.purchase 20 vs ~100")
    assert [r["finding_id"] for r in body["items"][0]["related"]] == [str(et.id)]
    assert owner.get(INBOX).json()["items"][0]["status"] == "resolved"
    assert run_dispatch(NOW + timedelta(minutes=1)).deliveries == [] and len(hook.requests) == 2


def test_a_muted_incident_ends_silently(owner, world, db, hook, make_rule):
    r = owner.post(f"{BASE}/alerts/destinations", json={
        "type": "webhook", "name": "muted one", "target_url": f"{hook.url}/m"})
    dest = r.json()
    make_rule(dest)
    ev = signal(db, world, event="purchase", at=NOW - timedelta(hours=2))
    run_dispatch(NOW - timedelta(hours=1))
    [group] = owner.get(INBOX).json()["items"]
    owner.post(f"{INBOX}/{group['correlation_group_id']}/action",
               json={"action": "mute", "muted_until": (NOW + timedelta(days=2)).isoformat()})
    ev.status = SignalStatus.closed
    db.commit()
    assert run_dispatch(NOW).deliveries == [] and len(hook.requests) == 1


def test_an_incident_already_over_when_first_told_gets_no_resolved_message(world, db, hook, webhook_dest,
                                                                          make_rule):
    make_rule(webhook_dest)
    signal(db, world, event="purchase", at=NOW - timedelta(hours=5), status="closed")
    run_dispatch(NOW)
    assert run_dispatch(NOW + timedelta(minutes=1)).deliveries == [] and len(hook.requests) == 1


def test_replays_of_old_data_page_nobody_but_a_catch_up_delivers_them(owner, world, db, hook, webhook_dest,
                                                                     make_rule):
    make_rule(webhook_dest, include_schema_drifts=True)
    old = signal(db, world, event="purchase", at=NOW - timedelta(days=4))  # written now by a replay
    drift = schema_drift(db, world, at=NOW - timedelta(days=5))
    report = run_dispatch(NOW)
    assert report.outcomes == {"stale": 2} and hook.requests == []
    assert outcomes(db) == {f"volume:{old.id}": "stale", f"schema_drift:{drift.id}:r0": "stale"}
    # The demo's explicit catch-up widens the look-back for one cycle: what it covers is delivered, once.
    report = run_dispatch(NOW, lookback_hours=4.5 * 24, project_id=world.project_id)
    assert report.outcomes == {"delivered": 1} and len(hook.requests) == 1
    assert outcomes(db)[f"volume:{old.id}"] == "delivered" and outcomes(db)[f"schema_drift:{drift.id}:r0"] == "stale"
    assert run_dispatch(NOW, lookback_hours=4.5 * 24).deliveries == [] and len(hook.requests) == 1


def test_a_series_still_learning_never_alerts_nor_cools_down(world, db, webhook_dest, make_rule):
    """The scan marks signals of series without enough history (issue 19 item 2); dispatch records them as
    `learning`, before any other verdict, so they neither page nor start a cooldown."""
    from datetime import UTC, datetime

    from tripl_core.alerting import candidates, dispatch
    from tripl_core.db.models.alerting import AlertRule, MatchOutcome

    make_rule(webhook_dest)
    row = signal(db, world, event="purchase", direction="spike", at=NOW - timedelta(hours=3), actual=300, z=9)
    [cand] = candidates.load(db, [world.project_id], NOW - timedelta(days=1))
    assert not cand.learning
    row.learning = True  # the flag (or a `learning` status) the scan sets
    assert candidates._learning(row)
    cand.learning = True
    rule = db.scalars(select(AlertRule)).one()
    state = dispatch._State(feedback={}, muted=set(), since=NOW - timedelta(days=2))
    from tripl_core.settings import get_settings

    got = dispatch._outcome(rule, cand, datetime.now(UTC), {}, state, get_settings())
    assert got == MatchOutcome.learning


def test_a_more_specific_scope_arriving_later_updates_the_incident_not_resent(owner, world, db, hook, webhook_dest,
                                                                               make_rule):
    """The demo's spike reached people twice: the event type and the total were told in one cycle, the event
    (same time, same direction, an event of that type) came a cycle later and became the incident's new lead —
    it must be recorded as `updated` on the inbox item already told, not sent again."""
    make_rule(webhook_dest)
    start = NOW - timedelta(hours=4)
    et = signal(db, world, scope="event_type", direction="spike", at=start, actual=4456, expected=2610, z=9)
    et.bucket, et.bucket_count = NOW - timedelta(minutes=15), 16
    tot = signal(db, world, scope="project_total", direction="spike", at=NOW - timedelta(minutes=30), actual=168,
                 expected=149, z=3)
    tot.bucket, tot.bucket_count = NOW - timedelta(minutes=15), 2
    for row in (et, tot):  # a catch-up: the spike is already over when it is first told
        row.status, row.closed_at = SignalStatus.closed, NOW - timedelta(minutes=5)
    db.commit()
    run_dispatch(NOW)
    assert len(hook.requests) == 1
    ev = signal(db, world, event="purchase", direction="spike", at=start, actual=2234, expected=561, z=15)
    ev.bucket, ev.bucket_count = NOW - timedelta(hours=1), 12
    ev.status, ev.closed_at = SignalStatus.closed, NOW - timedelta(minutes=45)
    db.commit()
    report = run_dispatch(NOW + timedelta(minutes=3))
    assert report.outcomes == {"updated": 1} and report.deliveries == [] and len(hook.requests) == 1
    assert outcomes(db)[f"volume:{ev.id}"] == "updated"
    [group] = owner.get(INBOX).json()["items"]
    assert group["item_count"] == 3
    assert sorted(group["scope_names"]) == ["checkout", "project total", "purchase"]
