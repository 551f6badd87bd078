"""Relations: a field of one event type refers to a field of another (order_completed.cart_id → cart_viewed.cart_id).

Both ends live on the same branch as the relation; each field must belong to the event type given for its end.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from tripl_core import audit
from tripl_core.db.models.plan import EventType, FieldDefinition
from tripl_core.db.models.plan_extras import Relation
from tripl_core.errors import Conflict, Invalid
from tripl_core.plan.common import PlanScope, get_in_branch, record

# Free text, as the reference has it (a string defaulting to "belongs_to"); the column holds 50 characters.
RELATION_TYPE_MAX = 50
AUDIT_FIELDS = ["source_event_type_id", "source_field_id", "target_event_type_id", "target_field_id",
                "relation_type", "description"]


@dataclass
class RelationView:
    relation: Relation
    source_event_type_name: str
    source_field_name: str
    target_event_type_name: str
    target_field_name: str


def list_relations(db: Session, scope: PlanScope, event_type_id: uuid.UUID | None = None) -> list[RelationView]:
    """The branch's relations with the names of both ends (one statement)."""
    set_, sf, tet, tf = (aliased(EventType), aliased(FieldDefinition), aliased(EventType),
                         aliased(FieldDefinition))
    stmt = (
        select(Relation, set_.name, sf.name, tet.name, tf.name)
        .join(set_, set_.id == Relation.source_event_type_id).join(sf, sf.id == Relation.source_field_id)
        .join(tet, tet.id == Relation.target_event_type_id).join(tf, tf.id == Relation.target_field_id)
        .where(Relation.branch_id == scope.branch_id)
        .order_by(set_.name, sf.name, tet.name, tf.name)
    )
    if event_type_id is not None:
        stmt = stmt.where((Relation.source_event_type_id == event_type_id)
                          | (Relation.target_event_type_id == event_type_id))
    return [RelationView(*row) for row in db.execute(stmt)]


def _end(db: Session, scope: PlanScope, side: str, event_type_id: uuid.UUID,
         field_id: uuid.UUID) -> tuple[EventType, FieldDefinition]:
    et = db.get(EventType, event_type_id)
    if et is None or et.branch_id != scope.branch_id:
        raise Invalid(f"{side}_event_type_id", f"Event type '{event_type_id}' does not exist in this plan.")
    field = db.get(FieldDefinition, field_id)
    if field is None or field.branch_id != scope.branch_id:
        raise Invalid(f"{side}_field_id", f"Field '{field_id}' does not exist in this plan.")
    if field.event_type_id != et.id:
        raise Invalid(f"{side}_field_id",
                      f"Field '{field.name}' does not belong to event type '{et.name}'.")
    return et, field


def create(db: Session, actor: audit.Actor | None, scope: PlanScope, *, source_event_type_id: uuid.UUID,
           target_event_type_id: uuid.UUID, source_field_id: uuid.UUID, target_field_id: uuid.UUID,
           relation_type: str = "belongs_to", description: str = "", commit: bool = True) -> RelationView:
    if len(relation_type or "") > RELATION_TYPE_MAX:
        raise Invalid("relation_type", f"At most {RELATION_TYPE_MAX} characters.")
    set_, sf = _end(db, scope, "source", source_event_type_id, source_field_id)
    tet, tf = _end(db, scope, "target", target_event_type_id, target_field_id)
    if sf.id == tf.id:
        raise Invalid("target_field_id", "A field cannot relate to itself.")
    dup = db.scalar(select(Relation.id).where(Relation.branch_id == scope.branch_id,
                                              Relation.source_field_id == sf.id,
                                              Relation.target_field_id == tf.id))
    if dup is not None:
        raise Conflict(f"A relation from '{set_.name}.{sf.name}' to '{tet.name}.{tf.name}' already exists.")
    rel = Relation(project_id=scope.project.id, branch_id=scope.branch_id, source_event_type_id=set_.id,
                   target_event_type_id=tet.id, source_field_id=sf.id, target_field_id=tf.id,
                   relation_type=relation_type, description=description or "")
    db.add(rel)
    db.flush()
    label = f"{set_.name}.{sf.name} → {tet.name}.{tf.name}"
    record(db, actor, scope, "relation.create", "relation", rel.id, label,
           after=audit.snapshot(rel, AUDIT_FIELDS))
    if commit:
        db.commit()
    return RelationView(rel, set_.name, sf.name, tet.name, tf.name)


def delete(db: Session, actor: audit.Actor, scope: PlanScope, relation_id: uuid.UUID) -> None:
    rel = get_in_branch(db, Relation, relation_id, scope, "Relation")
    record(db, actor, scope, "relation.delete", "relation", rel.id, None,
           before=audit.snapshot(rel, AUDIT_FIELDS))
    db.delete(rel)
    db.commit()
