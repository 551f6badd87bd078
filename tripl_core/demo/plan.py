"""Create Demo Project: a realistic mobile-shop plan built from tripl_core.demo.plan_data.

Calling it again makes another project (`demo`, `demo-2`, …). Everything is one transaction: a failure leaves
no half-built demo behind.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tripl_core import audit, projects
from tripl_core.db.models.projects import Project
from tripl_core.demo import plan_data
from tripl_core.demo.extras import add_demo_variables_and_relations
from tripl_core.demo.state import DemoPlan
from tripl_core.plan import event_types, events, meta_fields
from tripl_core.plan.branching import main_branch
from tripl_core.plan.common import PlanScope

DEMO_NAME = "Demo Shop"
DEMO_SLUG = "demo"
DEMO_DESCRIPTION = ("A sample tracking plan of a mobile shop: screens, UI interactions, commerce, lifecycle "
                    "and errors. Explore it, edit it on a branch, or delete it.")


def _event_item(spec: dict[str, Any], demo: DemoPlan, owner_id: Any) -> dict[str, Any]:
    meta = dict(spec.get("meta") or {})
    if spec["name"] in plan_data.JIRA:
        meta["jira"] = plan_data.JIRA[spec["name"]]
    if spec["status"] == "live":
        meta["gdpr_reviewed"] = "true"
    return {
        "event_type_id": demo.event_types[spec["type"]].id, "name": spec["name"],
        "description": spec.get("description", ""), "status": spec["status"], "owner_id": owner_id,
        "reviewed": spec["status"] in ("live", "implemented", "deprecated", "archived"),
        "tags": spec.get("tags", []), "metric_breakdown_columns": spec.get("breakdowns", ["platform"]),
        "field_values": [{"field_name": k, "value": v} for k, v in spec["values"].items()],
        "meta_values": [{"meta_field_name": k, "value": v} for k, v in meta.items()],
    }


def create_demo_project(db: Session, actor: audit.Actor) -> Project:
    project = projects.create(db, actor, DEMO_NAME, projects.unique_slug(db, DEMO_SLUG), DEMO_DESCRIPTION,
                              commit=False)
    scope = PlanScope(project, main_branch(db, project))
    demo = DemoPlan(project=project, scope=scope)
    for spec in plan_data.EVENT_TYPES:
        data = {k: v for k, v in spec.items() if k != "name_format"}
        data["description"] = f"{spec['description']} Event name: {spec['name_format']}."
        et = event_types.create(db, actor, scope, data, commit=False)
        demo.event_types[et.name] = et
        for f in et.field_definitions:
            demo.fields[(et.name, f.name)] = f
        event_types.add_owner_row(db, actor, scope, et, actor.user.id)
    for spec in plan_data.META_FIELDS:
        meta = meta_fields.create(db, actor, scope, spec, commit=False)
        demo.meta_fields[meta.name] = meta
    items = [_event_item(spec, demo, actor.user.id) for spec in plan_data.EVENTS]
    for ev in events.create_many(db, actor, scope, items, bulk=True, commit=False):
        type_name = next(n for n, t in demo.event_types.items() if t.id == ev.event_type_id)
        demo.events[(type_name, ev.name)] = ev
    add_demo_variables_and_relations(db, actor, demo)
    audit.record(db, actor, "project.create_demo", "project", project.id, project.name, project=project,
                 after={"event_types": len(demo.event_types), "events": len(demo.events)},
                 message=f"{actor.label} created the demo project '{project.name}' ({project.slug})")
    db.commit()
    events.refresh_statistics(db)
    return project
