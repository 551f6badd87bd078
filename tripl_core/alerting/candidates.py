"""Findings as alert candidates: one `Candidate` per finding occurrence, whatever table it comes from.

The `key` is what makes delivery effectively-once: findings have deterministic ids (replays update the same
row), and a schema drift that was resolved and came back is a new occurrence (`:r<reopened_count>`).
`scope_key` is the scope plus, for drifts, the field; `incident_key` adds the direction: cooldowns are per rule ×
incident key. `summary` is the finding's one-line description (tripl_core/alerting/content.py), never empty.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from tripl_core.alerting import content
from tripl_core.alerting.context import AlertItem
from tripl_core.alerting.filters import Subject
from tripl_core.db.models.dead_events import DeadEvent
from tripl_core.db.models.findings import (
    AnomalySignal,
    DistributionDrift,
    DriftStatus,
    ReleaseRegression,
    SchemaDrift,
)
from tripl_core.db.models.metrics import MetricPoint
from tripl_core.db.models.plan import Event, EventTag, EventType
from tripl_core.db.models.sources import ScanConfig

CONTRACT_DRIFTS = {"null_rate_breach", "bad_rate_breach"}


@dataclass
class Candidate:
    kind: str  # volume | schema_drift | contract | distribution_drift | release_regression | dead_event
    finding_id: uuid.UUID
    key: str
    project_id: uuid.UUID
    scan_config_id: uuid.UUID | None
    scope_type: str
    scope_ref: uuid.UUID | None
    scope_key: str
    at: datetime  # when the finding began (first anomalous bucket, first seen, window start)
    latest: datetime  # its newest evidence (latest bucket, last seen, window end)
    written_at: datetime  # when a scan wrote it (to find the scan run that produced it)
    direction: str | None = None
    actual: float | None = None
    expected: float | None = None
    lower: float | None = None
    upper: float | None = None
    z: float | None = None
    summary: str | None = None
    event_type_id: uuid.UUID | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    subject: Subject = field(default_factory=Subject)
    scope_name: str | None = None
    event_type_name: str | None = None
    event_name: str | None = None
    scan_name: str | None = None
    scan_interval: str | None = None
    learning: bool = False  # scored before its series had the history its model needs: never alerts

    @property
    def closed(self) -> bool:
        """A volume incident that ended (a later bucket was normal again)."""
        return self.kind == "volume" and self.extra.get("status") == "closed"

    @property
    def incident_key(self) -> str:
        """Rule × this key is what a cooldown holds back: one scope (and field) in one direction."""
        return self.pattern_key

    @property
    def abs_z(self) -> float | None:
        return abs(self.z) if self.z is not None else None

    @property
    def pattern_key(self) -> str:
        """Scope × kind × direction: what inbox false positives teach dispatch to ignore."""
        return f"{self.scope_key}|{self.direction or ''}"

    def item(self, link: str | None = None) -> AlertItem:
        severity = None
        if self.z is not None:
            severity = "critical" if abs(self.z) >= 8 else "warning"
        elif self.kind in ("schema_drift", "contract"):
            severity = "warning"
        return AlertItem(
            kind=self.kind, scope_type=self.scope_type, scope_ref=str(self.scope_ref) if self.scope_ref else None,
            scope_name=self.scope_name, event_type=self.event_type_name, event=self.event_name,
            bucket=self.latest if self.kind == "volume" else self.at, actual=self.actual, expected=self.expected,
            expected_low=self.lower, expected_high=self.upper, direction=self.direction, z=self.z,
            severity=severity, summary=self.summary, link=link, finding_id=str(self.finding_id),
            extra={k: _json_safe(v) for k, v in self.extra.items()},
        )


def _json_safe(value: Any) -> Any:
    """NaN/inf are not JSON (PostgreSQL refuses them in JSONB): they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _written(row: Any) -> datetime:
    return max(row.created_at, row.updated_at)


def _scope_key(kind: str, scope_type: str, scope_ref: uuid.UUID | None, *detail: str) -> str:
    return "|".join([kind, scope_type, str(scope_ref or ""), *detail])


