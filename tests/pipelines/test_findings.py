"""Each finding type is detected on crafted rows in a real warehouse (Postgres and chdb) by a replay."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from sqlalchemy import text

from tests.pipelines.data import LAST, SPIKE_AT, START
from tests.pipelines.helpers import replay, rows


def test_replay_detects_every_injected_incident(db, scan, plan):
    job = replay(db, scan, START, LAST + timedelta(days=1))
    assert job.status.value == "succeeded", job.error_message
    assert job.result_summary["days"] == 10
    ev = {k: v["id"] for k, v in plan["events"].items()}

    signals = rows(db, "anomaly_signals")
    signals["scope_ref"] = signals["scope_ref"].astype(str)
    spike = signals[(signals["scope_ref"] == ev["home"]) & (signals["direction"] == "spike")]
    assert pd.Timestamp(SPIKE_AT) in set(pd.to_datetime(spike["since"], utc=True)), signals
    drop = signals[(signals["scope_ref"] == ev["cart"]) & (signals["direction"] == "drop")]
    assert len(drop) and (pd.to_datetime(drop["since"], utc=True) >= pd.Timestamp(LAST)).all(), signals

    drifts = rows(db, "schema_drifts")
    found = set(zip(drifts["field_name"], drifts["drift_type"], strict=True))
    assert ("load_time_ms", "type_mismatch") in found, drifts[["field_name", "drift_type", "details"]]
    assert ("experiment_id", "new_field") in found, drifts[["field_name", "drift_type"]]
    # plain output columns tripl itself uses (event_name_format `{name}`, app_version_column, the event type
    # and time columns) are infrastructure, never fields of the event type
    new = {f for f, t in found if t == "new_field"}
    assert not new & {"name", "app_version", "event_type", "ts"}, new

    dist = rows(db, "distribution_drifts", "is_drift")
    assert set(dist["field"]) == {"props.price"} and (pd.to_datetime(dist["window_start"], utc=True)
                                                      == pd.Timestamp(LAST)).all(), dist

    rel = rows(db, "release_regressions", "is_regression")
    rel["scope_ref"] = rel["scope_ref"].astype(str)
    hit = rel[(rel["scope_ref"] == ev["search"]) & (rel["app_version"] == "2.0")]
    assert len(hit) == 1 and hit["direction"].iloc[0] == "drop", rel

    shadows = rows(db, "shadow_event_candidates")
    assert shadows["name"].tolist() == ["promo_banner"] and shadows["status"].tolist() == ["new"]
    assert shadows["total_count"].iloc[0] == 300

    total = rows(db, "metric_points", "scope_type = 'project_total'")
    assert len(total) == 240 and total["count"].sum() == int(rows(db, "observed_names")["count"].sum())


def test_contract_breaches_and_enum_values_are_findings(db, owner, pg_scan, plan):
    et = plan["event_type"]
    fields = {f["name"]: f["id"] for f in et["field_definitions"]}
    base = f"/api/v1/projects/shop-app/event-types/{et['id']}/fields"
    r = owner.patch(f"{base}/{fields['load_time_ms']}", json={"contract_max_value": 1000})
    assert r.status_code == 200, r.text
    r = owner.patch(f"{base}/{fields['platform']}", json={"enum_options": ["ios", "android"]})
    assert r.status_code == 200, r.text
    day = LAST - timedelta(days=1)
    assert replay(db, pg_scan, day, day + timedelta(days=1)).status.value == "succeeded"
    drifts = rows(db, "schema_drifts").set_index(["field_name", "drift_type"])
    bad = drifts.loc[("load_time_ms", "bad_rate_breach"), "details"]
    assert 0.55 < bad["rate"] < 0.8 and bad["limit"] == 0  # ~2/3 of 100…3000 ms are above 1000
    enum = drifts.loc[("platform", "enum_value_outside_options"), "details"]
    assert 0.2 < enum["rate"] < 0.45  # one platform in three is "web"
    assert ("load_time_ms", "type_mismatch") not in drifts.index  # numbers on that day


def test_variables_get_observed_values_and_counts(db, owner, pg_scan, plan):
    base = "/api/v1/projects/shop-app/variables"
    r = owner.post(base, json={"name": "platform"})
    assert r.status_code == 201, r.text
    var = r.json()
    assert replay(db, pg_scan, LAST, LAST + timedelta(days=1)).status.value == "succeeded"
    values = {v["value"]: v for v in owner.get(f"{base}/{var['id']}/values").json()}
    assert set(values) == {"ios", "android", "web"}
    day = rows(db, "observed_names")
    assert sum(v["occurrences"] for v in values.values()) == int(day["count"].sum())
    assert all(v["event_count"] >= 1 for v in values.values())


def test_a_new_fields_presence_is_the_full_counts_rate_not_the_samples_count(db, pg_scan, plan):
    # D9 has ~12,000 rows and the sample holds 10,000: every row carries experiment_id, so its presence rate is 1
    assert replay(db, pg_scan, LAST, LAST + timedelta(days=1)).status.value == "succeeded"
    drifts = rows(db, "schema_drifts").set_index(["field_name", "drift_type"])
    details = drifts.loc[("experiment_id", "new_field"), "details"]
    assert details["presence_rate"] == 1.0 and details["presence_count"] == details["total_rows"], details


def test_a_release_regression_is_a_newer_release_losing_share_never_the_oldest(db, pg_scan, plan):
    """4.0.0 and 4.1.0 were both live before the window began (same first bucket), 4.0.0 with more rows: the
    newer release is 4.1.0 by version, whatever order their first rows had in the window."""
    from tripl_core.scanning import findings, steps

    cfg = steps.load_config(db, pg_scan["id"])
    home, search = plan["events"]["home"]["id"], plan["events"]["search"]["id"]
    at = LAST
    data = [("project_total", None, "4.0.0", 10_000), ("project_total", None, "4.1.0", 4_000),
            ("event", home, "4.0.0", 2_000), ("event", home, "4.1.0", 1_600),  # 20 % → 40 %: a gain
            ("event", search, "4.0.0", 8_000), ("event", search, "4.1.0", 2_400)]
    for scope_type, ref, version, count in data:
        db.execute(text("INSERT INTO app_version_points (scan_config_id, scope_type, scope_ref, bucket, "
                        "app_version, is_other, count) VALUES (:c, :t, :r, :b, :v, false, :n)"),
                   {"c": cfg.id, "t": scope_type, "r": ref, "b": at, "v": version, "n": count})
    findings.detect_release_regressions(db, cfg, at + timedelta(hours=1))
    db.commit()
    rel = rows(db, "release_regressions")
    assert set(rel["app_version"]) == {"4.1.0"}, rel[["app_version", "scope_ref", "is_regression"]]
    assert not rel["is_regression"].any()  # 4.1.0 gained `home` share and kept `search`'s within noise
