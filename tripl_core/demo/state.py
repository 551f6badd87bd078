"""What the demo plan loader built, shared by its steps (plan, extras) and tests.

Its own module so that `plan` (which calls the extras hook) and `extras` (which reads what `plan` built) do not
import each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tripl_core.db.models.plan import Event, EventType, FieldDefinition, MetaFieldDefinition
from tripl_core.db.models.projects import Project
from tripl_core.plan.common import PlanScope


@dataclass
class DemoPlan:
    """What the demo built, for hooks (extras) and tests: rows by name."""

    project: Project
    scope: PlanScope
    event_types: dict[str, EventType] = field(default_factory=dict)
    fields: dict[tuple[str, str], FieldDefinition] = field(default_factory=dict)
    meta_fields: dict[str, MetaFieldDefinition] = field(default_factory=dict)
    events: dict[tuple[str, str], Event] = field(default_factory=dict)
