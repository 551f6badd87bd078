"""Does a rule want a finding? Pure checks shared by dispatch, monitors and simulation.

Order: kind included → scope type included (volume) → direction wanted → thresholds → filters.
Thresholds apply to findings with a count and an expectation (volume, release regressions):
`|actual − expected| ≥ min_absolute_delta`, `|actual − expected| / expected × 100 ≥ min_percent_delta`
(an expectation of 0 counts as an infinite change), `expected ≥ min_expected_count`.
"""

from __future__ import annotations

import math
from typing import Any

from tripl_core.alerting import filters as rule_filters
from tripl_core.alerting.candidates import Candidate

KIND_FLAGS = {
    "schema_drift": "include_schema_drifts",
    "contract": "include_schema_drifts",
    "distribution_drift": "include_distribution_drifts",
    "release_regression": "include_release_regressions",
}
SCOPE_FLAGS = {"project_total": "include_project_total", "event_type": "include_event_types",
               "event": "include_events"}


def in_scope(rule: Any, cand: Candidate) -> bool:
    """Kind, scope type and filters: the findings a monitor watches, whatever their size."""
    if cand.kind in ("volume", "dead_event"):  # a dead event is the event's volume gone: include_events
        if not getattr(rule, SCOPE_FLAGS[cand.scope_type]):
            return False
    elif not getattr(rule, KIND_FLAGS[cand.kind]):
        return False
    return rule_filters.passes(rule.filters or [], cand.subject)


def passes_thresholds(rule: Any, cand: Candidate) -> bool:
    if cand.direction == "spike" and not rule.notify_on_spike:
        return False
    if cand.direction == "drop" and not rule.notify_on_drop:
        return False
    if cand.kind not in ("volume", "release_regression") or cand.actual is None or cand.expected is None:
        return True
    delta = abs(cand.actual - cand.expected)
    if delta < rule.min_absolute_delta:
        return False
    pct = delta / cand.expected * 100.0 if cand.expected > 0 else (math.inf if delta > 0 else 0.0)
    if pct < rule.min_percent_delta:
        return False
    return cand.expected >= rule.min_expected_count


def matches(rule: Any, cand: Candidate) -> bool:
    return in_scope(rule, cand) and passes_thresholds(rule, cand)
