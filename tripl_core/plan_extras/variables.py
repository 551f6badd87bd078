"""Variables: named placeholders (`{screen}`) used in event names and field values.

Counts come from two places, each computed in one SQL statement for all listed variables:
- `event_count`: plan events of the branch whose name or any field value contains `{name}` (from the plan).
- `context_count`, `low_context_count`, `high_context_count`, `sample_values`: from `variable_values`, the
  values the scans observed (one row per main variable × value; written by the pipelines). Each distinct value
  is a context; a low-context value was seen fewer than LOW_CONTEXT_MAX_OCCURRENCES times (likely a typo or a
  test), a high-context one at least HIGH_CONTEXT_MIN_OCCURRENCES times. Until scans run these stay 0 / empty.
Scan rows are keyed by main's variable id, so a branch copy reports its origin's observations.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.db.models.plan_extras import Variable, VariableType, VariableValue
from tripl_core.errors import Conflict, Invalid
from tripl_core.plan.common import PlanScope, get_in_branch, record

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
NAME_MAX = 100
LOW_CONTEXT_MAX_OCCURRENCES = 10
HIGH_CONTEXT_MIN_OCCURRENCES = 1000
SAMPLE_VALUES = 5
AUDIT_FIELDS = ["name", "source_name", "variable_type", "description"]

# One pass over the branch's events and field values: every `{placeholder}` they contain, per event. The cheap
# strpos pre-filter keeps the regex off the (usual) names and values without any placeholder.
_PLAN_COUNTS = text(r"""
    with refs as (
        select e.id as event_id, m[1] as name
        from events e, regexp_matches(e.name, '\{([a-z][a-z0-9_]*)\}', 'g') as m
        where e.branch_id = :branch_id and strpos(e.name, '{') > 0
        union all
        select fv.event_id, m[1]
        from event_field_values fv, regexp_matches(fv.value, '\{([a-z][a-z0-9_]*)\}', 'g') as m
        where fv.branch_id = :branch_id and strpos(fv.value, '{') > 0
    )
    select v.id, count(distinct r.event_id)
    from variables v join refs r on r.name = v.name
    where v.id = any(:ids)
    group by v.id
""")

_SCAN_COUNTS = text(f"""
    select variable_id,
           count(*) as contexts,
           count(*) filter (where occurrences < :low) as low,
           count(*) filter (where occurrences >= :high) as high,
           (array_agg(value order by occurrences desc, value))[1:{SAMPLE_VALUES}] as samples
    from variable_values
    where variable_id = any(:ids)
    group by variable_id
