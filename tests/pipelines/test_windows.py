"""Which buckets a scheduled run (Run Scan, the scheduler) recomputes: `runner.plan_windows` at a given clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from tripl_core.db.models.scans import ScanJob, ScanJobKind
from tripl_core.scanning import runner, steps


def _at(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


@pytest.fixture
def cfg(db, pg_scan):
    db.execute(text("UPDATE scan_configs SET interval = '1h', scan_lookback_hours = 2 WHERE id = :i"),
               {"i": pg_scan["id"]})
    db.commit()
    return steps.load_config(db, uuid.UUID(pg_scan["id"]))


def _windows(db, cfg, now: str, watermark: str | None = None) -> list[tuple[str, str]]:
    if watermark:
        db.execute(text("INSERT INTO scan_states (scan_config_id, watermark, histogram_edges) VALUES (:c, :w, '{}') "
                        "ON CONFLICT (scan_config_id) DO UPDATE SET watermark = excluded.watermark"),
                   {"c": cfg.id, "w": _at(watermark)})
        db.commit()
    job = ScanJob(project_id=cfg.project_id, scan_config_id=cfg.id, kind=ScanJobKind.run)
    return [(s.strftime("%d %H:%M"), e.strftime("%d %H:%M")) for s, e in runner.plan_windows(db, cfg, job, _at(now))]


def test_first_run_covers_the_day_so_far(db, cfg):
    assert _windows(db, cfg, "2026-03-10T15:20:00") == [("10 00:00", "10 15:00")]


def test_first_run_just_after_midnight_takes_yesterday(db, cfg):
    # Today has no complete bucket yet; a first run must not succeed having scanned nothing.
    assert _windows(db, cfg, "2026-03-10T00:10:00") == [("09 00:00", "10 00:00")]


def test_later_runs_start_at_watermark_minus_lookback(db, cfg):
    assert _windows(db, cfg, "2026-03-10T15:20:00", watermark="2026-03-10T14:00:00") == [("10 12:00", "10 15:00")]


def test_lookback_reaches_back_over_midnight(db, cfg):
    got = _windows(db, cfg, "2026-03-10T00:40:00", watermark="2026-03-10T00:00:00")
    assert got == [("09 22:00", "10 00:00")]  # today's first bucket is not complete yet


def test_a_current_watermark_still_recomputes_the_lookback_for_late_rows(db, cfg):
    got = _windows(db, cfg, "2026-03-10T15:20:00", watermark="2026-03-10T15:00:00")
    assert got == [("10 13:00", "10 15:00")]
