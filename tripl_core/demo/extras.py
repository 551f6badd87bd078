"""Hook for the plan extras (variables, relations) of the demo project.

Called by tripl_core.demo.plan.create_demo_project inside the same transaction, after event types, meta fields
and events exist. It must not commit (the caller does).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.db.models.plan_extras import VariableType
from tripl_core.demo.state import DemoPlan
from tripl_core.plan_extras import relations, variables

# The placeholders of the event types' name formats (docs/demo.md); source_name = the warehouse property.
DEMO_VARIABLES: tuple[tuple[str, VariableType, str], ...] = (
    ("screen_name", VariableType.string, "Screen identifier; names screen_view events and prefixes UI interactions."),
    ("element", VariableType.string, "The UI element interacted with (button, card, switch…)."),
    ("action", VariableType.string, "What the user did to the element: tap, swipe, long_press or toggle."),
    ("commerce_event", VariableType.string, "The commerce step, from product view to refund."),
    ("lifecycle_event", VariableType.string, "App and account lifecycle moments (install, open, login…)."),
    ("error_domain", VariableType.string, "Where an error came from: network, payment, api or app."),
    ("error_code", VariableType.string, "Machine-readable error code within its domain."),
    ("app_version", VariableType.string, "Semantic version of the app build that sent the event."),
)

# (source type, source field) → (target type, target field), relation type, description
DEMO_RELATIONS: tuple[tuple[tuple[str, str], tuple[str, str], str, str], ...] = (
    (("ui_interaction", "screen_name"), ("screen_view", "screen_name"), "belongs_to",
     "The screen the interaction happened on."),
    (("screen_view", "previous_screen"), ("screen_view", "screen_name"), "references",
     "The screen viewed just before this one (navigation path)."),
    (("screen_view", "app_version"), ("lifecycle", "app_version"), "same_as",
     "The build reported by app_opened / app_updated for the same session."),
    (("error", "platform"), ("lifecycle", "platform"), "same_as",
     "Errors are broken down by the platform the session runs on."),
)


def add_demo_variables_and_relations(db: Session, actor: audit.Actor | None, demo: DemoPlan) -> None:
    """Add the demo's variables (the name-format placeholders) and relations between event types' fields.

    Uses the plan-extras services with commit=False, so validation and audit are the same as through the API.
    """
    for name, vtype, description in DEMO_VARIABLES:
        variables.create(db, actor, demo.scope, name, vtype, description, commit=False)
    for (s_type, s_field), (t_type, t_field), rtype, description in DEMO_RELATIONS:
        if (s_type, s_field) not in demo.fields or (t_type, t_field) not in demo.fields:
            continue  # the demo data changed; a missing field must not break Create Demo Project
        relations.create(db, actor, demo.scope, source_event_type_id=demo.event_types[s_type].id,
                         source_field_id=demo.fields[(s_type, s_field)].id,
                         target_event_type_id=demo.event_types[t_type].id,
                         target_field_id=demo.fields[(t_type, t_field)].id, relation_type=rtype,
                         description=description, commit=False)