""")


@dataclass
class VariableStats:
    event_count: int = 0
    context_count: int = 0
    low_context_count: int = 0
    high_context_count: int = 0
    sample_values: list[str] = field(default_factory=list)


@dataclass
class VariableView:
    variable: Variable
    stats: VariableStats


def _main_id(v: Variable) -> uuid.UUID:
    return v.origin_id or v.id


def stats(db: Session, branch_id: uuid.UUID, variables: list[Variable]) -> dict[uuid.UUID, VariableStats]:
    """Plan and scan counts of these variables (two statements, whatever their number)."""
    out = {v.id: VariableStats() for v in variables}
    if not variables:
        return out
    for vid, count in db.execute(_PLAN_COUNTS, {"branch_id": branch_id, "ids": list(out)}):
        out[vid].event_count = count
    by_main = {_main_id(v): v.id for v in variables}
    rows = db.execute(_SCAN_COUNTS, {"ids": list(by_main), "low": LOW_CONTEXT_MAX_OCCURRENCES,
                                     "high": HIGH_CONTEXT_MIN_OCCURRENCES})
    for main_id, contexts, low, high, samples in rows:
        s = out[by_main[main_id]]
        s.context_count, s.low_context_count, s.high_context_count = contexts, low, high
        s.sample_values = list(samples or [])
    return out


def _views(db: Session, scope: PlanScope, variables: list[Variable]) -> list[VariableView]:
    counts = stats(db, scope.branch_id, variables)
    return [VariableView(v, counts[v.id]) for v in variables]


def list_variables(db: Session, scope: PlanScope) -> list[VariableView]:
    rows = list(db.scalars(select(Variable).where(Variable.branch_id == scope.branch_id)
                           .order_by(Variable.name)))
    return _views(db, scope, rows)


def get(db: Session, scope: PlanScope, variable_id: uuid.UUID) -> Variable:
    return get_in_branch(db, Variable, variable_id, scope, "Variable")


def view(db: Session, scope: PlanScope, variable: Variable) -> VariableView:
    return _views(db, scope, [variable])[0]


def _check_name(db: Session, scope: PlanScope, name: str, exclude: uuid.UUID | None = None) -> str:
    if not 1 <= len(name) <= NAME_MAX:
        raise Invalid("name", f"Use 1 to {NAME_MAX} characters.")
    if not NAME_RE.match(name):
        raise Invalid("name", "Start with a lowercase letter; use lowercase letters, digits and '_' "
                              "(e.g. 'screen_name').")
    taken = db.scalar(select(Variable.id).where(Variable.branch_id == scope.branch_id, Variable.name == name))
    if taken is not None and taken != exclude:
        raise Conflict(f"A variable named '{name}' already exists in this plan.")
    return name


def create(db: Session, actor: audit.Actor | None, scope: PlanScope, name: str,
           variable_type: VariableType = VariableType.string, description: str = "",
           commit: bool = True) -> VariableView:
    name = _check_name(db, scope, name)
    variable = Variable(project_id=scope.project.id, branch_id=scope.branch_id, name=name, source_name=name,
                        variable_type=variable_type, description=description or "")
    db.add(variable)
    db.flush()
    record(db, actor, scope, "variable.create", "variable", variable.id, name,
           after=audit.snapshot(variable, AUDIT_FIELDS))
    if commit:
        db.commit()
    return view(db, scope, variable)


def update(db: Session, actor: audit.Actor, scope: PlanScope, variable_id: uuid.UUID,
           changes: dict[str, Any]) -> VariableView:
    """Apply the given fields; None means "leave as is". A rename keeps source_name in step if it followed."""
    variable = get(db, scope, variable_id)
    before = audit.snapshot(variable, AUDIT_FIELDS)
    name = changes.get("name")
    if name is not None and name != variable.name:
        _check_name(db, scope, name, exclude=variable.id)
        if variable.source_name == variable.name:
            variable.source_name = name
        variable.name = name
    if changes.get("variable_type") is not None:
        variable.variable_type = VariableType(changes["variable_type"])
    if changes.get("description") is not None:
        variable.description = changes["description"]
    db.flush()
    b, a = audit.changed(before, audit.snapshot(variable, AUDIT_FIELDS))
    if a:
        record(db, actor, scope, "variable.update", "variable", variable.id, variable.name, before=b, after=a)
    db.commit()
    return view(db, scope, variable)


def delete(db: Session, actor: audit.Actor, scope: PlanScope, variable_id: uuid.UUID) -> None:
    """References in event names and values stay as written; they simply no longer name a variable."""
    variable = get(db, scope, variable_id)
    record(db, actor, scope, "variable.delete", "variable", variable.id, variable.name,
           before=audit.snapshot(variable, AUDIT_FIELDS))
    db.delete(variable)
    db.commit()


def list_values(db: Session, scope: PlanScope, variable_id: uuid.UUID, limit: int | None = None,
                offset: int = 0) -> list[VariableValue]:
    """Observed values, most frequent first (empty until scans observe the variable); all of them unless
    `limit` is given: the reference's List Variable Values has no page size, so none is imposed silently."""
    variable = get(db, scope, variable_id)
    return list(db.scalars(select(VariableValue).where(VariableValue.variable_id == _main_id(variable))
                           .order_by(VariableValue.occurrences.desc(), VariableValue.value)
                           .limit(limit).offset(offset)))
