"""Issue 19, acceptance (scanning side): a 22-day warehouse with daily and weekly seasonality, three releases and
one incident of each kind, ending now, replayed up to now through the REST API (in-process executor, chdb):
every incident is found, no point, finding or alert falls on an unobserved hour, and the false volume findings
are counted (the figure depends on the volume detector; bench/scan_trust.py prints it with the alert items)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pandas as pd
import pytest

from tests.alerting.helpers import FakeServer
from tests.alerting_api.helpers import alert_everything
from tests.conftest import SCRATCH
from tests.pipelines import scenario
from tests.pipelines.helpers import rows

BASE = "/api/v1/projects/shop-app"
TABLE = "trust_events"


@pytest.fixture
def hook() -> Iterator[FakeServer]:
    srv = FakeServer()
    yield srv
    srv.close()


def test_a_replay_up_to_now_finds_every_incident_and_nothing_unobserved(owner, project, db, inprocess, hook):
    from tripl_core.warehouse.clickhouse import opened_chdb_path

    sc = scenario.Scenario(scenario.now_utc())
    opened = opened_chdb_path()
    host = f"chdb://{opened}" if opened else f"chdb://{SCRATCH / 'chdb'}"
    scenario.load_chdb(host, TABLE, scenario.make_rows(sc))
    cfg, ev = scenario.setup_project(owner, host, TABLE)
    alert_everything(owner, f"{hook.url}/trust", "trust")

    job = scenario.replay_to_now(owner, cfg, sc)
    assert job["status"] == "succeeded", job
    current = pd.Timestamp(sc.now.replace(minute=0, second=0, microsecond=0))

    # nothing on unobserved time: the current hour is held, nothing after it exists
    points = rows(db, "metric_points")
    assert pd.to_datetime(points["bucket"], utc=True).max() < current
    signals = rows(db, "anomaly_signals")
    signals["scope_ref"] = signals["scope_ref"].astype(str)
    assert (pd.to_datetime(signals["bucket"], utc=True) < current).all()

    # every incident is found
    def signal(event: str, direction: str, window: tuple[datetime, datetime]) -> bool:
        s = signals[(signals["scope_ref"] == ev[event]) & (signals["direction"] == direction)]
        since = pd.to_datetime(s["since"], utc=True)
        return bool(((since >= pd.Timestamp(window[0])) & (since < pd.Timestamp(window[1]))).any())

    assert signal("home", "spike", sc.windows["spike"]), signals
    assert signal("cart", "drop", sc.windows["drop"]), signals
    shadows = rows(db, "shadow_event_candidates")
    assert shadows["name"].tolist() == ["promo_banner"]
    dead = owner.get(f"{BASE}/reconciliation/dead-events").json()  # default days=30
    assert [i["event_id"] for i in dead["items"]] == [ev["filter_toggle"]], dead
    drifts = rows(db, "schema_drifts").set_index(["field_name", "drift_type"])
    assert ("load_time_ms", "type_mismatch") in drifts.index, drifts.index.tolist()
    assert ("country", "null_rate_breach") in drifts.index, drifts.index.tolist()
    new = drifts.loc[("experiment_id", "new_field")]
    assert pd.Timestamp(new["detected_at"]) == pd.Timestamp(sc.at(-2, 13))  # its first bucket, not midnight
    assert new["details"]["presence_rate"] > 0.99  # every row of the newest window had it
    assert pd.Timestamp(drifts.loc[("load_time_ms", "type_mismatch"), "detected_at"]) == pd.Timestamp(sc.at(-3))
    dist = rows(db, "distribution_drifts", "is_drift")
    assert pd.Timestamp(sc.at(-2)) in set(pd.to_datetime(dist["window_start"], utc=True)), dist
    rel = rows(db, "release_regressions", "is_regression")
    rel["scope_ref"] = rel["scope_ref"].astype(str)
    assert [(r.scope_ref, r.app_version, r.direction) for r in rel.itertuples()] == [(ev["search"], "1.2", "drop")]

    false = scenario.false_volume(signals, sc, dead_event_id=ev["filter_toggle"])
    names = {v: k for k, v in ev.items()}
    print(f"\nvolume signals {len(signals)}, false {len(false)}:")
    for r in false.itertuples():
        print(f"  {r.scope_type} {names.get(r.scope_ref, r.scope_ref)} {r.direction} {r.since} x{r.bucket_count} "
              f"peak_z {r.peak_z:.1f} actual {r.actual:.0f} expected {r.expected:.0f}")
    assert len(false) <= 3  # the bar (depends on the volume detector's weekly model)

    # alerts: nothing about an unobserved hour; the dead event alerts
    from tripl_core.alerting import dispatch
    from tripl_core.db.session import new_session

    with new_session() as s:
        report = dispatch.run(s, datetime.now(UTC), project_id=uuid.UUID(cfg["project_id"]))
    items = [i for req in hook.requests for i in req.json().get("items", [])]
    assert report.sent >= 1 and items, report
    for i in items:
        if i.get("bucket"):
            assert pd.Timestamp(i["bucket"]) < current, i
    told = [(i["kind"], i.get("event"), i.get("direction")) for i in items]
    print("delivered items:", told)
    # one incident, one message: the dead event is told once, and the drops of its silence only under it
    assert told.count(("dead_event", "filter_toggle", "drop")) == 1, told
    assert ("volume", "filter_toggle", "drop") not in told, told
    dead_item = next(i for i in items if i["kind"] == "dead_event")
    assert all(r.get("event") == "filter_toggle" for r in dead_item.get("related") or []), dead_item