def _learning(row: Any) -> bool:
    """Series still learning their history are marked by the scan (a `learning` status or flag)."""
    status = getattr(getattr(row, "status", None), "value", getattr(row, "status", None))
    return status == "learning" or bool(getattr(row, "learning", False))


def _signals(rows: Iterable[AnomalySignal]) -> list[Candidate]:
    return [Candidate(
        kind="volume", finding_id=r.id, key=f"volume:{r.id}", project_id=r.project_id,
        scan_config_id=r.scan_config_id, scope_type=r.scope_type.value, scope_ref=r.scope_ref,
        scope_key=_scope_key("volume", r.scope_type.value, r.scope_ref), at=r.since, latest=r.bucket,
        written_at=_written(r), direction=r.direction, actual=r.actual, expected=r.expected, lower=r.lower,
        upper=r.upper, z=r.z, event_type_id=r.event_type_id, learning=_learning(r),
        extra={"status": r.status.value, "since": r.since.isoformat(), "bucket_count": r.bucket_count,
               "peak_z": r.peak_z, "closed_at": r.closed_at.isoformat() if r.closed_at else None},
    ) for r in rows]


def _schema(rows: Iterable[SchemaDrift]) -> list[Candidate]:
    out = []
    for r in rows:
        kind = "contract" if r.drift_type.value in CONTRACT_DRIFTS else "schema_drift"
        out.append(Candidate(
            kind=kind, finding_id=r.id, key=f"{kind}:{r.id}:r{r.reopened_count}", project_id=r.project_id,
            scan_config_id=r.scan_config_id, scope_type="event_type", scope_ref=r.event_type_id,
            scope_key=_scope_key(kind, "event_type", r.event_type_id, r.field_name, r.drift_type.value),
            at=r.detected_at, latest=r.last_seen_at, written_at=_written(r), event_type_id=r.event_type_id,
            extra={"field": r.field_name, "drift_type": r.drift_type.value, "sample_value": r.sample_value,
                   "declared_type": r.declared_type, "observed_type": r.observed_type,
                   **{k: v for k, v in (r.details or {}).items()
                      if k in ("rows", "bad", "rate", "limit", "presence_rate", "values")}},
        ))
    return out


def _distribution(rows: Iterable[DistributionDrift]) -> list[Candidate]:
    return [Candidate(
        kind="distribution_drift", finding_id=r.id, key=f"distribution_drift:{r.id}", project_id=r.project_id,
        scan_config_id=r.scan_config_id, scope_type=r.scope_type.value, scope_ref=r.scope_ref,
        scope_key=_scope_key("distribution_drift", r.scope_type.value, r.scope_ref, r.field),
        at=r.window_start, latest=r.window_end, written_at=_written(r), event_type_id=r.event_type_id,
        extra={"field": r.field, "psi": r.psi, "js_distance": r.js_distance, "chi2_p_value": r.chi2_p_value,
               "current_count": r.current_count, "baseline_count": r.baseline_count},
    ) for r in rows]


def _regressions(rows: Iterable[ReleaseRegression]) -> list[Candidate]:
    return [Candidate(
        kind="release_regression", finding_id=r.id, key=f"release_regression:{r.id}", project_id=r.project_id,
        scan_config_id=r.scan_config_id, scope_type=r.scope_type.value, scope_ref=r.scope_ref,
        scope_key=_scope_key("release_regression", r.scope_type.value, r.scope_ref), at=r.detected_at,
        latest=r.detected_at, written_at=_written(r), direction=r.direction, actual=float(r.release_count),
        expected=r.expected_count, z=r.z, event_type_id=r.event_type_id,
        extra={"app_version": r.app_version, "ratio": r.ratio, "baseline_versions": r.baseline_versions,
               "release_share": r.release_share, "baseline_share": r.baseline_share},
    ) for r in rows]


