"""Crafted raw events for the pipeline tests: 10 days of hourly-seasonal `screen_view` rows with incidents on the
last day (D9): a spike of `home` at 12:00, `cart` silent all day, an unplanned `promo_banner`, `load_time_ms`
turned into strings, a new `experiment_id` property, `price` shifted up, and release 2.0 (from D7) that never
sends `search`. Generated with numpy in bulk (seeded), so every run sees the same rows.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

START = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 10
LAST = START + timedelta(days=DAYS - 1)
SPIKE_AT = LAST + timedelta(hours=12)
NAMES = np.array(["home", "search", "cart"])
SHARES = np.array([0.5, 0.3, 0.2])


def make_rows(seed: int = 7, rate: float = 400.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    hours = pd.date_range(START, periods=DAYS * 24, freq="1h")
    hod = hours.hour.to_numpy()
    lam = rate * (1 + 0.5 * np.sin(2 * np.pi * (hod - 6) / 24))
    n = rng.poisson(lam)
    hour_of_row = np.repeat(np.arange(len(hours)), n)
    ts = hours[hour_of_row] + pd.to_timedelta(rng.integers(0, 3600, len(hour_of_row)), unit="s")
    name = rng.choice(NAMES, size=len(ts), p=SHARES)
    day = (ts - pd.Timestamp(START)).days.to_numpy()
    last = day == DAYS - 1
    # release mix: 1.0 always, 1.1 from D3, 2.0 from D7 (2.0 never sends `search`)
    version = np.where(day >= 7, rng.choice(["1.0", "1.1", "2.0"], size=len(ts), p=[0.3, 0.3, 0.4]),
                       np.where(day >= 3, rng.choice(["1.0", "1.1"], size=len(ts)), "1.0"))
    version = np.where((version == "2.0") & (name == "search"), "1.1", version)
    keep = ~(last & (name == "cart"))  # cart goes silent on D9
    frame = pd.DataFrame({"ts": ts, "event_type": "screen_view", "name": name, "app_version": version,
                          "price": np.round(np.where(last, rng.normal(150, 10, len(ts)),
                                                     rng.normal(50, 10, len(ts))), 2),
                          "load": rng.integers(100, 3000, len(ts)), "last": last,
                          "platform": rng.choice(["ios", "android", "web"], size=len(ts))})[keep]
    spike_n = int(rate * 5)
    spike = pd.DataFrame({"ts": pd.Timestamp(SPIKE_AT) + pd.to_timedelta(rng.integers(0, 3600, spike_n), unit="s"),
                          "event_type": "screen_view", "name": "home", "app_version": "1.0",
                          "price": np.round(rng.normal(150, 10, spike_n), 2),
                          "load": rng.integers(100, 3000, spike_n), "last": True,
                          "platform": rng.choice(["ios", "android", "web"], size=spike_n)})
    promo = pd.DataFrame({"ts": pd.Timestamp(LAST) + pd.to_timedelta(rng.integers(0, 86400, 300), unit="s"),
                          "event_type": "screen_view", "name": "promo_banner", "app_version": "2.0",
                          "price": np.round(rng.normal(150, 10, 300), 2), "load": rng.integers(100, 3000, 300),
                          "last": True, "platform": "ios"})
    frame = pd.concat([frame, spike, promo], ignore_index=True).sort_values("ts", kind="stable")
    props = [json.dumps({"platform": p, "price": pr, "load_time_ms": (str(ld) if lst else int(ld)),
                         **({"experiment_id": "exp-7"} if lst else {})})
             for p, pr, ld, lst in zip(frame["platform"], frame["price"], frame["load"], frame["last"], strict=True)]
    return pd.DataFrame({"ts": frame["ts"].to_numpy(), "event_type": frame["event_type"].to_numpy(),
                         "name": frame["name"].to_numpy(), "app_version": frame["app_version"].to_numpy(),
                         "props": props})


PLAN_FIELDS = [
    {"name": "platform", "display_name": "Platform", "field_type": "enum", "is_required": True,
     "enum_options": ["ios", "android", "web"]},
    {"name": "load_time_ms", "display_name": "Load time", "field_type": "number", "contract_min_value": 0,
     "contract_max_value": 30000},
    {"name": "price", "display_name": "Price", "field_type": "number"},
]
