"""Apply Scan Event Groups: create plan events (main branch, status draft) for observed groups with no event.

A group is a grouped event name (after event_group_rules) of a known event type, seen by this scan config and
matching no plan event. Created through the plan service, so validation, ordering and the audit log apply.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.db.models.projects import Project
from tripl_core.db.models.sources import ScanConfig
from tripl_core.plan import events as plan_events
from tripl_core.plan.branching import main_branch
from tripl_core.plan.common import PlanScope
from tripl_core.scanning.planmap import PlanIndex, map_pairs

MAX_NEW_EVENTS = 1000


def observed_groups(db: Session, cfg: ScanConfig) -> pd.DataFrame:
    """Unmatched groups of a known type: event_type_id, name, count (largest first)."""
    pairs = pd.read_sql_query(
        text("SELECT event_type_value AS event_type, event_name, SUM(count) AS count FROM observed_names "
             "WHERE scan_config_id = :c AND event_id IS NULL AND event_name IS NOT NULL AND event_name <> '' "
             "GROUP BY 1, 2"), db.connection(), params={"c": cfg.id})
    if pairs.empty:
        return pd.DataFrame(columns=["event_type_id", "name", "count"])
    mapped = map_pairs(pairs, PlanIndex.load(db, cfg.project_id), cfg).merge(
        pairs, on=["event_type", "event_name"], how="left")
    todo = mapped[mapped["event_id"].isna() & mapped["event_type_id"].notna()
                  & mapped["grouped_name"].astype("string").str.strip().fillna("").ne("")]
    out = (todo.groupby(["event_type_id", "grouped_name"])["count"].sum().reset_index()
           .rename(columns={"grouped_name": "name"}).sort_values("count", ascending=False))
    return out.head(MAX_NEW_EVENTS)


def _required_values(plan: PlanIndex, type_id: Any) -> list[dict[str, Any]]:
    """Placeholder values for required fields (the plan demands them): the first enum option, `false`, or a
    `{field}` variable placeholder that the user replaces when reviewing the draft event."""
    out = []
    for fd in plan.fields.get(type_id, []):
        if not fd.is_required:
            continue
        kind = fd.field_type.value
        value: Any = (fd.enum_options or [""])[0] if kind == "enum" else False if kind == "boolean" \
            else "{" + fd.name + "}"
        out.append({"field_name": fd.name, "value": value})
    return out


def apply_event_groups(db: Session, cfg: ScanConfig, actor: audit.Actor | None) -> dict[str, Any]:
    groups = observed_groups(db, cfg)
    if groups.empty:
        return {"events_created": 0}
    project = db.get(Project, cfg.project_id)
    scope = PlanScope(project, main_branch(db, project))
    plan = PlanIndex.load(db, cfg.project_id)
    items = [{"event_type_id": t, "name": str(n)[:500], "description": "Created from observed scan groups.",
              "field_values": _required_values(plan, t)}
             for t, n in zip(groups["event_type_id"], groups["name"], strict=True)]
    created = plan_events.create_many(db, actor, scope, items, bulk=True, commit=True)
    return {"events_created": len(created), "event_names": [e.name for e in created][:100]}
