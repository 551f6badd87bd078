"""Deliveries: retry with backoff (Retry-After honoured, max attempts), Retry Alert Delivery, list filters."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.alerting_api.helpers import BASE, DELIVERIES, NOW, at, only_delivery, run_dispatch, signal

URL = DELIVERIES


def test_retryable_failure_backs_off_then_succeeds(owner, world, db, hook, webhook_dest, make_rule):
    make_rule(webhook_dest)
    signal(db, world)
    hook.reply(503, {"error": "busy"})
    hook.reply(503, {"error": "busy"})
    report = run_dispatch(NOW)
    assert report.failed == 1
    d = only_delivery(owner)
    assert d["status"] == "failed" and d["attempts"] == 1 and "503" in d["error_message"]
    assert at(d["next_attempt_at"]) == NOW + timedelta(seconds=60)
    # Not before the backoff has passed…
    assert run_dispatch(NOW + timedelta(seconds=59)).failed == 0 and len(hook.requests) == 1
    # …then the second attempt fails again and waits twice as long.
    run_dispatch(NOW + timedelta(seconds=60))
    d = only_delivery(owner)
    assert d["attempts"] == 2 and at(d["next_attempt_at"]) == NOW + timedelta(seconds=180)
    run_dispatch(NOW + timedelta(seconds=180))
    d = only_delivery(owner)
    assert d["status"] == "sent" and d["attempts"] == 3 and d["error_message"] is None
    assert d["next_attempt_at"] is None
    ids = {r.headers["idempotency-key"] for r in hook.requests}
    assert ids == {d["id"]}  # the same key on every attempt: receivers can de-duplicate


def test_retry_after_is_honoured(owner, world, db, hook, webhook_dest, make_rule):
    make_rule(webhook_dest)
    signal(db, world)
    hook.reply(429, {"error": "slow down"}, headers={"Retry-After": "600"})
    run_dispatch(NOW)
    assert at(only_delivery(owner)["next_attempt_at"]) == NOW + timedelta(seconds=600)


def test_gives_up_after_max_attempts(owner, world, db, hook, webhook_dest, make_rule, monkeypatch):
    from tripl_core.settings import reset_settings_cache

    monkeypatch.setenv("TRIPL_ALERT_DELIVERY_MAX_ATTEMPTS", "2")
    reset_settings_cache()
    make_rule(webhook_dest)
    signal(db, world)
    hook.default.status = 500
    run_dispatch(NOW)
    run_dispatch(NOW + timedelta(minutes=1))
    d = only_delivery(owner)
    assert d["status"] == "failed" and d["attempts"] == 2 and d["next_attempt_at"] is None
    run_dispatch(NOW + timedelta(hours=5))
    assert len(hook.requests) == 2


def test_permanent_failure_is_not_retried_but_can_be_retried_by_hand(owner, viewer, world, db, hook,
                                                                        webhook_dest, make_rule):
    make_rule(webhook_dest)
    signal(db, world)
    hook.reply(400, {"error": "bad payload"})
    run_dispatch(NOW)
    d = only_delivery(owner)
    assert d["status"] == "failed" and d["next_attempt_at"] is None
    run_dispatch(NOW + timedelta(days=1))
    assert len(hook.requests) == 1
    assert viewer.post(f"{URL}/{d['id']}/retry").status_code == 403
    r = owner.post(f"{URL}/{d['id']}/retry")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "sent" and r.json()["attempts"] == 2 and len(r.json()["items"]) == 1
    assert len(hook.requests) == 2
    again = owner.post(f"{URL}/{d['id']}/retry")
    assert again.status_code == 409 and len(hook.requests) == 2
    assert owner.post(f"{URL}/{uuid.uuid4()}/retry").status_code == 404


def test_deleted_destination_fails_without_retry(owner, world, db, hook, webhook_dest, make_rule):
    make_rule(webhook_dest)
    signal(db, world)
    hook.reply(503)
    run_dispatch(NOW)
    owner.delete(f"{BASE}/alerts/destinations/{webhook_dest['id']}")
    run_dispatch(NOW + timedelta(minutes=5))
    d = only_delivery(owner)
    assert d["destination_id"] is None and d["rule_id"] is None and d["destination_name"] == "ops hook"
    assert d["status"] == "failed" and d["error_message"] == "the destination was deleted"
    assert d["next_attempt_at"] is None


def test_list_filters_and_paging(owner, world, db, hook, webhook_dest, make_rule):
    r1 = make_rule(webhook_dest, name="r1")
    make_rule(webhook_dest, name="r2")
    signal(db, world, event="purchase")
    hook.reply(200)
    hook.reply(500)
    run_dispatch(NOW)
    all_ = owner.get(URL).json()
    assert all_["total"] == 2
    assert owner.get(URL, params={"rule_id": r1["id"]}).json()["total"] == 1
    assert owner.get(URL, params={"status": "sent"}).json()["total"] == 1
    assert owner.get(URL, params={"status": "failed"}).json()["total"] == 1
    assert owner.get(URL, params={"channel": "webhook"}).json()["total"] == 2
    assert owner.get(URL, params={"channel": "slack"}).json()["total"] == 0
    assert owner.get(URL, params={"destination_id": webhook_dest["id"]}).json()["total"] == 2
    assert owner.get(URL, params={"scan_config_id": str(world.scan_id)}).json()["total"] == 2
    assert owner.get(URL, params={"scan_config_id": str(uuid.uuid4())}).json()["total"] == 0
    today = datetime.now(UTC).date()
    assert owner.get(URL, params={"date_from": str(today), "date_to": str(today)}).json()["total"] == 2
    assert owner.get(URL, params={"date_to": str(today - timedelta(days=1))}).json()["total"] == 0
    assert owner.get(URL, params={"date_from": (NOW + timedelta(days=2)).isoformat()}).json()["total"] == 0
    page = owner.get(URL, params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 2 and len(page["items"]) == 1


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": 0}, "limit"), ({"limit": 201}, "limit"), ({"offset": -1}, "offset"),
    ({"status": "lost"}, "status"), ({"channel": "pager"}, "channel"), ({"rule_id": "x"}, "rule_id"),
    ({"destination_id": "x"}, "destination_id"), ({"scan_config_id": "x"}, "scan_config_id"),
    ({"date_from": "yesterday"}, "date_from"), ({"date_to": "2026-13-01"}, "date_to"),
    ({"date_to": "9999-12-31"}, "date_to"),
    ({"date_from": "2026-02-02", "date_to": "2026-02-01"}, "date_from"),
])
def test_list_validation(owner, project, params, field):
    r = owner.get(URL, params=params)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["query", field]


def test_get_unknown_or_foreign_delivery_is_404(owner, world, db, hook, webhook_dest, make_rule):
    make_rule(webhook_dest)
    signal(db, world)
    run_dispatch(NOW)
    d = only_delivery(owner)
    assert owner.get(f"{URL}/{uuid.uuid4()}").status_code == 404
    owner.post("/api/v1/projects", json={"name": "Other", "slug": "other"})
    assert owner.get(f"/api/v1/projects/other/alerts/deliveries/{d['id']}").status_code == 404
