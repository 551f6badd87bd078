"""Simulate Alert Rule: counts, firings with times, noise verdict and the cooldown that would silence it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.alerting_api.helpers import BASE, NOW, schema_drift, signal


@pytest.fixture
def history(world, db) -> dict:
    # Ten separate purchase drops two hours apart (adjacent hours would be one incident that goes on).
    purchase = [signal(db, world, event="purchase", at=NOW - timedelta(hours=21 - 2 * k)) for k in range(10)]
    refund_old = signal(db, world, event="refund", direction="spike", z=8, actual=300,
                        at=NOW - timedelta(hours=30))
    refund = signal(db, world, event="refund", direction="spike", z=8, actual=300, at=NOW - timedelta(hours=2))
    signal(db, world, event="cart_view", actual=90, expected=100, at=NOW - timedelta(hours=3))  # −10 %
    signal(db, world, event="purchase", at=NOW - timedelta(days=10))  # outside every window
    schema_drift(db, world, at=NOW - timedelta(hours=5))  # the rule does not include schema drifts
    return {"purchase": purchase, "refund": refund, "refund_old": refund_old}


def sim_url(dest: dict, rule: dict) -> str:
    return f"{BASE}/alerts/destinations/{dest['id']}/rules/{rule['id']}/simulate"


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_noisy_rule_and_the_cooldown_that_silences_it(owner, webhook_dest, make_rule, history):
    rule = make_rule(webhook_dest, name="Hourly", cooldown_minutes=60, min_percent_delta=50)
    r = owner.get(sim_url(webhook_dest, rule), params={"days": 1})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rule_id"] == rule["id"] and body["rule_name"] == "Hourly" and body["days"] == 1
    assert when(body["window_to"]) - when(body["window_from"]) == timedelta(days=1)
    assert body["anomalies_considered"] == 12  # 10 purchase + 1 refund + 1 small cart_view drop
    assert body["matched_before_cooldown"] == 11
    assert [when(f["fired_at"]) for f in body["firings"]] == sorted(
        [NOW - timedelta(hours=21 - 2 * k) for k in range(10)] + [NOW - timedelta(hours=2)])
    assert body["firings"][0]["items"][0]["scope_name"] == "purchase"
    assert body["firings"][0]["item_count"] == 1 and body["firings"][0]["scan_name"] == "Hourly events"
    assert body["noisy"] is True and body["cooldown_minutes_used"] == 60
    assert body["cooldown_minutes_saved"] == 720  # purchase at −21 h and −9 h, plus refund: 3 a day
    assert body["firings_per_day"] == 11 and body["noisy_threshold_per_day"] == 3
    assert "purchase" in body["rendered_message"] and "Hourly" in body["rendered_message"]


def test_cooldown_override_and_longer_window(owner, webhook_dest, make_rule, history):
    rule = make_rule(webhook_dest, cooldown_minutes=60, min_percent_delta=50)
    body = owner.get(sim_url(webhook_dest, rule), params={"days": 1, "cooldown_minutes_override": 1440}).json()
    assert len(body["firings"]) == 2 and body["noisy"] is False and body["cooldown_minutes_saved"] == 0
    assert body["cooldown_minutes_used"] == 1440
    week = owner.get(sim_url(webhook_dest, rule), params={"cooldown_minutes_override": 1440}).json()
    assert week["days"] == 7 and week["anomalies_considered"] == 13 and week["matched_before_cooldown"] == 12
    # refund fired 30 h ago and again 28 h later (> 1440 min); purchase once.
    assert len(week["firings"]) == 3 and week["noisy"] is False


def test_an_incident_that_goes_on_fires_once(owner, world, db, webhook_dest, make_rule):
    """As dispatch: consecutive hours of one drop, and the event type's drop beside it, are one firing."""
    for k in range(6):
        signal(db, world, event="purchase", at=NOW - timedelta(hours=8 - k))
    signal(db, world, scope="event_type", at=NOW - timedelta(hours=6))
    rule = make_rule(webhook_dest, cooldown_minutes=60)
    body = owner.get(sim_url(webhook_dest, rule), params={"days": 1}).json()
    assert body["matched_before_cooldown"] == 7 and len(body["firings"]) == 1
    assert body["firings"][0]["item_count"] == 1 and when(body["firings"][0]["fired_at"]) == NOW - timedelta(hours=8)


def test_rule_templates_are_used_for_the_rendered_message(owner, webhook_dest, make_rule, history):
    rule = make_rule(webhook_dest, message_template="{{ counts.total }} × {{ items[0].scope_name }}",
                     include_events=True, filters=[{"field": "event", "values": ["refund"]}])
    body = owner.get(sim_url(webhook_dest, rule), params={"days": 2}).json()
    assert body["rendered_message"] == "1 × refund"
    assert len(body["firings"]) == 2 and body["matched_before_cooldown"] == 2  # 28 h apart > 1440 min


def test_no_firings(owner, webhook_dest, make_rule, world):
    rule = make_rule(webhook_dest)
    body = owner.get(sim_url(webhook_dest, rule)).json()
    assert body["firings"] == [] and body["rendered_message"] is None and body["anomalies_considered"] == 0
    assert body["noisy"] is False and body["cooldown_minutes_used"] == 1440


@pytest.mark.parametrize(("params", "field"), [({"days": 0}, "days"), ({"days": 91}, "days"),
                                               ({"cooldown_minutes_override": 0}, "cooldown_minutes_override"),
                                               ({"days": "week"}, "days")])
def test_validation(owner, webhook_dest, make_rule, params, field):
    rule = make_rule(webhook_dest)
    r = owner.get(sim_url(webhook_dest, rule), params=params)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", field]
