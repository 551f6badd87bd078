"""`tripl demo`: setup is idempotent, and every injected incident becomes a finding served by the REST API."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.demo.conftest import WAREHOUSE
from tripl_core.db.models.auth import User, UserRole
from tripl_core.db.models.projects import Project
from tripl_core.db.models.scans import ScanState
from tripl_core.db.models.sources import DataSource, ScanConfig
from tripl_core.demo import load, warehouse

P = "/api/v1/projects/demo"


def test_demo_owner_is_created_once_on_an_empty_instance(db, tmp_path, monkeypatch):
    monkeypatch.setattr(load, "login_file", lambda: tmp_path / "demo-login.txt")
    actor, creds = load.demo_actor(db)
    assert creds is not None and creds[0] == load.DEMO_EMAIL and len(creds[1]) >= 12
    assert actor.user.role == UserRole.owner
    again, creds2 = load.demo_actor(db)
    # the same owner; its login (kept in data_dir) is printed again on every start
    assert again.user.id == actor.user.id and creds2 == creds


def test_demo_uses_the_existing_owner(db, owner):
    actor, creds = load.demo_actor(db)
    # someone registered first: they own the demo, with their own password (never printed)
    assert creds == ("owner@example.com", "") and actor.user.email == "owner@example.com"
    assert db.scalar(select(func.count()).select_from(User)) == 1


def test_setup_is_idempotent(db, owner, database_url, tiny_spec):
    # A seed no other test uses: the first setup must generate, whichever demo test ran before on this worker.
    tiny_spec = dataclasses.replace(tiny_spec, seed=0.1717)
    first = load.setup(db, database_url, tiny_spec, database=WAREHOUSE)
    assert first.rows and first.rows > 10_000 and first.credentials == ("owner@example.com", "")  # the registered owner: no password printed
    assert set(first.configs) == set(load.CONFIGS)
    for name, cfg in first.configs.items():
        assert cfg.verification_status == "verified", (name, cfg.verification_message)
        assert cfg.interval == "15m" and cfg.event_name_format == warehouse.name_format(name)
        assert (cfg.app_version_column is not None) == load.CONFIGS[name]["app_version"]
        assert db.get(ScanState, cfg.id) is not None  # made up front: parallel Dagster runs would race
    # The demo connects through a read-only role, and Test Data Source Connection says so (issue 21).
    assert first.source.username == f"{WAREHOUSE}_reader"
    tested = owner.post(f"/api/v1/data-sources/{first.source.id}/test").json()
    assert tested["success"] is True and "is read-only" in tested["message"], tested
    second = load.setup(db, database_url, tiny_spec, database=WAREHOUSE)
    assert second.rows is None  # same spec: the warehouse is not regenerated
    db.refresh(second.source)
    assert second.source.last_test_status == "success"  # the source (role, password) was left as it was
    assert second.project.id == first.project.id
    assert {c.id for c in second.configs.values()} == {c.id for c in first.configs.values()}
    assert db.scalar(select(func.count()).select_from(Project)) == 1
    assert db.scalar(select(func.count()).select_from(DataSource)) == 1
    assert db.scalar(select(func.count()).select_from(ScanConfig)) == len(load.CONFIGS)
    r = owner.get(f"{P}/scans")
    assert r.status_code == 200 and len(r.json()) == len(load.CONFIGS)


def _events(owner) -> dict[str, dict]:
    r = owner.get(f"{P}/events", params={"limit": 500})
    assert r.status_code == 200, r.text
    body = r.json()
    return {e["name"]: e for e in (body["items"] if isinstance(body, dict) else body)}


def _types(owner) -> dict[str, dict]:
    r = owner.get(f"{P}/event-types")
    assert r.status_code == 200, r.text
    body = r.json()
    return {t["name"]: t for t in (body["items"] if isinstance(body, dict) else body)}


def _anomalies(owner, event: dict, inc: warehouse.Incident) -> set[str]:
    r = owner.get(f"{P}/metrics/events/{event['id']}", params={
        "from": (inc.since - timedelta(hours=1)).isoformat(), "to": (inc.until + timedelta(hours=1)).isoformat()})
    assert r.status_code == 200, r.text
    return {p["direction"] for p in r.json()["data"]
            if p["is_anomaly"] and inc.since.isoformat() <= p["bucket"].replace("Z", "+00:00") < inc.until.isoformat()}


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_every_injected_incident_is_a_finding_in_the_api(db, owner, database_url, sink_server):
    """…and reaches the demo's webhook (the real `tripl webhook-sink`), grouped in the inbox, once."""
    sink_url, sink_file = sink_server
    # 11 days: the drop (three days before the end) comes after a week of history — the detector's warm-up
    # (672 fifteen-minute buckets) needs a full week before it judges anything
    spec = warehouse.DemoSpec(days=11, scale=0.4, tail_days=0)
    demo = load.setup(db, database_url, spec, database=WAREHOUSE, alerts_url=sink_url)
    demo.configs.pop("error")  # no incident there: skipping it keeps the test shorter
    jobs = load.replay(db, demo, spec, use_dagster=False, include_today=False, progress=lambda _: None)
    assert [j.status.value for j in jobs] == ["succeeded"] * 4, [j.error_message for j in jobs]
    inc = warehouse.incidents(spec)
    events, types = _events(owner), _types(owner)

    # volume: a spike of `home`, a drop of `app_opened`, each in its window
    assert "spike" in _anomalies(owner, events[warehouse.SPIKE_EVENT], inc["spike"])
    assert "drop" in _anomalies(owner, events[warehouse.DROP_EVENT], inc["drop"])

    # schema drift: exactly the injected ones (no false null-rate or type findings elsewhere)
    found = set()
    for name in ("screen_view", "ui_interaction", "commerce", "lifecycle"):
        r = owner.get(f"{P}/event-types/{types[name]['id']}/drifts")
        assert r.status_code == 200, r.text
        found |= {(name, d["field_name"], d["drift_type"], d["status"]) for d in r.json()["items"]}
    assert found == {("screen_view", "load_time_ms", "type_mismatch", "open"),
                     ("ui_interaction", "experiment_variant", "new_field", "open")}

    # distribution drift of commerce price, only from the day it shifted
    r = owner.get(f"{P}/distribution-drifts", params={"scope_type": "event_type",
                                                       "scope_ref": types["commerce"]["id"]})
    assert r.status_code == 200, r.text
    drifted = [d for d in r.json()["data"] if d["is_drift"]]
    assert {d["field"] for d in drifted} == {"properties.price"}
    assert min(d["window_start"].replace("Z", "+00:00") for d in drifted) == inc["distribution"].since.isoformat()

    # release 4.3.0 lost the search bar tap
    r = owner.get(f"{P}/scans/{demo.configs['ui_interaction'].id}/release-regressions")
    assert r.status_code == 200, r.text
    hits = [i for i in r.json()["items"] if i["event_name"] == warehouse.REGRESSION[1]
            and i["app_version"] == warehouse.REGRESSION[0]]
    assert len(hits) == 1 and hits[0]["direction"] == "drop" and hits[0]["release_count"] == 0

    # reconciliation: the unplanned screen is a shadow candidate, the silent event is dead
    r = owner.get(f"{P}/reconciliation/shadow-events")
    assert r.status_code == 200, r.text
    assert [(s["name"], s["status"]) for s in r.json()["items"]] == [(warehouse.SHADOW_EVENT, "new")]
    r = owner.get(f"{P}/reconciliation/dead-events", params={"days": 3})
    assert r.status_code == 200, r.text
    dead = [d["name"] for d in r.json()["items"] if d["event_type_name"] != "error"]  # error: not scanned here
    assert dead == [warehouse.DEAD_EVENT]

    # the URLs `tripl demo` prints answer (one per incident)
    urls = load.incident_urls(db, demo, spec, base="")
    assert len(urls) == len(inc)
    for line, url in urls:
        r = owner.get(url)
        assert r.status_code == 200, (line, url, r.text)
    consoled = {line.split(":", 1)[0] for line, url in urls if url.startswith("/ui/projects/demo/")}
    assert {"spike", "drop", "dead"} <= consoled, consoled  # pages with a chart and actions, not JSON
    summary = load.where_to_look(db, demo, spec, use_dagster=False)
    assert "Dagster UI" not in summary
    assert f"webhook {sink_url}" in summary and f"{P}/alerts/deliveries" in summary and "/alerts/inbox" in summary

    _alerts_reach_the_sink(db, owner, demo, spec, sink_file)


