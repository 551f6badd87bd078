"""Dead events (issue 19 item 6): a regular event silent far longer than its usual gap is a finding, listed by
List Dead Events whatever its `days` filter, alertable through rules like a drop of the event."""

from __future__ import annotations

import types
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import text

from tests.pipelines.helpers import rows
from tripl_core.alerting import candidates, matching
from tripl_core.alerting.rules import DEFAULTS
from tripl_core.scanning import deadness, steps, store

BASE = "/api/v1/projects/shop-app"
HOUR = timedelta(hours=1)


def _series(db, cfg, scope_type: str, ref: str | None, start: datetime, counts: np.ndarray) -> None:
    buckets = pd.date_range(start, periods=len(counts), freq="1h")
    store.copy_frame(db, "metric_points", pd.DataFrame({
        "scan_config_id": cfg.id, "scope_type": scope_type, "scope_ref": ref, "bucket": buckets,
        "count": counts.astype("int64"), "expected": None, "lower": None, "upper": None, "z": None,
        "is_anomaly": False, "direction": None}))


def test_a_regular_event_silent_for_ten_days_is_dead_listed_and_alertable(db, owner, pg_scan, plan):
    cfg = steps.load_config(db, pg_scan["id"])
    ev = {k: v["id"] for k, v in plan["events"].items()}
    until = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = until - timedelta(days=30)
    hours = 30 * 24
    rng = np.random.default_rng(1)
    home = rng.poisson(20, hours)
    home[-10 * 24:] = 0  # silent for the last ten days
    night = (np.arange(hours) % 24) < 6
    search = np.where(night, 0, rng.poisson(8, hours))  # quiet every night: usual gap 7 h, never dead
    _series(db, cfg, "project_total", None, start, home + search + 5)
    _series(db, cfg, "event", ev["home"], start, home)
    _series(db, cfg, "event", ev["search"], start, search)
    db.execute(text("UPDATE events SET last_seen_at = :t WHERE id = CAST(:i AS uuid)"),
               {"t": until - timedelta(days=10), "i": ev["home"]})
    db.execute(text("UPDATE events SET last_seen_at = :t WHERE id = CAST(:i AS uuid)"),
               {"t": until, "i": ev["search"]})
    db.commit()

    assert deadness.detect_dead_events(db, cfg, until)["dead_events"] == 1
    db.commit()
    dead = rows(db, "dead_events")
    assert [str(e) for e in dead["event_id"]] == [ev["home"]] and dead["status"].tolist() == ["open"]
    assert pd.Timestamp(dead["last_seen_at"].iloc[0]) == pd.Timestamp(until - timedelta(days=10))

    listed = owner.get(f"{BASE}/reconciliation/dead-events").json()  # default days=30: the 10-day silence shows anyway
    assert ev["home"] in [i["event_id"] for i in listed["items"]], listed
    assert ev["search"] not in [i["event_id"] for i in listed["items"]]

    found = candidates.load(db, [uuid.UUID(pg_scan["project_id"])], until - timedelta(days=1))
    dead_c = [c for c in found if c.kind == "dead_event"]
    assert len(dead_c) == 1 and dead_c[0].event_name == "home" and dead_c[0].direction == "drop"
    rule = types.SimpleNamespace(**DEFAULTS)
    assert matching.matches(rule, dead_c[0])
    assert not matching.matches(types.SimpleNamespace(**{**DEFAULTS, "include_events": False}), dead_c[0])

    # it sends again: the death is over
    _series(db, cfg, "event", ev["home"], until, np.array([20]))
    _series(db, cfg, "project_total", None, until, np.array([40]))
    db.commit()
    assert deadness.detect_dead_events(db, cfg, until + HOUR)["dead_events"] == 0
    db.commit()
    assert rows(db, "dead_events")["status"].tolist() == ["closed"]


def test_deadness_is_judged_when_the_replay_finishes_after_todays_run_and_never_over_unscanned_days(
        db, pg_scan, plan):
    """Under Dagster today's scheduled run can finish before the replay of the days before it. The dead event must
    be found once the history is in (before: only the newest day judged, so it never was), and days not scanned
    yet are unknown, not silence (no dead event while the replay is half done)."""
    cfg = steps.load_config(db, pg_scan["id"])
    ev = {k: v["id"] for k, v in plan["events"].items()}
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=20)
    rng = np.random.default_rng(2)
    home = rng.poisson(20, 21 * 24)
    home[-8 * 24:] = 0  # silent for the last eight days
    other = rng.poisson(30, 21 * 24)

    def scan(first_hour: int, hours: int) -> None:  # what a scan of those hours stores
        at = start + first_hour * HOUR
        _series(db, cfg, "project_total", None, at, home[first_hour:first_hour + hours] +
                other[first_hour:first_hour + hours])
        _series(db, cfg, "event", ev["home"], at, home[first_hour:first_hour + hours])
        db.commit()

    scan(20 * 24, 24)  # today's run first: no history yet
    assert deadness.detect_dead_events(db, cfg, today + timedelta(days=1))["dead_events"] == 0
    scan(0, 7 * 24)  # the replay's first chunk: days 7..19 are not scanned yet, so the silence is not known
    assert deadness.detect_dead_events(db, cfg, start + timedelta(days=7))["dead_events"] == 0
    scan(7 * 24, 13 * 24)  # the replay's last chunk (a day before today): now the silence is observed
    assert deadness.detect_dead_events(db, cfg, today)["dead_events"] == 1
    db.commit()
    assert [str(e) for e in rows(db, "dead_events")["event_id"]] == [ev["home"]]
