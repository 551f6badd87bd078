"""What an alert says about one finding: what happened, where, how much against what was expected, with units.

One plain line per finding (`Candidate.summary`), escaped later for the message format like any other value:

- volume: `purchase.checkout_completed 38 vs ~410 expected, 2026-01-01 14:00–16:00 UTC, −91 %`
- contract: `null rate 12 % on `country` in purchase, contract ≤ 1 %`
- schema drift: `type of `price` in checkout: string, declared integer (e.g. "12.5")`
- distribution drift: `distribution of `price` in checkout changed on 2026-01-01 (PSI 0.42) vs the 7 days before`
- release regression: `release 4.2.0: purchase 10 vs ~50 expected from 4.1.0's share (1.0 % vs 5.0 %), −80 %`

Arrows belong to volume only (a drift has no direction); every summary is non-empty.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

MINUS = "−"  # U+2212: a real minus sign reads better than a hyphen next to a number


@lru_cache(maxsize=64)
def interval_delta(interval: str | None) -> timedelta:
    """A scan interval such as `1h`, `15m`, `1d` as a timedelta (one hour when unknown)."""
    m = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", interval or "")
    if not m:
        return timedelta(hours=1)
    n, unit = int(m.group(1)), m.group(2)
    return {"m": timedelta(minutes=n), "h": timedelta(hours=n), "d": timedelta(days=n),
            "w": timedelta(weeks=n)}[unit]


def count(value: float | None) -> str:
    """Counts as people read them: `1,234`; a fractional expectation rounds (`~410`)."""
    if value is None or not math.isfinite(value):
        return "?"
    return f"{value:,.0f}"


def percent_change(actual: float | None, expected: float | None) -> str | None:
    """`−91 %`, `+412 %`; None when there is no expectation to compare with."""
    if actual is None or expected is None or not expected or not math.isfinite(expected):
        return None
    pct = (actual - expected) / expected * 100.0
    sign = "+" if pct > 0 else MINUS if pct < 0 else "±"
    return f"{sign}{abs(pct):,.0f} %"


def rate(value: Any) -> str:
    """A rate in [0, 1] as a percentage with sensible precision: `12 %`, `0.4 %`, `100 %`."""
    try:
        pct = float(value) * 100.0
    except (TypeError, ValueError):
        return "?"
    if not math.isfinite(pct):
        return "?"
    if pct == 0 or pct >= 10 or float(pct).is_integer():
        return f"{pct:.0f} %"
    return f"{pct:.1f} %" if pct >= 1 else f"{pct:.2g} %"


def time_range(start: datetime, end: datetime) -> str:
    """`2026-01-01 14:00–16:00 UTC`, or both dates when the range crosses midnight."""
    if start.date() == (end - timedelta(microseconds=1)).date():  # ends at or before the next midnight
        return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M} UTC"
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC"


def scope_label(scope_type: str, event_type: str | None, event: str | None) -> str:
    """Where: `purchase.checkout_completed` (event type.event), `event type purchase`, `project total`."""
    if scope_type == "event":
        if event and event_type:
            return f"{event_type}.{event}"
        return event or "an event"
    if scope_type == "event_type":
        return f"event type {event_type}" if event_type else "an event type"
    return "project total"


def volume(where: str, actual: float | None, expected: float | None, start: datetime, end: datetime) -> str:
    change = percent_change(actual, expected)
    text = f"{where} {count(actual)} vs ~{count(expected)} expected, {time_range(start, end)}"
    return f"{text}, {change}" if change else text


def _in(event_type: str | None) -> str:
    return f" in {event_type}" if event_type else ""


def schema(drift_type: str, field: str, event_type: str | None, details: dict[str, Any],
           declared: str | None, observed: str | None, sample: str | None) -> str:
    """One line per schema drift type and contract breach, with the evidence the scan stored."""
    f = f"`{field}`"
    where = _in(event_type)
    rows = details.get("rows")
    of_rows = f" of {count(rows)} rows" if isinstance(rows, int | float) and rows else ""
    if drift_type == "null_rate_breach":
        return f"null rate {rate(details.get('rate'))} on {f}{where}, contract ≤ {rate(details.get('limit'))}"
    if drift_type == "bad_rate_breach":
        return (f"invalid values {rate(details.get('rate'))} on {f}{where}{of_rows}, "
                f"contract ≤ {rate(details.get('limit'))}")
    if drift_type == "type_mismatch":
        text = f"type of {f}{where}: {observed or '?'}, declared {declared or '?'}"
        return f'{text} (e.g. "{sample[:60]}")' if sample else text
    if drift_type == "new_field":
        presence = details.get("presence_rate", details.get("rate"))
        text = f"new field {f}{where}, not in the plan"
        if presence is not None:
            text += f", present in {rate(presence)}{of_rows}"
        return f"{text} ({observed})" if observed else text
    if drift_type == "missing_required_field":
        return f"required field {f}{where} is missing from every row{of_rows.replace(' of', ' (of', 1)}" + (
            ")" if of_rows else "")
    if drift_type == "enum_value_outside_options":
        values = [str(v) for v in (details.get("values") or [])][:5]
        shown = ", ".join(f'"{v}"' for v in values) if values else (f'"{sample}"' if sample else "?")
        return f"{f}{where} has values outside its options: {shown}"
    return f"{drift_type.replace('_', ' ')} on {f}{where}"


def distribution(field: str, where: str, day: datetime, psi: float | None, js: float | None,
                 current: int, baseline: int) -> str:
    stats = []
    if psi is not None and math.isfinite(psi):
        stats.append(f"PSI {psi:.2f}")
    if js is not None and math.isfinite(js):
        stats.append(f"JS distance {js:.2f}")
    measured = f" ({', '.join(stats)})" if stats else ""
    return (f"distribution of `{field}` in {where} changed on {day:%Y-%m-%d}{measured}: {count(current)} rows "
            f"vs {count(baseline)} in the baseline before")


def regression(version: str, where: str, actual: float, expected: float, share: float, baseline_share: float,
               baseline_versions: list[str]) -> str:
    before = ", ".join(baseline_versions[-3:]) if baseline_versions else "earlier releases"
    change = percent_change(actual, expected)
    text = (f"release {version}: {where} {count(actual)} vs ~{count(expected)} expected from the share in "
            f"{before} ({rate(share)} of its events vs {rate(baseline_share)})")
    return f"{text}, {change}" if change else text