def _alerts_reach_the_sink(db, owner, demo, spec, sink_file) -> None:
    """The demo's catch-up dispatch delivers every alertable incident; the sensor then finds nothing new."""
    import dagster as dg

    from tripl_pipelines.alerting import alert_dispatch
    from tripl_pipelines.jobs import alert_dispatch_job
    from tripl_pipelines.resources import TriplDatabase

    report = load.send_alerts(db, demo, spec)
    assert report.deliveries and report.sent == len(report.deliveries) and report.failed == 0, report
    received = [json.loads(line)["body"] for line in sink_file.read_text().splitlines()]
    assert len(received) == len(report.deliveries)
    incidents = [i for b in received for i in b["items"]]
    items = [i for inc in incidents for i in (inc, *inc["related"])]  # every finding, leading or related
    assert {b["rule"]["name"] for b in received} == {load.ALERT_RULE_NAME}
    volume = {(i["scope_name"], i["direction"]) for i in items if i["kind"] == "volume"}
    assert (warehouse.SPIKE_EVENT, "spike") in volume and (warehouse.DROP_EVENT, "drop") in volume, volume
    schema = {(i["event_type"], (i["extra"] or {}).get("field"), (i["extra"] or {}).get("drift_type"))
              for i in items if i["kind"] == "schema_drift"}
    assert schema == {("screen_view", "load_time_ms", "type_mismatch"),
                      ("ui_interaction", "experiment_variant", "new_field")}, schema
    assert {(i["extra"] or {}).get("field") for i in items if i["kind"] == "distribution_drift"} \
        == {"properties.price"}
    assert {(i["event"], (i["extra"] or {}).get("app_version")) for i in items
            if i["kind"] == "release_regression"} >= {(warehouse.REGRESSION[1], warehouse.REGRESSION[0])}

    r = owner.get(f"{P}/alerts/deliveries")
    assert r.status_code == 200, r.text
    assert sorted(d["status"] for d in r.json()["items"]) == ["sent"] * len(report.deliveries)
    r = owner.get(f"{P}/alerts/inbox", params={"limit": 200})
    assert r.status_code == 200, r.text
    groups = r.json()["items"]
    # one group per incident (related scopes and one scan's drifts of an event type together), every finding in one
    assert r.json()["total"] == len(groups) == len(incidents)
    assert sum(g["item_count"] for g in groups) == len(items)
    by_scope = {(g["kind"], g["direction"], name) for g in groups for name in g["scope_names"]}
    assert ("volume", "spike", warehouse.SPIKE_EVENT) in by_scope, by_scope
    assert ("volume", "drop", warehouse.DROP_EVENT) in by_scope, by_scope
    assert all(i["summary"] and i["link"] for i in items)  # content and a console link on every finding
    assert all(g["rule_names"] == [load.ALERT_RULE_NAME] for g in groups)

    instance = dg.DagsterInstance.ephemeral()
    resources = {"tripl_db": TriplDatabase()}
    ctx = dg.build_sensor_context(instance=instance, resources=resources)
    assert isinstance(alert_dispatch(ctx), dg.RunRequest)  # findings exist: the sensor launches a dispatch run
    assert alert_dispatch_job.execute_in_process(instance=instance, resources=resources).success
    assert isinstance(alert_dispatch(dg.build_sensor_context(instance=instance, cursor=ctx.cursor,
                                                             resources=resources)), dg.SkipReason)
    assert len(sink_file.read_text().splitlines()) == len(received)  # nothing new sent
    assert load.send_alerts(db, demo, spec).deliveries == []


