"""Monitors (status from current findings and delivery history) and the inbox (correlation groups, actions,
false-positive feedback)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.alerting_api.helpers import BASE, NOW, run_dispatch, signal

MON = f"{BASE}/alerts/monitors"
INBOX = f"{BASE}/alerts/inbox"


def test_monitor_statuses_and_summary(owner, world, db, hook, webhook_dest, make_rule):
    firing = make_rule(webhook_dest, name="firing")
    warning = make_rule(webhook_dest, name="warning", min_percent_delta=90)  # the drop is only −80 %
    healthy = make_rule(webhook_dest, name="healthy", include_events=False, include_event_types=False)
    muted = make_rule(webhook_dest, name="muted")
    owner.post(f"{MON}/{muted['id']}/mute", json={"muted_until": (datetime.now(UTC) + timedelta(hours=2)).isoformat()})
    signal(db, world, event="purchase", actual=20, expected=100, z=-7)
    signal(db, world, event="refund", status="closed", at=NOW - timedelta(hours=3))
    run_dispatch()
    summary = owner.get(MON).json()
    assert (summary["firing_count"], summary["warning_count"], summary["healthy_count"], summary["total"]) == \
        (1, 1, 1, 4)
    by = {m["rule_name"]: m for m in summary["monitors"]}
    assert {n: m["status"] for n, m in by.items()} == {"firing": "firing", "warning": "warning",
                                                       "healthy": "healthy", "muted": "muted"}
    m = owner.get(f"{MON}/{firing['id']}").json()
    assert m["active_scope_count"] == 1 and m["firing_scope_count"] == 1
    assert m["total_deliveries"] == 1 and m["last_delivery_status"] == "sent"
    assert m["last_notified_at"] is not None and m["last_delivery_at"] is not None
    assert m["last_anomaly_at"] is not None
    assert m["destination_name"] == "ops hook" and m["destination_type"] == "webhook"
    assert m["enabled"] and m["rule_enabled"] and m["destination_enabled"] and m["muted"] is False
    assert m["cooldown_minutes"] == 1440 and m["include_events"] is True
    w = owner.get(f"{MON}/{warning['id']}").json()
    assert (w["active_scope_count"], w["firing_scope_count"], w["total_deliveries"]) == (1, 0, 0)
    h = owner.get(f"{MON}/{healthy['id']}").json()
    assert (h["active_scope_count"], h["last_delivery_status"]) == (0, None)
    mu = owner.get(f"{MON}/{muted['id']}").json()
    assert mu["muted"] is True and mu["muted_until"] is not None and mu["total_deliveries"] == 0


def test_failed_last_delivery_is_a_warning(owner, world, db, hook, webhook_dest, make_rule):
    rule = make_rule(webhook_dest)
    signal(db, world, status="closed")
    hook.reply(400)
    run_dispatch()
    m = owner.get(f"{MON}/{rule['id']}").json()
    assert m["status"] == "warning" and m["last_delivery_status"] == "failed"


def test_monitor_unknown_or_foreign_rule_is_404(owner, webhook_dest, make_rule):
    rule = make_rule(webhook_dest)
    assert owner.get(f"{MON}/{uuid.uuid4()}").status_code == 404
    owner.post("/api/v1/projects", json={"name": "Other", "slug": "other"})
    assert owner.get(f"/api/v1/projects/other/alerts/monitors/{rule['id']}").status_code == 404


def _two_destinations(owner, hook, make_rule, webhook_dest) -> None:
    other = owner.post(f"{BASE}/alerts/destinations", json={"type": "webhook", "name": "second hook",
                                                            "target_url": f"{hook.url}/second"}).json()
    make_rule(webhook_dest, name="rule A", cooldown_minutes=1)
    make_rule(other, name="rule B", cooldown_minutes=1)


def test_correlation_groups_across_rules_destinations_and_time(owner, world, db, hook, webhook_dest, make_rule):
    _two_destinations(owner, hook, make_rule, webhook_dest)
    signal(db, world, event="purchase", direction="drop", at=NOW - timedelta(hours=5))
    run_dispatch(NOW)
    # Cooldowns are per scope (whatever the direction): each finding is dispatched a few minutes apart.
    signal(db, world, event="purchase", direction="spike", at=NOW - timedelta(hours=4), z=7, actual=300)
    run_dispatch(NOW + timedelta(minutes=5))
    signal(db, world, event="purchase", direction="drop", at=NOW - timedelta(hours=1))  # same incident (4 h later)
    run_dispatch(NOW + timedelta(minutes=10))
    signal(db, world, event="purchase", direction="drop", at=NOW + timedelta(hours=7))  # > 6 h after: new
    run_dispatch(NOW + timedelta(hours=8))
    got = owner.get(INBOX).json()
    assert got["total"] == 3, got
    shapes = sorted((g["direction"], g["item_count"], g["delivery_count"]) for g in got["items"])
    assert shapes == [("drop", 2, 2), ("drop", 4, 4), ("spike", 2, 2)]
    big = next(g for g in got["items"] if g["item_count"] == 4)
    assert big["destination_names"] == ["ops hook", "second hook"] and big["rule_names"] == ["rule A", "rule B"]
    assert big["scope_names"] == ["purchase"] and big["scan_names"] == ["Hourly events"]
    assert big["status"] == "open" and big["kind"] == "volume" and big["false_positive_count"] == 0


def test_inbox_actions(owner, viewer, editor, world, db, hook, webhook_dest, make_rule):
    make_rule(webhook_dest)
    signal(db, world)
    run_dispatch(NOW)
    [group] = owner.get(INBOX).json()["items"]
    url = f"{INBOX}/{group['correlation_group_id']}/action"
    assert viewer.post(url, json={"action": "acknowledge"}).status_code == 403
    r = editor.post(url, json={"action": "acknowledge", "note": "looking"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "acknowledged" and body["note"] == "looking"
    assert body["acted_by"] == editor.user["id"] and body["acted_at"] is not None
    assert owner.get(INBOX, params={"status": "acknowledged"}).json()["total"] == 1
    assert owner.get(INBOX, params={"status": "open"}).json()["total"] == 0
    until = datetime.now(UTC) + timedelta(hours=1)
    r = owner.post(url, json={"action": "mute", "muted_until": until.isoformat()})
    assert r.json()["status"] == "muted" and r.json()["note"] == "looking"
    assert owner.post(url, json={"action": "resolve"}).json()["status"] == "resolved"
    r = owner.post(url, json={"action": "reopen", "note": ""})
    assert r.json()["status"] == "open" and r.json()["note"] is None
    assert owner.get(INBOX, params={"status": "open"}).json()["total"] == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"action": "snooze"}, "action"),
    ({"action": "mute"}, "muted_until"),
    ({"action": "mute", "muted_until": "2020-01-01T00:00:00Z"}, "muted_until"),
    ({"action": "resolve", "muted_until": "2099-01-01T00:00:00Z"}, "muted_until"),
    ({"action": "resolve", "extra": 1}, "extra"),
])
def test_inbox_action_validation(owner, world, db, hook, webhook_dest, make_rule, body, field):
    make_rule(webhook_dest)
    signal(db, world)
    run_dispatch(NOW)
    [group] = owner.get(INBOX).json()["items"]
    r = owner.post(f"{INBOX}/{group['correlation_group_id']}/action", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"][-1] == field


def test_inbox_unknown_group_and_bad_status(owner, project):
    r = owner.post(f"{INBOX}/{uuid.uuid4()}/action", json={"action": "resolve"})
    assert r.status_code == 404
    r = owner.get(INBOX, params={"status": "closed"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "status"]
    assert owner.get(INBOX, params={"limit": 0}).status_code == 422


def test_muted_group_silences_its_incident_until_expiry(owner, world, db, hook, webhook_dest, make_rule):
    make_rule(webhook_dest, cooldown_minutes=1)
    signal(db, world, event="purchase", at=NOW - timedelta(hours=2))
    run_dispatch(NOW)
    [group] = owner.get(INBOX).json()["items"]
    owner.post(f"{INBOX}/{group['correlation_group_id']}/action",
               json={"action": "mute", "muted_until": (datetime.now(UTC) + timedelta(hours=3)).isoformat()})
    signal(db, world, event="purchase", at=NOW - timedelta(hours=1))
    other = signal(db, world, event="refund", at=NOW - timedelta(hours=1), direction="spike", actual=300, z=7)
    report = run_dispatch(datetime.now(UTC) + timedelta(minutes=5))
    assert report.outcomes == {"group_muted": 1, "delivered": 1}
    assert [i["finding_id"] for i in hook.last.json()["items"]] == [str(other.id)]


def test_false_positives_are_counted_and_teach_dispatch(owner, world, db, hook, webhook_dest, make_rule):
    make_rule(webhook_dest, cooldown_minutes=1)
    t = NOW - timedelta(days=1)
    for n in range(2):  # two incidents a day apart, both marked false positive
        signal(db, world, event="purchase", at=t + timedelta(hours=n * 12), z=-6)
        run_dispatch(t + timedelta(hours=n * 12 + 1))
        group = owner.get(INBOX, params={"status": "open"}).json()["items"][0]
        r = owner.post(f"{INBOX}/{group['correlation_group_id']}/action",
                       json={"action": "false_positive", "note": "promo day"})
        assert r.status_code == 200 and r.json()["status"] == "false_positive"
        assert r.json()["false_positive_count"] == 1
    from tripl_core.alerting.inbox import false_positive_patterns

    [pattern] = false_positive_patterns(db, world.project_id)
    assert pattern["false_positive_count"] == 2 and pattern["max_abs_z"] == 6 and pattern["direction"] == "drop"
    same = signal(db, world, event="purchase", at=NOW - timedelta(hours=1), z=-5.5)
    report = run_dispatch(NOW)
    assert report.outcomes == {"feedback": 1} and len(hook.requests) == 2
    bigger = signal(db, world, event="purchase", at=NOW, z=-12)  # worse than anything marked: sent
    report = run_dispatch(NOW + timedelta(minutes=5))
    assert report.outcomes == {"delivered": 1}
    assert [i["finding_id"] for i in hook.last.json()["items"]] == [str(bigger.id)]
    assert same.id != bigger.id
