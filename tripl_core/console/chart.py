"""Geometry of the console's volume chart, drawn as server-side SVG (no JavaScript, nothing to fetch).

The chart shows what an on-call person needs to judge an alert: the observed count per bucket (a line), the
band the detector expected (`lower`..`upper`, a shaded polygon; gaps where a bucket has no band), every bucket it
judged anomalous (a marker, red for spikes, orange for drops), the band ahead (`forecast`, dashed) and the
incident's span when the chart is about one finding. Coordinates are computed here; the template only writes
them out (Jinja autoescapes every attribute), so no markup is built from strings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

WIDTH, HEIGHT = 900, 260
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 56, 12, 12, 28


@dataclass
class Marker:
    x: float
    y: float
    direction: str
    title: str


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    line: str = ""  # polyline points of the counts
    bands: list[str] = field(default_factory=list)  # polygons of the expected band (one per run of buckets)
    expected: str = ""  # polyline of the expected values
    forecast_band: str = ""
    forecast_line: str = ""
    markers: list[Marker] = field(default_factory=list)
    highlight: tuple[float, float] | None = None  # x0, x1 of the incident
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    empty: bool = True
    points: int = 0
    anomalies: int = 0


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        if value <= m * exp:
            return m * exp
    return 10 * exp


def _fmt(v: float) -> str:
    if v >= 1_000_000:
        return f"{v / 1_000_000:g}M"
    if v >= 1000:
        return f"{v / 1000:g}k"
    return f"{v:g}"


def _ts(value: datetime | str) -> datetime:
    """Stored bands (a signal's forecast, metric_forecasts) are JSON: their buckets are ISO strings."""
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


def _pts(pairs: list[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in pairs)


def volume_chart(data: list[dict[str, Any]], forecast: list[dict[str, Any]] | None = None,
                 since: datetime | None = None, until: datetime | None = None) -> Chart:
    """`data`: series points (bucket, count, expected, lower, upper, is_anomaly, direction, z)."""
    chart = Chart(points=len(data))
    if not any(p["count"] or p.get("expected") is not None for p in data):
        return chart  # nothing stored in this window: the page says so instead of drawing a flat line
    # The band ahead only when it continues the window (a window that ends long before it would stretch the
    # time axis over the months between).
    last = data[-1]["bucket"]
    step = (data[-1]["bucket"] - data[0]["bucket"]) / max(len(data) - 1, 1)
    ahead = [{**p, "bucket": _ts(p["bucket"])} for p in forecast or []]
    forecast = [p for p in ahead if last < p["bucket"] <= last + step * max(len(data) // 3, 4)]
    chart.empty = False
    times = [p["bucket"] for p in data] + [p["bucket"] for p in forecast]
    t0, t1 = min(times).timestamp(), max(times).timestamp()
    span = max(t1 - t0, 1.0)
    counts = [p["count"] for p in data]
    bands = [v for p in [*data, *forecast] for v in (p.get("upper"), p.get("expected")) if v is not None]
    # The axis follows the counts; a band far wider than anything observed (little history yet) is clipped at
    # 2.5× the largest count rather than flattening the observed line at the bottom.
    cap = max(counts) * 2.5 if max(counts) > 0 else float("inf")
    top = _nice_max(max([*counts, *(min(v, cap) for v in bands)], default=1.0))
    iw, ih = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(ts: datetime) -> float:
        return PAD_LEFT + (ts.timestamp() - t0) / span * iw

    def y(v: float) -> float:
        return PAD_TOP + ih - max(0.0, min(v, top)) / top * ih

    chart.line = _pts([(x(p["bucket"]), y(p["count"])) for p in data])
    chart.expected = _pts([(x(p["bucket"]), y(p["expected"])) for p in data if p.get("expected") is not None])
    run: list[dict[str, Any]] = []
    for p in [*data, None]:
        if p is not None and p.get("lower") is not None and p.get("upper") is not None:
            run.append(p)
            continue
        if len(run) >= 1:
            upper = [(x(q["bucket"]), y(q["upper"])) for q in run]
            lower = [(x(q["bucket"]), y(q["lower"])) for q in reversed(run)]
            if len(run) == 1:  # a lone bucket: a thin vertical bar
                upper.append((upper[0][0] + 2, upper[0][1]))
                lower.insert(0, (lower[0][0] + 2, lower[0][1]))
            chart.bands.append(_pts(upper + lower))
        run = []
    fc = [p for p in forecast if p.get("lower") is not None and p.get("upper") is not None]
    if fc:
        chart.forecast_band = _pts([(x(p["bucket"]), y(p["upper"])) for p in fc]
                                   + [(x(p["bucket"]), y(p["lower"])) for p in reversed(fc)])
        chart.forecast_line = _pts([(x(p["bucket"]), y(p["expected"])) for p in fc if p.get("expected") is not None])
    for p in data:
        if p.get("is_anomaly"):
            z = p.get("z")
            ztxt = f", z {z:.1f}" if isinstance(z, int | float) else ""
            chart.markers.append(Marker(x(p["bucket"]), y(p["count"]), p.get("direction") or "spike",
                                        f"{p['bucket']:%Y-%m-%d %H:%M} UTC: {p['count']}{ztxt}"))
    chart.anomalies = len(chart.markers)
    if since is not None:
        end = until or since
        x0, x1 = x(max(since, min(times))), x(min(end, max(times)))
        if x1 >= x0:
            chart.highlight = (x0 - 3, max(x1 - x0, 0) + 6)
    chart.y_ticks = [(y(top * f), _fmt(top * f)) for f in (0, 0.25, 0.5, 0.75, 1.0)]
    n = 6
    chart.x_ticks = [(PAD_LEFT + iw * i / n,
                      datetime.fromtimestamp(t0 + span * i / n, min(times).tzinfo).strftime("%m-%d %H:%M"))
                     for i in range(n + 1)]
    return chart
