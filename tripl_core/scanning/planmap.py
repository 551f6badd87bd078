"""The plan as a scan sees it (main branch), and the vectorised mapping of observed (type, name) pairs onto it.

Mapping rules (docs/concepts.md):
- event type: the raw `event_type_column` value equals an event type's `name`; without that column every row
  belongs to the config's `event_type_id` (if set);
- event name: the raw name (from `event_name_format`) after `event_group_rules`; it names a plan event of the
  row's type, or, when the type is unknown, the only plan event of that name;
- `event_group_rules`: ordered `{"name": target, "match": regex on the raw name, "event_type": raw type value
  (optional)}`; the first rule that fully matches renames the row to `name` (`{0}`/`{1}`… are regex groups).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from tripl_core.db.models.plan import Event, EventType, FieldDefinition
from tripl_core.db.models.plan_extras import Variable
from tripl_core.db.models.projects import Project
from tripl_core.db.models.sources import ScanConfig
from tripl_core.errors import Invalid
from tripl_core.plan.branching import main_branch


@dataclass
class PlanIndex:
    """Main-branch event types, events, fields and variables of one project, as frames for merging."""

    branch_id: uuid.UUID
    types: pd.DataFrame  # event_type_id, type_name
    events: pd.DataFrame  # event_id, event_type_id, event_name
    fields: dict[uuid.UUID, list[FieldDefinition]] = field(default_factory=dict)
    variables: list[Variable] = field(default_factory=list)

    @classmethod
    def load(cls, db: Session, project_id: uuid.UUID) -> PlanIndex:
        project = db.get(Project, project_id)
        branch = main_branch(db, project)
        types = db.execute(select(EventType.id, EventType.name).where(EventType.branch_id == branch.id)).all()
        events = db.execute(select(Event.id, Event.event_type_id, Event.name)
                            .where(Event.branch_id == branch.id)).all()
        fdefs = db.scalars(select(FieldDefinition).where(FieldDefinition.branch_id == branch.id)
                           .order_by(FieldDefinition.order, FieldDefinition.name)).all()
        by_type: dict[uuid.UUID, list[FieldDefinition]] = {}
        for f in fdefs:
            by_type.setdefault(f.event_type_id, []).append(f)
        variables = list(db.scalars(select(Variable).where(Variable.branch_id == branch.id)))
        return cls(branch.id,
                   pd.DataFrame(types, columns=["event_type_id", "type_name"]),
                   pd.DataFrame(events, columns=["event_id", "event_type_id", "event_name"]),
                   by_type, variables)

    def type_name(self, type_id: uuid.UUID | None) -> str | None:
        hit = self.types.loc[self.types["event_type_id"] == type_id, "type_name"]
        return None if hit.empty else str(hit.iloc[0])


def check_group_rules(rules: list[dict[str, Any]]) -> list[tuple[re.Pattern[str], str | None, str]]:
    """Compile rules; 422 naming the rule on a bad regex."""
    out = []
    for i, rule in enumerate(rules or []):
        pattern = rule.get("match") or re.escape(str(rule.get("name", "")))
        try:
            rx = re.compile(str(pattern))
        except re.error as exc:
            raise Invalid(["event_group_rules", i, "match"], f"Not a valid regular expression: {exc}.") from exc
        out.append((rx, rule.get("event_type"), str(rule.get("name") or "{0}")))
    return out


def _expand(rx: re.Pattern[str], target: str, name: str) -> str:
    m = rx.fullmatch(name)
    groups = [name, *(g or "" for g in m.groups())] if m else [name]
    for k, g in enumerate(groups):
        target = target.replace("{" + str(k) + "}", g)
    return target


def apply_group_rules(pairs: pd.DataFrame, rules: list[dict[str, Any]]) -> pd.Series:
    """Grouped event name per row of `pairs` (columns event_type, event_name).

    Runs over distinct aggregated (type, name) pairs — a few thousand at most — never over raw rows.
    """
    names = pairs["event_name"].astype(object)
    out = names.copy()
    done = pd.Series(False, index=pairs.index)
    text = names.astype("string")
    for rx, etype, target in check_group_rules(rules):
        mask = ~done & text.notna() & text.str.fullmatch(rx.pattern).fillna(False).astype(bool)
        if etype is not None:
            mask &= (pairs["event_type"].astype("string") == str(etype)).fillna(False).astype(bool)
        if mask.any():
            out[mask] = names[mask].map(lambda n, rx=rx, target=target: _expand(rx, target, str(n)))
            done |= mask
    return out.astype(object).where(out.notna(), None)


def map_pairs(pairs: pd.DataFrame, plan: PlanIndex, cfg: ScanConfig) -> pd.DataFrame:
    """Add `event_type_id`, `grouped_name`, `event_id` to distinct (event_type, event_name) pairs."""
    out = pairs[["event_type", "event_name"]].drop_duplicates().reset_index(drop=True)
    if cfg.event_type_column:
        out = out.merge(plan.types.rename(columns={"type_name": "event_type"}), on="event_type", how="left")
    else:
        out["event_type_id"] = cfg.event_type_id
    out["event_type_id"] = out["event_type_id"].astype(object).where(out["event_type_id"].notna(), None)
    out["grouped_name"] = apply_group_rules(out, cfg.event_group_rules or []) if len(out) else out["event_name"]
    ev = plan.events.rename(columns={"event_name": "grouped_name"})
    by_type = out.merge(ev, on=["event_type_id", "grouped_name"], how="left")
    unique = ev.drop_duplicates("grouped_name", keep=False)
    by_name = out.merge(unique.rename(columns={"event_type_id": "name_type_id"}), on="grouped_name", how="left")
    take = by_type["event_id"].isna() & by_type["event_type_id"].isna() & by_name["event_id"].notna()
    by_type.loc[take, "event_id"] = by_name.loc[take, "event_id"]
    by_type.loc[take, "event_type_id"] = by_name.loc[take, "name_type_id"]
    by_type["event_id"] = by_type["event_id"].astype(object).where(by_type["event_id"].notna(), None)
    by_type["event_type_id"] = by_type["event_type_id"].astype(object).where(by_type["event_type_id"].notna(), None)
    return by_type
