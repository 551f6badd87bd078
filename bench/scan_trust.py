"""Alerts people can trust, scanning side (issue 19): the acceptance scenario end to end, with a baseline in the
same run.

The warehouse (`tests/pipelines/scenario.py`: 22 days ending now, daily and weekly seasonality, three releases,
nine injected incidents) is loaded into chdb; a project gets the plan, an hourly scan config and a webhook rule
that takes every kind. Then, as a new user would: a first scheduled **Run Scan** (today only) and an alert
dispatch, then **Replay Scan Metrics** up to now through the REST API (in-process executor) and a dispatch.
Printed: incidents found, volume signals (false ones listed), metric points / signals / alert items on
unobserved hours, and every alert item delivered, marked true or false.

The baseline runs the same steps with the scanning side of issue 19 switched off in this process (windows not
clipped to observed time, replays to the end of the day as before, unscanned gaps counted as zeros, no learning
gate), on a second project over the same warehouse. Run: `.venv/bin/python bench/scan_trust.py`.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import _common

sys.path.insert(0, str(_common.ROOT))

TABLE = "trust_events"


@contextmanager
def baseline_mode() -> Iterator[None]:
    """The scans as they were before issue 19's scanning side: every window to its asked end, gaps as zeros."""
    import numpy as np
    import pandas as pd

    from tripl_core.scanning import horizon, metrics

    saved = horizon.observed_end, metrics._observed, metrics._learning
    horizon.observed_end = lambda cfg, end, now, newest, start=None: end
    metrics._observed = lambda grid, stored, start, end: np.ones(len(grid), dtype=bool)
    metrics._learning = lambda wide, observed, m: pd.DataFrame(False, index=wide.index, columns=wide.columns)
    try:
        yield
    finally:
        horizon.observed_end, metrics._observed, metrics._learning = saved


def run(owner, host: str, slug: str, sc, hook, baseline: bool) -> dict:
    import pandas as pd
    from sqlalchemy import text

    from tests.pipelines import scenario
    from tripl_core.alerting import dispatch
    from tripl_core.db.session import new_session

    r = owner.post("/api/v1/projects", json={"name": slug, "slug": slug})
    assert r.status_code == 201, r.text
    project_id = r.json()["id"]
    cfg, ev = scenario.setup_project(owner, host, TABLE, slug)
    names = {v: k for k, v in ev.items()}
    base = f"/api/v1/projects/{slug}"
    r = owner.post(f"{base}/alerts/destinations", json={"type": "webhook", "name": "trust",
                                                         "target_url": f"{hook.url}/{slug}"})
    assert r.status_code == 201, r.text
    dest = r.json()
    owner.post(f"{base}/alerts/destinations/{dest['id']}/rules", json={
        "name": "Everything", "include_schema_drifts": True, "include_distribution_drifts": True,
        "include_release_regressions": True})
    out: dict = {}
    t0 = time.monotonic()
    r = owner.post(f"{base}/scans/{cfg['id']}/run")
    assert r.status_code == 202, r.text
    job = scenario.wait_job(owner, cfg, r.json()["id"], slug)
    assert job["status"] == "succeeded", job
    with new_session() as s:
        dispatch.run(s, datetime.now(UTC), project_id=uuid.UUID(project_id))
    first = [i for q in hook.requests if q.path.endswith(slug) for i in q.json().get("items", [])]
    out["first_run_items"] = len(first)
    end = sc.today + timedelta(days=1) if baseline else None  # before: replays recomputed whole days
    job = scenario.replay_to_now(owner, cfg, sc, slug, time_to=end)
    assert job["status"] == "succeeded", job
    out["scan_seconds"] = time.monotonic() - t0
    with new_session() as s:
        dispatch.run(s, datetime.now(UTC), project_id=uuid.UUID(project_id))
        current = pd.Timestamp(sc.now.replace(minute=0, second=0, microsecond=0))
        q = {"c": cfg["id"], "t": current.to_pydatetime()}
        out["points_unobserved"] = s.execute(text("SELECT count(*) FROM metric_points WHERE scan_config_id = :c "
                                                  "AND bucket >= :t"), q).scalar()
        signals = pd.read_sql_query(text("SELECT * FROM anomaly_signals WHERE scan_config_id = :c"),
                                    s.connection(), params=q)
        out["signals"] = len(signals)
        out["signals_unobserved"] = int((pd.to_datetime(signals["bucket"], utc=True) >= current).sum())
        signals["scope_ref"] = signals["scope_ref"].astype(str)
        false = scenario.false_volume(signals, sc)
        out["dead_echoes"] = len(false) - len(scenario.false_volume(signals, sc, dead_event_id=ev["filter_toggle"]))
        out["false_volume"] = [f"{r.scope_type} {names.get(r.scope_ref, r.scope_ref if r.scope_type != 'project_total' else 'total')} "
                               f"{r.direction} {pd.Timestamp(r.since):%a %m-%d %H:%M} ×{r.bucket_count} "
                               f"(peak z {r.peak_z:.1f})" for r in false.itertuples()]
        out["found"] = found(s, cfg["id"], signals, ev, sc)
    items = [i for q in hook.requests if q.path.endswith(slug) for i in q.json().get("items", [])]
    out["items"] = [(judge(i, sc), describe(i)) for i in items]
    out["items_unobserved"] = sum(1 for i in items if i.get("bucket") and pd.Timestamp(i["bucket"]) >= current)
    return out


