"""The acceptance scenario of issue 19: a generated warehouse of DAYS days ending *now* (the current hour is
still filling), with daily and weekly seasonality, three releases and one incident of each kind. Used by
`tests/pipelines/test_acceptance.py` and `bench/scan_trust.py`. Generated with numpy in bulk (seeded).

Times are relative to `today` (midnight UTC of `now`):
- spike: `home` × 5 on T−2d 18:00–20:00;  drop: `cart` × 0.1 on T−3d 09:00–12:00;
- shadow: unplanned `promo_banner` from T−4d 10:00;  dead: `filter_toggle` silent from T−10d;
- type change: `load_time_ms` sent as a string by Android from T−3d;  new field: `experiment_id` from T−2d 13:00;
- distribution shift: `price` × 2.5 from T−2d;  null-rate breach: `country` null in 30 % of rows from T−1d 06:00
  (contract ≤ 1 %);  release regression: release 1.2 (from T−6d) never sends `search`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

DAYS = 22
RATES = {"home": 60.0, "search": 30.0, "cart": 20.0, "product": 40.0, "checkout": 8.0, "filter_toggle": 15.0}
PLANNED = tuple(RATES)
PLAN_FIELDS = [
    {"name": "platform", "display_name": "Platform", "field_type": "enum", "is_required": True,
     "enum_options": ["ios", "android", "web"]},
    {"name": "load_time_ms", "display_name": "Load time", "field_type": "number"},
    {"name": "price", "display_name": "Price", "field_type": "number"},
    {"name": "country", "display_name": "Country", "field_type": "string", "contract_required_max_null_rate": 0.01},
]
WEEKDAY = np.array([0.9, 1.0, 1.0, 1.0, 1.1, 1.35, 1.3])  # Monday … Sunday: shoppers shop at weekends


@dataclass(frozen=True)
class Scenario:
    now: datetime

    @property
    def today(self) -> datetime:
        return self.now.replace(hour=0, minute=0, second=0, microsecond=0)

    @property
    def start(self) -> datetime:
        return self.today - timedelta(days=DAYS - 1)

    def at(self, days: int, hours: int = 0) -> datetime:
        return self.today + timedelta(days=days, hours=hours)

    @property
    def windows(self) -> dict[str, tuple[datetime, datetime]]:
        """Where each volume incident is, for telling true volume findings from false ones."""
        return {"spike": (self.at(-2, 18), self.at(-2, 20)), "drop": (self.at(-3, 9), self.at(-3, 12)),
                "dead": (self.at(-10), self.at(-10, 6)), "shadow": (self.at(-4, 10), self.at(-4, 13))}


def make_rows(sc: Scenario, seed: int = 19) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    hours = pd.date_range(sc.start, sc.now, freq="1h", inclusive="left")
    hod = hours.hour.to_numpy()
    shape = (0.35 + 0.65 * (0.5 + 0.5 * np.sin(2 * np.pi * (hod - 9) / 24))) / 0.675
    week = WEEKDAY[hours.dayofweek.to_numpy()]
    parts = []
    for name, rate in {**RATES, "promo_banner": 8.0}.items():
        lam = rate * shape * week
        if name == "home":
            lam = np.where((hours >= sc.at(-2, 18)) & (hours < sc.at(-2, 20)), lam * 5, lam)
        if name == "cart":
            lam = np.where((hours >= sc.at(-3, 9)) & (hours < sc.at(-3, 12)), lam * 0.1, lam)
        if name == "filter_toggle":
            lam = np.where(hours >= sc.at(-10), 0.0, lam)
        if name == "promo_banner":
            lam = np.where(hours >= sc.at(-4, 10), lam, 0.0)
        n = rng.poisson(lam)
        idx = np.repeat(np.arange(len(hours)), n)
        ts = hours[idx] + pd.to_timedelta(rng.integers(0, 3600, len(idx)), unit="s")
        parts.append(pd.DataFrame({"ts": ts, "name": name}))
    frame = pd.concat(parts, ignore_index=True)
    frame = frame[frame["ts"] < pd.Timestamp(sc.now)].sort_values("ts", kind="stable").reset_index(drop=True)
    ts = frame["ts"]
    # releases: 1.0 from the start, 1.1 from T−12d, 1.2 from T−6d (1.2 never sends `search`)
    u = rng.random(len(frame))
    age11 = (ts - pd.Timestamp(sc.at(-12))).dt.total_seconds().to_numpy() / 86400
    age12 = (ts - pd.Timestamp(sc.at(-6))).dt.total_seconds().to_numpy() / 86400
    p11 = np.where(age11 > 0, 0.9 * (1 - np.exp(-age11 / 1.5)), 0)
    p12 = np.where(age12 > 0, 0.9 * (1 - np.exp(-age12 / 1.5)), 0)
    version = np.where(u < p12, "1.2", np.where(u < p11, "1.1", "1.0"))
    keep = ~((version == "1.2") & (frame["name"] == "search").to_numpy())  # 1.2 never sends `search`
    frame, version, u, ts = frame[keep].reset_index(drop=True), version[keep], u[keep], ts[keep].reset_index(drop=True)
    n = len(frame)
    platform = rng.choice(["ios", "android", "web"], size=n, p=[0.5, 0.35, 0.15])
    load = np.round(np.exp(rng.normal(6.0, 0.6, n))).astype(int)
    price = np.round(np.exp(rng.normal(3.5, 0.4, n)) * np.where(ts >= pd.Timestamp(sc.at(-2)), 2.5, 1.0), 2)
    typed = (platform == "android") & (ts >= pd.Timestamp(sc.at(-3))).to_numpy()
    experiment = (ts >= pd.Timestamp(sc.at(-2, 13))).to_numpy()
    null_country = (ts >= pd.Timestamp(sc.at(-1, 6))).to_numpy() & (rng.random(n) < 0.3)
    country = rng.choice(["US", "DE", "GB", "FR"], size=n)
    props = [json.dumps({"platform": p, "load_time_ms": (str(ld) if t else int(ld)), "price": float(pr),
                         "country": (None if nc else c), **({"experiment_id": "exp-19"} if ex else {})})
             for p, ld, t, pr, nc, c, ex in zip(platform, load, typed, price, null_country, country, experiment,
                                                strict=True)]
    return pd.DataFrame({"ts": ts.to_numpy(), "event_type": "screen_view", "name": frame["name"].to_numpy(),
                         "app_version": version, "props": props})


def load_chdb(host: str, table: str, frame: pd.DataFrame) -> None:
    from tripl_core.warehouse import ConnectionConfig, DBType, connect

    adapter = connect(ConnectionConfig(db_type=DBType.clickhouse, host=host, database="default"))
    client = adapter.client
    client.command(f"DROP TABLE IF EXISTS {table}")
    client.command(f"CREATE TABLE {table} (ts DateTime('UTC'), event_type String, name String, "
                   "app_version String, props String) ENGINE = MergeTree ORDER BY ts")
    client.insert_df(table, frame.assign(ts=pd.to_datetime(frame["ts"], utc=True).dt.tz_convert(None)))


def false_volume(signals: pd.DataFrame, sc: Scenario, slack: timedelta = timedelta(hours=3),
                 dead_event_id: str | None = None) -> pd.DataFrame:
    """Volume signals that overlap no injected incident (± slack): the false findings. Drops of the dead event
    itself after it died (the detector flags its empty peak hours until it learns the new level) belong to the
    dead-event incident when `dead_event_id` is given."""
    since = pd.to_datetime(signals["since"], utc=True)
    last = pd.to_datetime(signals["bucket"], utc=True)
    true = pd.Series(False, index=signals.index)
    for a, b in sc.windows.values():
        true |= (since < pd.Timestamp(b + slack)) & (last >= pd.Timestamp(a - slack))
    if dead_event_id is not None:
        true |= ((signals["scope_ref"].astype(str) == dead_event_id) & (signals["direction"] == "drop")
                 & (since >= pd.Timestamp(sc.at(-10))))
    return signals[~true]


def now_utc() -> datetime:
    return datetime.now(UTC)


def setup_project(owner, host: str, table: str, slug: str = "shop-app") -> tuple[dict, dict]:
    """The plan (one event type, the planned events), a chdb source and an hourly scan config over `table`."""
    base = f"/api/v1/projects/{slug}"
    # a week of these hourly buckets: the project default (672, a week of the default 15-minute interval) would
    # keep 22 hourly days learning
    r = owner.patch(f"{base}/anomaly-settings", json={"min_history_buckets": 168})
    assert r.status_code == 200, r.text
    r = owner.post(f"{base}/event-types", json={"name": "screen_view", "display_name": "Screen view",
                                                 "field_definitions": PLAN_FIELDS})
    assert r.status_code == 201, r.text
    et = r.json()
    events = {}
    for name in PLANNED:
        r = owner.post(f"{base}/events", json={"event_type_id": et["id"], "name": name, "status": "live",
                                                 "field_values": [{"field_name": "platform", "value": "ios"}]})
        assert r.status_code == 201, r.text
        events[name] = r.json()["id"]
    r = owner.post("/api/v1/data-sources", json={"name": f"trust ch {slug}", "db_type": "clickhouse",
                                                  "host": host, "database_name": "default"})
    assert r.status_code == 201, r.text
    r = owner.post(f"{base}/scans", json={
        "data_source_id": r.json()["id"], "name": "trust", "base_query": f"SELECT * FROM {table}",
        "event_type_column": "event_type", "time_column": "ts", "event_name_format": "{name}",
        "json_value_paths": ["props.price"], "distribution_drift_fields": ["props.price"],
        "app_version_column": "app_version", "interval": "1h", "replay_chunk_interval": "1d"})
    assert r.status_code == 201, r.text
    return r.json(), events


def wait_job(owner, cfg: dict, job_id: str, slug: str = "shop-app", timeout: float = 900, poll: float = 0.5) -> dict:
    """The scan job once it ended (or as it is after `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        job = owner.get(f"/api/v1/projects/{slug}/scans/{cfg['id']}/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled") or time.monotonic() > deadline:
            return job
        time.sleep(poll)


def replay_to_now(owner, cfg: dict, sc: Scenario, slug: str = "shop-app", time_to: datetime | None = None) -> dict:
    """Replay Scan Metrics from the first day up to now (or `time_to`) through the REST API; waits for the job."""
    r = owner.post(f"/api/v1/projects/{slug}/scans/{cfg['id']}/replay", json={
        "time_from": sc.start.isoformat(), "time_to": (time_to or datetime.now(UTC)).isoformat()})
    assert r.status_code == 202, r.text
    return wait_job(owner, cfg, r.json()["id"], slug)
