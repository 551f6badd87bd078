"""Dispatch: findings → rules → one delivery per rule per scan run → the webhook; cooldown, mute, thresholds,
filters, kinds, look-back, no duplicates on a second run, and the AI explanation switch."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from tests.ai.fake_openai import FakeOpenAI
from tests.alerting_api.helpers import (
    BASE,
    NOW,
    distribution_drift,
    regression,
    run_dispatch,
    scan_job,
    schema_drift,
    signal,
)
from tripl_core.db.models.alerting import AlertMatch


def deliveries(owner) -> list[dict]:
    r = owner.get(f"{BASE}/alerts/deliveries")
    assert r.status_code == 200, r.text
    return r.json()["items"]


def outcomes(db) -> dict[str, str]:
    db.expire_all()
    return {m.finding_key: m.outcome.value for m in db.scalars(select(AlertMatch))}


def test_findings_become_one_grouped_delivery(owner, world, db, hook, webhook_dest, make_rule):
    make_rule(webhook_dest, name="Checkout volume")
    a = signal(db, world, event="purchase", direction="drop", actual=20, expected=100, z=-7)
    b = signal(db, world, event="refund", direction="spike", actual=300, expected=100, z=9)
    c = signal(db, world, scope="project_total", direction="drop", actual=500, expected=900, z=-6)
    report = run_dispatch(NOW)
    assert report.matched == 3 and len(report.deliveries) == 1 and report.sent == 1
    assert len(hook.requests) == 1
    req = hook.last
    body = req.json()
    assert req.headers["x-token"] == "hook-secret-1"
    assert req.headers["idempotency-key"] == body["delivery_id"] == str(report.deliveries[0])
    # Two incidents: the purchase drop (with the project total's drop at the same time) and the refund spike.
    assert body["rule"]["name"] == "Checkout volume" and body["status"] == "firing"
    assert body["counts"] == {"total": 2, "spikes": 1, "drops": 1, "by_kind": {"volume": 2}}
    drop, spike = sorted(body["items"], key=lambda i: i["direction"])
    assert (drop["finding_id"], spike["finding_id"]) == (str(a.id), str(b.id))
    assert [r["finding_id"] for r in drop["related"]] == [str(c.id)] and spike["related"] == []
    assert drop["scope_label"] == "event purchase" and drop["related"][0]["scope_name"] == "project total"
    assert body["scan"]["name"] == "Hourly events" and body["project"]["slug"] == "shop-app"
    [d] = deliveries(owner)
    assert d["status"] == "sent" and d["attempts"] == 1 and d["matched_count"] == 3 and d["channel"] == "webhook"
    assert d["destination_name"] == "ops hook" and d["rule_name"] == "Checkout volume"
    assert d["scan_config_id"] == str(world.scan_id) and d["sent_at"] is not None
    assert d["payload_snapshot"]["message"]["subject"] == body["subject"]
    full = owner.get(f"{BASE}/alerts/deliveries/{d['id']}").json()
    assert len(full["items"]) == 3 and all(i["correlation_group_id"] for i in full["items"])
    assert len({i["correlation_group_id"] for i in full["items"]}) == 2  # one inbox item per incident


def test_second_run_sends_nothing_twice(owner, world, db, hook, webhook_dest, make_rule):
    make_rule(webhook_dest)
    signal(db, world)
    first = run_dispatch(NOW)
    second = run_dispatch(NOW + timedelta(minutes=1))
    assert len(first.deliveries) == 1 and second.deliveries == [] and second.matched == 0
    assert len(hook.requests) == 1 and len(deliveries(owner)) == 1


def test_one_delivery_per_rule_per_cycle_whatever_the_scan_runs(owner, world, db, hook, webhook_dest, make_rule):
    make_rule(webhook_dest, name="r1")
    make_rule(webhook_dest, name="r2")
    job1 = scan_job(db, world, NOW - timedelta(hours=3))
    scan_job(db, world, NOW - timedelta(hours=1))
    signal(db, world, event="purchase", at=NOW - timedelta(hours=6), written_at=NOW - timedelta(hours=2, minutes=50))
    signal(db, world, event="refund", direction="spike", actual=300, z=8,
           written_at=NOW - timedelta(hours=2, minutes=50))
    signal(db, world, event="cart_view", written_at=NOW - timedelta(minutes=50))
    report = run_dispatch(NOW)
    assert len(report.deliveries) == 2  # one message per rule, not one per scan run (catch-ups used to fan out)
    got = deliveries(owner)
    assert sorted((d["rule_name"], d["matched_count"], d["scan_job_id"]) for d in got) == [
        ("r1", 3, None), ("r2", 3, None)]  # spans two scan runs
    assert len(hook.requests) == 2 and all(len(r.json()["items"]) == 3 for r in hook.requests)
    assert job1.id  # a delivery whose findings all come from one scan run names it (test_e2e_scan)


def test_cooldown_per_rule_and_scope(owner, world, db, hook, webhook_dest, make_rule):
    make_rule(webhook_dest, cooldown_minutes=120)
    first = signal(db, world, event="purchase", at=NOW - timedelta(hours=3))
    run_dispatch(NOW)
    again = signal(db, world, event="purchase", at=NOW - timedelta(hours=1))
    other = signal(db, world, event="refund", at=NOW - timedelta(hours=1))
    report = run_dispatch(NOW + timedelta(minutes=60))
    assert report.outcomes == {"cooldown": 1, "delivered": 1}
    got = outcomes(db)
    assert got[f"volume:{first.id}"] == "delivered" and got[f"volume:{again.id}"] == "cooldown"
    assert got[f"volume:{other.id}"] == "delivered"
    # Cooled-down findings are recorded, never sent later; after the cooldown a new finding fires again.
    later = signal(db, world, event="purchase", at=NOW + timedelta(hours=1))  # a new incident, not the same one
    report = run_dispatch(NOW + timedelta(minutes=121))
    assert report.outcomes == {"delivered": 1} and outcomes(db)[f"volume:{later.id}"] == "delivered"
    assert len(hook.requests) == 3


def test_same_scope_twice_in_one_batch_fires_once(world, db, hook, webhook_dest, make_rule):
    make_rule(webhook_dest)
    signal(db, world, event="purchase", at=NOW - timedelta(hours=5))
    signal(db, world, event="purchase", at=NOW - timedelta(hours=2))
    report = run_dispatch(NOW)
    assert report.outcomes == {"delivered": 1, "cooldown": 1}
    assert len(hook.last.json()["items"]) == 1


def test_muted_rule_records_but_sends_nothing(owner, world, db, hook, webhook_dest, make_rule):
    rule = make_rule(webhook_dest)
    r = owner.post(f"{BASE}/alerts/monitors/{rule['id']}/mute",
                   json={"muted_until": (NOW + timedelta(days=1)).isoformat()})
    assert r.status_code == 200 and r.json()["muted"] is True and r.json()["status"] == "muted"
    muted = signal(db, world, event="purchase")
    report = run_dispatch(NOW)
    assert report.outcomes == {"muted": 1} and report.deliveries == [] and hook.requests == []
    assert owner.post(f"{BASE}/alerts/monitors/{rule['id']}/unmute").json()["muted"] is False
    fresh = signal(db, world, event="refund")
    report = run_dispatch(NOW + timedelta(minutes=1))
    assert report.outcomes == {"delivered": 1}
    assert [i["finding_id"] for i in hook.last.json()["items"]] == [str(fresh.id)]
    assert outcomes(db)[f"volume:{muted.id}"] == "muted"


def test_mute_must_be_in_the_future(owner, webhook_dest, make_rule):
    rule = make_rule(webhook_dest)
    r = owner.post(f"{BASE}/alerts/monitors/{rule['id']}/mute",
                   json={"muted_until": (NOW - timedelta(hours=1)).isoformat()})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "muted_until"
    assert owner.post(f"{BASE}/alerts/monitors/{rule['id']}/mute", json={}).status_code == 422
    assert owner.post(f"{BASE}/alerts/monitors/{uuid.uuid4()}/mute",
                      json={"muted_until": (NOW + timedelta(days=1)).isoformat()}).status_code == 404


def test_direction_thresholds_and_filters(world, db, hook, webhook_dest, make_rule):
    make_rule(webhook_dest, notify_on_spike=False, min_percent_delta=50, min_absolute_delta=30,
              min_expected_count=50, filters=[{"field": "tag", "operator": "in", "values": ["revenue"]}])
    big = signal(db, world, event="purchase", direction="drop", actual=20, expected=100)  # −80 %: yes
    signal(db, world, event="refund", direction="drop", actual=70, expected=100)  # −30 %: below min %
    signal(db, world, event="refund", direction="spike", actual=400, expected=100,
           at=NOW - timedelta(hours=2))  # spike: off
    signal(db, world, event="cart_view", direction="drop", actual=1, expected=100)  # no revenue tag
    signal(db, world, scope="project_total", direction="drop", actual=1, expected=100)  # no tag at all
    signal(db, world, event="refund", direction="drop", actual=0, expected=40,
           at=NOW - timedelta(hours=3))  # expected below min_expected_count (and delta < 30... 40 ≥ 30)
    report = run_dispatch(NOW)
    assert report.matched == 1
    assert [i["finding_id"] for i in hook.last.json()["items"]] == [str(big.id)]


def test_filters_not_in_and_scope_flags(world, db, hook, webhook_dest, make_rule):
    make_rule(webhook_dest, include_event_types=False, include_project_total=False,
              filters=[{"field": "status", "operator": "not_in", "values": ["draft"]},
                       {"field": "event", "operator": "not_in", "values": ["refund"]}])
    keep = signal(db, world, event="purchase")
    signal(db, world, event="refund")
    signal(db, world, event="cart_view")  # draft
    signal(db, world, scope="event_type")
    signal(db, world, scope="project_total")
    run_dispatch(NOW)
    assert [i["finding_id"] for i in hook.last.json()["items"]] == [str(keep.id)]


def test_other_kinds_need_their_include_flag(world, db, hook, webhook_dest, make_rule):
    make_rule(webhook_dest, name="volume only")
    make_rule(webhook_dest, name="everything", include_schema_drifts=True, include_distribution_drifts=True,
              include_release_regressions=True)
    sd = schema_drift(db, world)
    contract = schema_drift(db, world, field="email", drift_type="null_rate_breach")
    dd = distribution_drift(db, world)
    rr = regression(db, world)
    run_dispatch(NOW)
    assert len(hook.requests) == 1
    body = hook.last.json()
    assert body["rule"]["name"] == "everything"
    kinds = {i["finding_id"]: i["kind"] for i in body["items"]}
    kinds.update({r["finding_id"]: r["kind"] for i in body["items"] for r in i["related"]})
    assert kinds == {str(sd.id): "schema_drift", str(contract.id): "contract", str(dd.id): "distribution_drift",
                     str(rr.id): "release_regression"}
    # The drift and the contract breach of one event type found by one scan are one incident: one item.
    assert len(body["items"]) == 3
    summaries = {i["summary"] for i in body["items"]} | {r["summary"] for i in body["items"] for r in i["related"]}
    assert 'type of `price` in checkout: string, declared integer (e.g. "12.5")' in summaries
    assert next(i for i in body["items"] if i["kind"] == "distribution_drift")["extra"]["psi"] is None


def test_reopened_schema_drift_is_a_new_occurrence(world, db, hook, webhook_dest, make_rule):
    make_rule(webhook_dest, include_schema_drifts=True, cooldown_minutes=1)
    drift = schema_drift(db, world)
    run_dispatch(NOW)
    run_dispatch(NOW + timedelta(minutes=5))
    assert len(hook.requests) == 1
    drift.reopened_count += 1
    db.commit()
    run_dispatch(NOW + timedelta(minutes=10))
    assert len(hook.requests) == 2


def test_disabled_rule_or_destination_and_old_findings(owner, world, db, hook, webhook_dest, make_rule):
    rule = make_rule(webhook_dest, enabled=False)
    signal(db, world)
    assert run_dispatch(NOW).matched == 0
    owner.patch(f"{BASE}/alerts/destinations/{webhook_dest['id']}/rules/{rule['id']}", json={"enabled": True})
    owner.patch(f"{BASE}/alerts/destinations/{webhook_dest['id']}", json={"enabled": False})
    assert run_dispatch(NOW).matched == 0
    owner.patch(f"{BASE}/alerts/destinations/{webhook_dest['id']}", json={"enabled": True})
    old = signal(db, world, event="refund", at=NOW - timedelta(hours=49))  # older than the 48 h look-back
    report = run_dispatch(NOW)
    # The old one (a replay of old data) is recorded, not sent.
    assert report.outcomes == {"stale": 1, "delivered": 1} and len(hook.last.json()["items"]) == 1
    assert outcomes(db)[f"volume:{old.id}"] == "stale"


def test_custom_templates_render_escaped(owner, world, db, hook, webhook_dest, make_rule):
    make_rule(webhook_dest, message_template="ALERT {{ rule.name }}: {{ counts.total }}\n{{ items_text }}",
              items_template="{{ index }}. {{ item.scope_name }} {{ item.delta_percent | percent }}")
    signal(db, world, event="purchase", actual=20, expected=100)
    run_dispatch(NOW)
    assert hook.last.json()["text"] == "ALERT volume: 1\n1. purchase -80.0%"


def test_ai_explanation_off_is_skipped_silently(world, db, hook, webhook_dest, make_rule):
    make_rule(webhook_dest, ai_explanation_enabled=True)
    signal(db, world)
    report = run_dispatch(NOW)
    assert report.sent == 1 and hook.last.json()["explanation"] is None


def test_ai_explanation_added_when_configured(owner, world, db, hook, webhook_dest, make_rule):
    llm = FakeOpenAI()
    try:
        llm.reply = "Purchases fell after release 4.2.0."
        r = owner.put("/api/v1/settings/ai", json={"ai_enabled": True, "ai_base_url": llm.base_url,
                                                    "ai_model": "m", "ai_api_key": "sk-test"})
        assert r.status_code == 200, r.text
        make_rule(webhook_dest, ai_explanation_enabled=True)
        make_rule(webhook_dest, name="plain", ai_explanation_enabled=False)
        signal(db, world)
        run_dispatch(NOW)
        by_rule = {req.json()["rule"]["name"]: req.json()["explanation"] for req in hook.requests}
        assert by_rule == {"volume": "Purchases fell after release 4.2.0.", "plain": None}
        assert len(llm.requests) == 1
    finally:
        llm.close()


def test_no_secret_in_deliveries_and_project_delete_cascades(owner, world, db, hook, webhook_dest, make_rule):
    make_rule(webhook_dest)
    signal(db, world)
    run_dispatch(NOW)
    [d] = deliveries(owner)
    full = owner.get(f"{BASE}/alerts/deliveries/{d['id']}")
    assert "hook-secret-1" not in full.text and hook.url not in full.text
    assert owner.get(f"{BASE}/alerts/inbox").json()["total"] == 1
    assert owner.delete(BASE).status_code == 204
    from sqlalchemy import text

    for table in ("alert_destinations", "alert_rules", "alert_deliveries", "alert_delivery_items", "alert_matches",
                  "alert_correlation_groups"):
        assert db.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0, table


def test_a_failing_rule_does_not_stop_the_others_and_loses_nothing(world, db, hook, webhook_dest, make_rule,
                                                                   monkeypatch):
    from tripl_core.alerting import dispatch

    make_rule(webhook_dest, name="broken")
    make_rule(webhook_dest, name="fine")
    signal(db, world)
    real = dispatch._write_delivery

    def flaky(db_, rule, *args, **kwargs):
        if rule.name == "broken":
            raise RuntimeError("boom")
        return real(db_, rule, *args, **kwargs)

    monkeypatch.setattr(dispatch, "_write_delivery", flaky)
    report = run_dispatch(NOW)
    assert report.outcomes["errors"] == 1 and len(report.deliveries) == 1
    assert [r.json()["rule"]["name"] for r in hook.requests] == ["fine"]
    monkeypatch.setattr(dispatch, "_write_delivery", real)
    report = run_dispatch(NOW + timedelta(minutes=1))
    assert len(report.deliveries) == 1
    assert [r.json()["rule"]["name"] for r in hook.requests] == ["fine", "broken"]
