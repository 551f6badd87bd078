"""The chart's geometry on hand-made series (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tripl_core.console.chart import volume_chart

T0 = datetime(2026, 3, 2, tzinfo=UTC)
STEP = timedelta(minutes=15)


def _data(n: int = 8, spike: int = 5) -> list[dict]:
    return [{"bucket": T0 + i * STEP, "count": 900 if i == spike else 100, "expected": 100.0, "lower": 80.0,
             "upper": 120.0, "z": 12.0 if i == spike else 0.1, "is_anomaly": i == spike,
             "direction": "spike" if i == spike else None} for i in range(n)]


def test_band_line_and_one_marker_per_anomalous_bucket():
    c = volume_chart(_data())
    assert not c.empty and c.points == 8 and len(c.bands) == 1 and c.anomalies == 1
    assert c.markers[0].direction == "spike" and "z 12.0" in c.markers[0].title
    assert len(c.line.split()) == 8


def test_stored_bands_ahead_with_iso_buckets():
    """A signal's forecast and metric_forecasts are JSON: ISO strings, not datetimes (a 500 on the demo)."""
    ahead = [{"bucket": (T0 + (8 + i) * STEP).isoformat().replace("+00:00", "Z"), "expected": 100.0,
              "lower": 80.0, "upper": 120.0} for i in range(4)]
    far = [{"bucket": (T0 + timedelta(days=300)).isoformat(), "expected": 1.0, "lower": 0.0, "upper": 2.0}]
    c = volume_chart(_data(), ahead + far)
    assert c.forecast_band and len(c.forecast_line.split()) == 4  # the far one is not stretched onto the axis


def test_gaps_split_the_band_and_an_empty_window_says_so():
    data = _data()
    data[3]["lower"] = data[3]["upper"] = None
    assert len(volume_chart(data).bands) == 2
    empty = [{**p, "count": 0, "expected": None, "is_anomaly": False} for p in _data()]
    assert volume_chart(empty).empty and volume_chart([]).empty


def test_a_band_far_wider_than_the_counts_is_clipped_not_the_axis():
    data = _data()
    data[0]["upper"] = 25_000.0  # early buckets: little history, a huge band
    c = volume_chart(data)
    assert c.y_ticks[-1][1] == "2.5k"  # 900 × 2.5 → 2.5k, not 25k