def _dead(rows: Iterable[DeadEvent]) -> list[Candidate]:
    """A dead event reads like a volume drop of the event to zero (rules' include_events / notify_on_drop);
    dying again after it came back is a new occurrence (its last_seen_at is part of the key)."""
    return [Candidate(
        kind="dead_event", finding_id=r.id, key=f"dead_event:{r.id}:{int(r.last_seen_at.timestamp())}",
        project_id=r.project_id, scan_config_id=r.scan_config_id, scope_type="event", scope_ref=r.event_id,
        scope_key=_scope_key("dead_event", "event", r.event_id), at=r.detected_at, latest=r.observed_until,
        written_at=_written(r), direction="drop", actual=0.0, expected=r.typical_count,
        event_type_id=r.event_type_id,
        summary=(f"silent for {r.silent_seconds / 86400:.1f} d since {r.last_seen_at:%Y-%m-%d %H:%M} UTC "
                 f"(longest gap before: {r.usual_gap_seconds / 3600:.1f} h)"),
        extra={"last_seen_at": r.last_seen_at.isoformat(), "silent_seconds": r.silent_seconds,
               "usual_gap_seconds": r.usual_gap_seconds},
    ) for r in rows]


def load(db: Session, project_ids: list[uuid.UUID], since: datetime, until: datetime | None = None,
         kinds: set[str] | None = None, written_since: datetime | None = None) -> list[Candidate]:
    """Findings of these projects whose newest evidence is in [since, until], with names resolved.

    `written_since` also loads findings a scan wrote since then whatever their evidence's age (a replay of old
    data): dispatch records those as `stale` instead of ignoring them."""
    want = kinds or {"volume", "schema_drift", "distribution_drift", "release_regression", "dead_event"}
    out: list[Candidate] = []

    def window(model: Any, col: Any) -> list[Any]:
        conds = [col <= until] if until is not None else []
        if written_since is None:
            return [col >= since, *conds]
        return [or_(col >= since, model.updated_at >= written_since), *conds]

    if "volume" in want:
        out += _signals(db.scalars(select(AnomalySignal).where(
            AnomalySignal.project_id.in_(project_ids), *window(AnomalySignal, AnomalySignal.bucket))))
    if "schema_drift" in want:
        out += _schema(db.scalars(select(SchemaDrift).where(
            SchemaDrift.project_id.in_(project_ids), SchemaDrift.status == DriftStatus.open,
            *window(SchemaDrift, SchemaDrift.last_seen_at))))
    if "distribution_drift" in want:
        out += _distribution(db.scalars(select(DistributionDrift).where(
            DistributionDrift.project_id.in_(project_ids), DistributionDrift.is_drift.is_(True),
            *window(DistributionDrift, DistributionDrift.window_end))))
    if "release_regression" in want:
        out += _regressions(db.scalars(select(ReleaseRegression).where(
            ReleaseRegression.project_id.in_(project_ids), ReleaseRegression.is_regression.is_(True),
            *window(ReleaseRegression, ReleaseRegression.detected_at))))
    if "dead_event" in want:
        out += _dead(db.scalars(select(DeadEvent).where(
            DeadEvent.project_id.in_(project_ids), DeadEvent.status == "open",
            *window(DeadEvent, DeadEvent.observed_until))))
    _resolve(db, out)
    out.sort(key=lambda c: (c.at, c.key))
    return out