def found(s, cfg_id: str, signals, ev: dict, sc) -> dict[str, bool]:
    import pandas as pd
    from sqlalchemy import text

    def one(sql: str, **p) -> bool:
        return bool(s.execute(text(sql), {"c": cfg_id, **p}).scalar())

    def signal(event: str, direction: str, window) -> bool:
        x = signals[(signals["scope_ref"] == ev[event]) & (signals["direction"] == direction)]
        since = pd.to_datetime(x["since"], utc=True)
        return bool(((since >= pd.Timestamp(window[0])) & (since < pd.Timestamp(window[1]))).any())

    drift = "SELECT count(*) FROM schema_drifts WHERE scan_config_id = :c AND field_name = :f AND drift_type = :t"
    return {
        "spike": signal("home", "spike", sc.windows["spike"]),
        "drop": signal("cart", "drop", sc.windows["drop"]),
        "shadow event": one("SELECT count(*) FROM shadow_event_candidates WHERE scan_config_id = :c "
                            "AND name = 'promo_banner'"),
        "dead event": one("SELECT count(*) FROM dead_events WHERE scan_config_id = :c AND status = 'open' "
                          "AND event_id = CAST(:e AS uuid)", e=ev["filter_toggle"]),
        "type change": one(drift, f="load_time_ms", t="type_mismatch"),
        "new field": one(drift, f="experiment_id", t="new_field"),
        "distribution shift": one("SELECT count(*) FROM distribution_drifts WHERE scan_config_id = :c "
                                  "AND is_drift AND window_start = :d", d=sc.at(-2)),
        "release regression": one("SELECT count(*) FROM release_regressions WHERE scan_config_id = :c "
                                  "AND is_regression AND app_version = '1.2' AND scope_ref = CAST(:e AS uuid)",
                                  e=ev["search"]),
        "null-rate breach": one(drift, f="country", t="null_rate_breach"),
    }


def judge(item: dict, sc) -> str:
    """true / false for one delivered alert item against the injected incidents."""
    import pandas as pd

    kind, extra = item.get("kind"), item.get("extra") or {}
    if kind == "volume":
        at = pd.Timestamp(item["bucket"])
        since = pd.Timestamp(extra.get("since") or item["bucket"])
        for a, b in sc.windows.values():
            if since < pd.Timestamp(b + timedelta(hours=3)) and at >= pd.Timestamp(a - timedelta(hours=3)):
                return "true"
        return "FALSE"
    if kind in ("schema_drift", "contract"):
        ok = {("load_time_ms", "type_mismatch"), ("experiment_id", "new_field"), ("country", "null_rate_breach")}
        return "true" if (extra.get("field"), extra.get("drift_type")) in ok else "FALSE"
    if kind == "distribution_drift":
        return "true" if extra.get("field") == "props.price" else "FALSE"
    if kind == "release_regression":
        return "true" if extra.get("app_version") == "1.2" and item.get("event") == "search" else "FALSE"
    if kind == "dead_event":
        return "true" if item.get("event") == "filter_toggle" else "FALSE"
    return "FALSE"


