"""Incidents: the findings a person should hear about as one thing.

- Volume: signals in the same direction whose times overlap (each stretched by one bucket) on related scopes —
  an event, its event type, other events of that type, and the project total — are one incident. A drop of
  `purchase.checkout_completed` shows on its event type and on the total too; that is one outage, not three.
- Schema drifts and contract breaches of one event type found by the same scan run are one incident.
- Distribution drifts and release regressions stand alone.
- A volume drop on an event that has an open dead-event finding, during its silence, belongs to the dead-event
  incident (listed under it, never sent on its own): the detector flags the dead event's empty hours as drops
  until it learns the new level, and that is the same outage the dead-event finding already tells. Such a drop
  stays out of the volume sweep, so the dead event does not pull in unrelated drops of its event type.
- A volume drop of an event that a release regression (direction drop) says the new release lost, starting at
  most the regression's window (14 days) before it was found, belongs to the regression's incident the same way:
  as the release rolls out the event's volume falls, and the release is the cause the person needs to read first.

The incident's first member (its primary) is the most specific scope with the largest |z|; the others are listed
under it. Grouping is a sweep over the findings sorted by start, so it stays linear-ish for thousands of signals.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tripl_core.alerting.candidates import Candidate
from tripl_core.alerting.content import interval_delta
from tripl_core.detection.releases import RELEASE_WINDOW_DAYS

_SPECIFIC = {"event": 0, "event_type": 1, "project_total": 2}
_CAUSES = ("dead_event", "release_regression")  # findings that explain an event's volume drop, and lead it
REGRESSION_WINDOW = timedelta(days=RELEASE_WINDOW_DAYS)  # what a release-regression finding compares


@dataclass
class Incident:
    members: list[Candidate]

    @property
    def primary(self) -> Candidate:
        return self.members[0]

    @property
    def start(self) -> datetime:
        return min(c.at for c in self.members)

    @property
    def latest(self) -> datetime:
        return max(c.latest for c in self.members)


def _end(c: Candidate) -> datetime:
    return c.latest + interval_delta(c.scan_interval)


def _order(c: Candidate) -> tuple[int, int, float, str]:
    # a dead event leads the drops of its silence (and keeps the incident from reading as "ended" when they close)
    return (_SPECIFIC.get(c.scope_type, 3), c.kind not in _CAUSES, -(c.abs_z or 0.0), c.key)


def _silences(cands: list[Candidate]) -> dict[tuple[uuid.UUID, uuid.UUID], tuple[datetime, str]]:
    """(project, event) → (last seen, key) of each open dead-event finding."""
    out: dict[tuple[uuid.UUID, uuid.UUID], tuple[datetime, str]] = {}
    for c in cands:
        if c.kind == "dead_event" and c.scope_ref is not None and c.extra.get("last_seen_at"):
            out[(c.project_id, c.scope_ref)] = (datetime.fromisoformat(c.extra["last_seen_at"]), c.key)
    return out


def _lost(cands: list[Candidate]) -> dict[tuple[uuid.UUID, uuid.UUID], tuple[datetime, str]]:
    """(project, event) → (found at, key) of each release regression that lost volume of the event."""
    return {(c.project_id, c.scope_ref): (c.at, c.key) for c in cands
            if c.kind == "release_regression" and c.direction == "drop" and c.scope_type == "event"
            and c.scope_ref is not None}


def _cause_of(c: Candidate, silences: dict[tuple[uuid.UUID, uuid.UUID], tuple[datetime, str]],
              lost: dict[tuple[uuid.UUID, uuid.UUID], tuple[datetime, str]]) -> str | None:
    """The finding a volume drop of an event belongs to: the event's dead-event finding when the drop overlaps its
    silence, else a release regression that lost the event, when the drop falls in or after its window."""
    if c.kind != "volume" or c.direction != "drop" or c.scope_type != "event" or c.scope_ref is None:
        return None
    hit = silences.get((c.project_id, c.scope_ref))
    if hit is not None and _end(c) > hit[0]:
        return hit[1]
    reg = lost.get((c.project_id, c.scope_ref))
    return reg[1] if reg is not None and c.at >= reg[0] - REGRESSION_WINDOW else None


class _Sets:
    def __init__(self, keys: list[str]) -> None:
        self.parent = {k: k for k in keys}

    def find(self, k: str) -> str:
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def group(cands: list[Candidate], scan_run: Callable[[Candidate], Hashable] | None = None) -> list[Incident]:
    """Split candidates into incidents, oldest first. `scan_run` tells which scan run wrote a finding."""
    sets = _Sets([c.key for c in cands])
    silences, lost = _silences(cands), _lost(cands)
    swept = []
    for c in cands:
        if c.kind != "volume":
            continue
        cause = _cause_of(c, silences, lost)
        if cause is None:
            swept.append(c)
        else:
            sets.union(cause, c.key)
    # Sweep by start time. Findings of one anchor (project × direction × event type, or × project total) that are
    # still open when a finding starts all overlap one another, so they are already one set: joining the one that
    # ends last (if it is still open) joins them all. An event's finding meets its event type's anchor and the
    # total's; a total meets every anchor of its direction. O(n log n), not a pairwise comparison.
    latest_end: dict[tuple[uuid.UUID, str, Hashable], tuple[datetime, str]] = {}
    for c in sorted(swept, key=lambda c: (c.at, c.key)):
        direction = c.direction or ""
        if c.scope_type == "project_total":
            own: Hashable = "total"
            pools = [k for k in latest_end if k[0] == c.project_id and k[1] == direction]
        else:
            own = c.event_type_id
            pools = [(c.project_id, direction, "total")]
            if c.event_type_id is not None:
                pools.append((c.project_id, direction, c.event_type_id))
        for anchor in pools:
            end_key = latest_end.get(anchor)
            if end_key is not None and end_key[0] >= c.at:
                sets.union(end_key[1], c.key)
        end = _end(c)
        mine = (c.project_id, direction, own)
        if mine not in latest_end or latest_end[mine][0] < end:
            latest_end[mine] = (end, c.key)
    by_run: dict[tuple[uuid.UUID, uuid.UUID | None, Hashable], str] = {}
    for c in cands:
        if c.kind in ("schema_drift", "contract") and c.event_type_id is not None:
            key = (c.project_id, c.event_type_id, scan_run(c) if scan_run else c.scan_config_id)
            if key in by_run:
                sets.union(by_run[key], c.key)
            else:
                by_run[key] = c.key
    members: dict[str, list[Candidate]] = {}
    for c in cands:
        members.setdefault(sets.find(c.key), []).append(c)
    out = [Incident(sorted(ms, key=_order)) for ms in members.values()]
    out.sort(key=lambda i: (i.start, i.primary.key))
    return out


def restrict(incidents: list[Incident], keep: set[str]) -> list[Incident]:
    """The incidents as one rule sees them: only the findings it matches (incidents are facts about findings,
    formed once per dispatch cycle; a rule that leaves out the project total still gets the event's drop)."""
    out = []
    for inc in incidents:
        members = [c for c in inc.members if c.key in keep]
        if members:
            out.append(Incident(members))
    return out
