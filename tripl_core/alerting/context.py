"""The template context of an alert: what `message_template` and `items_template` may use.

Everything is plain JSON data (dicts, lists, strings, numbers, None), so the same context is the webhook payload,
is stored in the delivery's payload_snapshot and cannot expose Python objects to the sandbox. See docs/alerting.md
for the documented fields; `sample_context()` is the context templates are validated against.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

ITEM_KINDS = ("volume", "schema_drift", "distribution_drift", "release_regression", "contract", "dead_event")
SCOPE_TYPES = ("project_total", "event_type", "event")


@dataclass(frozen=True)
class AlertItem:
    """One finding in an alert (volume anomaly, drift, regression or contract breach)."""

    kind: str = "volume"
    scope_type: str = "project_total"
    scope_ref: str | None = None
    scope_name: str | None = None
    event_type: str | None = None
    event: str | None = None
    bucket: datetime | str | None = None
    actual: float | None = None
    expected: float | None = None
    expected_low: float | None = None
    expected_high: float | None = None
    direction: str | None = None  # spike | drop (volume); None for other kinds
    z: float | None = None
    severity: str | None = None
    summary: str | None = None  # one line for non-volume findings, e.g. "price: integer → string"
    link: str | None = None
    finding_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # The other findings of the same incident (an event's drop with its event type's and the project total's;
    # the other drifts of one event type in one scan), each with the fields of an item. Listed in the message
    # under the item; empty for a finding alone.
    related: list[dict[str, Any]] = field(default_factory=list)
    related_more: int = 0  # related findings beyond those listed (an outage on many events)


def _iso(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _label(value: datetime | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _finite(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else x


def item_dict(item: AlertItem | Mapping[str, Any]) -> dict[str, Any]:
    """The template view of one item, with derived fields: delta, delta_percent, arrow, scope_label."""
    raw = dict(item) if isinstance(item, Mapping) else asdict(item)
    data = {**asdict(AlertItem()), **raw}
    actual, expected = _finite(data.get("actual")), _finite(data.get("expected"))
    delta = actual - expected if actual is not None and expected is not None else None
    pct = data.get("delta_percent")
    if pct is None and delta is not None and expected:
        pct = delta / expected * 100.0
    direction = data.get("direction")
    if direction is None and delta and data.get("kind") == "volume":
        direction = "spike" if delta > 0 else "drop"
    name = data.get("scope_name") or data.get("event") or data.get("event_type")
    scope_label = {
        "project_total": "project total",
        "event_type": f"event type {name}" if name else "event type",
        "event": f"event {name}" if name else "event",
    }.get(data["scope_type"], name or data["scope_type"])
    data.update(
        actual=actual, expected=expected, delta=delta, delta_percent=_finite(pct), direction=direction,
        z=_finite(data.get("z")), bucket=_iso(data.get("bucket")), bucket_label=_label(data.get("bucket")),
        scope_name=name, scope_label=scope_label,
        # Arrows are for volume only: a drift or a regression has no "up" a person should read into it.
        arrow={"spike": "↑", "drop": "↓"}.get(direction or "", "•") if data.get("kind") == "volume" else "•",
    )
    return data


def build_context(
    *,
    rule: Mapping[str, Any],
    project: Mapping[str, Any],
    items: Sequence[AlertItem | Mapping[str, Any]],
    scan: Mapping[str, Any] | None = None,
    destination: Mapping[str, Any] | None = None,
    links: Mapping[str, Any] | None = None,
    explanation: str | None = None,
    now: datetime | None = None,
    status: str = "firing",
) -> dict[str, Any]:
    """Assemble the documented context from the dispatcher's rows (already converted to plain mappings)."""
    views = [item_dict(i) for i in items]
    kinds: dict[str, int] = {}
    for v in views:
        kinds[v["kind"]] = kinds.get(v["kind"], 0) + 1
    scan_d = dict(scan or {})
    for key in ("bucket_from", "bucket_to"):
        if key in scan_d:
            scan_d[key] = _iso(scan_d[key])
    return {
        "rule": {"id": None, "name": "", "message_format": "plain", "cooldown_minutes": None, **dict(rule)},
        "project": {"id": None, "slug": "", "name": "", **dict(project)},
        "scan": {"id": None, "name": None, "job_id": None, "interval": None, **scan_d},
        "destination": {"id": None, "name": None, "type": None, **dict(destination or {})},
        "items": views,
        "counts": {
            "total": len(views),
            "spikes": sum(1 for v in views if v["direction"] == "spike"),
            "drops": sum(1 for v in views if v["direction"] == "drop"),
            "by_kind": kinds,
        },
        "links": {"project": None, "inbox": None, "delivery": None, **dict(links or {})},
        "explanation": explanation,
        "generated_at": _iso(now or datetime.now(UTC)),
        "status": status,  # firing | resolved (the incidents listed have ended)
    }


def sample_context() -> dict[str, Any]:
    """A representative context: templates are test-rendered against it when a rule is saved."""
    return build_context(
        rule={"id": "00000000-0000-0000-0000-000000000001", "name": "Checkout volume",
              "message_format": "plain", "cooldown_minutes": 1440},
        project={"id": "00000000-0000-0000-0000-000000000002", "slug": "shop-app", "name": "Shop App"},
        scan={"id": "00000000-0000-0000-0000-000000000003", "name": "Hourly events", "job_id": None,
              "interval": "1h", "bucket_from": "2026-01-01T10:00:00Z", "bucket_to": "2026-01-01T11:00:00Z"},
        destination={"id": "00000000-0000-0000-0000-000000000004", "name": "#analytics", "type": "slack"},
        items=[
            AlertItem(kind="volume", scope_type="event", scope_ref="00000000-0000-0000-0000-000000000005",
                      scope_name="checkout.purchase", event_type="checkout", event="checkout.purchase",
                      bucket="2026-01-01T10:00:00Z", actual=120.0, expected=480.0, expected_low=400.0,
                      expected_high=560.0, z=-6.2, severity="critical", link="https://tripl.example/a/1",
                      summary="checkout.purchase 120 vs ~480 expected, 2026-01-01 10:00–11:00 UTC, −75 %",
                      related=[{"kind": "volume", "scope_type": "project_total", "scope_name": "project total",
                                "summary": "project total 900 vs ~1,300 expected, 2026-01-01 10:00–11:00 UTC, "
                                           "−31 %", "link": "https://tripl.example/a/2", "finding_id": None,
                                "actual": 900.0, "expected": 1300.0}]),
            AlertItem(kind="schema_drift", scope_type="event_type", scope_name="checkout",
                      event_type="checkout", bucket="2026-01-01T10:00:00Z", severity="warning",
                      summary="type of `price` in checkout: string, declared integer", link="https://tripl.example/a/3"),
        ],
        links={"project": "https://tripl.example/p/shop-app", "inbox": "https://tripl.example/p/shop-app/inbox",
               "delivery": "https://tripl.example/p/shop-app/deliveries/1"},
        explanation="Checkout volume dropped after release 4.2.0.",
        now=datetime(2026, 1, 1, 11, 5, tzinfo=UTC),
    )