def describe(item: dict) -> str:
    return (f"{item.get('kind')} {item.get('scope_name') or ''} {item.get('direction') or ''} "
            f"{str(item.get('bucket') or '')[:16]} {item.get('summary') or ''}").strip()


def main() -> None:
    os.environ["TRIPL_SCAN_EXECUTOR"] = "inprocess"
    os.environ.setdefault("TRIPL_OUTBOUND_ALLOW", "127.0.0.0/8,::1/128")  # the local webhook sink
    with _common.bench_database("scan-trust-") as (tmp, _url):
        from fastapi.testclient import TestClient

        from tests.alerting.helpers import FakeServer
        from tests.pipelines import scenario
        from tripl_api.app import create_app

        sc = scenario.Scenario(scenario.now_utc())
        host = f"chdb://{Path(tmp) / 'chdb'}"
        rows = scenario.make_rows(sc)
        scenario.load_chdb(host, TABLE, rows)
        print(f"scan_trust: {len(rows):,} rows, {scenario.DAYS} days ending {sc.now:%Y-%m-%d %H:%M} UTC "
              f"(load {_common.load_average()})")
        hook = FakeServer()
        client = TestClient(create_app(), headers={"origin": "http://testserver"})  # same-site, as a browser
        r = client.post("/api/v1/auth/register", json={"email": "owner@example.com", "password": "correct-horse-1",
                                                        "name": "Owner"})
        assert r.status_code == 201, r.text
        client.post("/api/v1/auth/login", json={"email": "owner@example.com", "password": "correct-horse-1"})
        try:
            with baseline_mode():
                before = run(client, host, "before", sc, hook, baseline=True)
            after = run(client, host, "after", sc, hook, baseline=False)
        finally:
            hook.close()
        rows_fmt = [
            ("incidents found (of 9)", sum(before["found"].values()), sum(after["found"].values())),
            ("alert items after the first scheduled run", before["first_run_items"], after["first_run_items"]),
            ("metric points on unobserved hours", before["points_unobserved"], after["points_unobserved"]),
            ("signals on unobserved hours", before["signals_unobserved"], after["signals_unobserved"]),
            ("alert items on unobserved hours", before["items_unobserved"], after["items_unobserved"]),
            ("volume signals", before["signals"], after["signals"]),
            ("false volume findings", len(before["false_volume"]), len(after["false_volume"])),
            ("  of which drops of the dead event after it died", before["dead_echoes"], after["dead_echoes"]),
            ("alert items delivered", len(before["items"]), len(after["items"])),
            ("false alert items", sum(j == "FALSE" for j, _ in before["items"]),
             sum(j == "FALSE" for j, _ in after["items"])),
            ("run + replay seconds", round(before["scan_seconds"], 1), round(after["scan_seconds"], 1)),
        ]
        print(f"\n{'':44} {'before':>8} {'after':>8}")
        for label, b, a in rows_fmt:
            print(f"{label:44} {b!s:>8} {a!s:>8}")
        print("\nincidents (after): " + ", ".join(f"{k} {'✓' if v else '✗'}" for k, v in after["found"].items()))
        print("missed (before): " + (", ".join(k for k, v in before["found"].items() if not v) or "none"))
        print("\nfalse volume findings (after):")
        for line in after["false_volume"]:
            print(f"  {line}")
        print("\nalert items delivered (after):")
        for verdict, text_ in after["items"]:
            print(f"  [{verdict}] {text_}")


if __name__ == "__main__":
    main()