def describe(c: Candidate) -> str:
    """The one-line summary of a finding (see content.py); volume uses the latest bucket until `totals()`."""
    x = c.extra
    if c.kind == "volume":
        where = content.scope_label(c.scope_type, c.event_type_name, c.event_name)
        step = content.interval_delta(c.scan_interval)
        start = c.latest if x.get("bucket_count", 1) > 1 and "range_actual" not in x else c.at
        actual = x.get("range_actual", c.actual)
        expected = x.get("range_expected", c.expected)
        return content.volume(where, actual, expected, _utc(start), _utc(c.latest + step))
    if c.kind in ("schema_drift", "contract"):
        return content.schema(x.get("drift_type", ""), x.get("field") or "?", c.event_type_name, x,
                              x.get("declared_type"), x.get("observed_type"), x.get("sample_value"))
    if c.kind == "distribution_drift":
        where = content.scope_label(c.scope_type, c.event_type_name, c.event_name)
        return content.distribution(x.get("field") or "?", where, _utc(c.at), x.get("psi"), x.get("js_distance"),
                                    int(x.get("current_count") or 0), int(x.get("baseline_count") or 0))
    if c.kind == "release_regression":
        where = content.scope_label(c.scope_type, c.event_type_name, c.event_name)
        return content.regression(x.get("app_version") or "?", where, c.actual or 0.0, c.expected or 0.0,
                                  x.get("release_share") or 0.0, x.get("baseline_share") or 0.0,
                                  list(x.get("baseline_versions") or []))
    where = content.scope_label(c.scope_type, c.event_type_name, c.event_name)
    if c.summary:  # kinds that word their own evidence (dead events): say where first
        return c.summary if c.summary.startswith(where) else f"{where} {c.summary}"
    return f"{c.kind.replace('_', ' ')} on {where}"


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def totals(db: Session, cands: list[Candidate]) -> None:
    """Volume incidents that span several buckets: actual and expected summed over the whole incident from the
    stored metric points, so "38 vs ~410 expected, 14:00–16:00" is about those two hours, not the last one."""
    for c in cands:
        if c.kind != "volume" or c.extra.get("bucket_count", 1) <= 1 or c.scan_config_id is None:
            continue
        scope = MetricPoint.scope_ref.is_(None) if c.scope_ref is None else MetricPoint.scope_ref == c.scope_ref
        actual, expected, n = db.execute(select(
            func.sum(MetricPoint.count), func.sum(MetricPoint.expected), func.count(MetricPoint.expected))
            .where(MetricPoint.scan_config_id == c.scan_config_id, MetricPoint.scope_type == c.scope_type,
                   scope, MetricPoint.bucket >= c.at, MetricPoint.bucket <= c.latest)).one()
        if n:
            c.extra["range_actual"], c.extra["range_expected"] = float(actual or 0), float(expected or 0)
            c.actual, c.expected = c.extra["range_actual"], c.extra["range_expected"]
            c.summary = describe(c)


def _resolve(db: Session, cands: list[Candidate]) -> None:
    """Names, tags, plan status and scan names for messages and filters: one query per kind of thing."""
    if not cands:
        return
    event_ids = {c.scope_ref for c in cands if c.scope_type == "event" and c.scope_ref}
    events = {e.id: e for e in db.scalars(select(Event).where(Event.id.in_(event_ids)))} if event_ids else {}
    type_ids = {c.event_type_id for c in cands if c.event_type_id} | {e.event_type_id for e in events.values()}
    types = dict(db.execute(select(EventType.id, EventType.name).where(EventType.id.in_(type_ids))).all()) \
        if type_ids else {}
    tags: dict[uuid.UUID, set[str]] = {}
    if event_ids:
        for eid, name in db.execute(select(EventTag.event_id, EventTag.name).where(EventTag.event_id.in_(event_ids))):
            tags.setdefault(eid, set()).add(name)
    cfg_ids = {c.scan_config_id for c in cands if c.scan_config_id}
    cfgs = {c.id: c for c in db.scalars(select(ScanConfig).where(ScanConfig.id.in_(cfg_ids)))} if cfg_ids else {}
    for c in cands:
        event = events.get(c.scope_ref) if c.scope_type == "event" else None
        if event is not None:
            c.event_type_id = c.event_type_id or event.event_type_id
            c.event_name = event.name
        c.event_type_name = types.get(c.event_type_id) if c.event_type_id else None
        c.scope_name = (c.event_name if c.scope_type == "event" else
                        c.event_type_name if c.scope_type == "event_type" else "project total")
        cfg = cfgs.get(c.scan_config_id) if c.scan_config_id else None
        if cfg is not None:
            c.scan_name, c.scan_interval = cfg.name, str(getattr(cfg.interval, "value", cfg.interval))
        c.subject = Subject(
            event_type_id=str(c.event_type_id) if c.event_type_id else None, event_type_name=c.event_type_name,
            event_id=str(event.id) if event else None, event_name=c.event_name,
            tags=frozenset(tags.get(event.id, set())) if event else frozenset(),
            status=event.status.value if event else None,
            scan_config_id=str(c.scan_config_id) if c.scan_config_id else None,
        )
        c.summary = describe(c)