def test_replays_queue_first_and_a_scheduled_run_is_not_doubled(db, owner, database_url, tiny_spec, monkeypatch):
    """Through Dagster every replay is queued before any run of today (the long runs start first), and a config
    whose first Run Scan the scheduler queued already (it runs as soon as the config exists) gets no second one:
    that was one more Dagster run per race in the demo (16 scan runs instead of 15)."""
    from tripl_core.db.models.scans import ScanJob, ScanJobKind
    from tripl_pipelines.sensors import enqueue_due_runs

    demo = load.setup(db, database_url, tiny_spec, database=WAREHOUSE)
    first = demo.configs["screen_view"]
    scheduled = [j for j in enqueue_due_runs(db, tiny_spec.end) if db.get(ScanJob, j).scan_config_id == first.id]
    for job in db.scalars(select(ScanJob).where(ScanJob.id.not_in(scheduled))):
        db.delete(job)  # the scheduler got to one config only before the demo queued its jobs
    db.commit()
    waited: list = []
    monkeypatch.setattr(load, "wait_for", lambda _db, ids, **_: waited.extend(ids) or [])
    load.replay(db, demo, tiny_spec, use_dagster=True)
    made = [db.get(ScanJob, i) for i in waited]
    kinds = [j.kind for j in made]
    assert kinds == [ScanJobKind.replay] * len(demo.configs) + [ScanJobKind.run] * len(demo.configs)
    assert [j.id for j in made if j.scan_config_id == first.id and j.kind == ScanJobKind.run] == scheduled
    runs = db.scalars(select(ScanJob).where(ScanJob.kind == ScanJobKind.run)).all()
    assert len(runs) == len(demo.configs)  # one per config, whoever queued it
