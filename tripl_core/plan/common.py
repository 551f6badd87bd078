"""What every plan service shares: the (project, branch) scope, lookups inside it, audit with branch context."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.db.models.plan import BranchKind, PlanBranch
from tripl_core.db.models.projects import Project
from tripl_core.errors import Invalid, NotFound

T = TypeVar("T")


@dataclass(frozen=True)
class PlanScope:
    """The project and the branch an operation reads or writes (see tripl_core.plan.branching)."""

    project: Project
    branch: PlanBranch

    @property
    def branch_id(self) -> uuid.UUID:
        return self.branch.id

    @property
    def on_main(self) -> bool:
        return self.branch.kind == BranchKind.main


def get_in_branch(db: Session, model: type[T], obj_id: uuid.UUID, scope: PlanScope, label: str) -> T:
    """The row with this id on the scope's branch, else 404 (rows of other branches or projects are invisible)."""
    obj = db.get(model, obj_id)
    if obj is None or getattr(obj, "branch_id", None) != scope.branch_id:
        raise NotFound(f"{label} '{obj_id}' not found.")
    return obj


def record(db: Session, actor: audit.Actor | None, scope: PlanScope, action: str, target_type: str,
           target_id: Any, target_name: str | None, *, before: dict[str, Any] | None = None,
           after: dict[str, Any] | None = None, message: str | None = None) -> None:
    """audit.record, with the branch named in the message when the change is not on main."""
    who = actor.label if actor else "system"
    if message is None:
        message = f"{who} {audit.past_tense(action.split('.')[-1])} {target_type.replace('_', ' ')}" + (
            f" '{target_name}'" if target_name else "")
    if not scope.on_main:
        message += f" on branch '{scope.branch.name}'"
    audit.record(db, actor, action, target_type, target_id, target_name, project=scope.project,
                 before=before, after=after, message=message)


def clean_text(field: str | list[Any], value: str, max_len: int | None = None) -> str:
    """Strip surrounding whitespace; a name that is only whitespace is as bad as an empty one."""
    text = value.strip()
    if not text:
        raise Invalid(field, "Must not be empty or blank.")
    if max_len is not None and len(text) > max_len:
        raise Invalid(field, f"At most {max_len} characters.")
    return text


def options_list(field: str | list[Any], options: list[str] | None) -> list[str]:
    """Enum options: stripped, non-empty, unique, in the given order."""
    if not options:
        raise Invalid(field, "An enum needs at least one option.")
    out: list[str] = []
    for i, raw in enumerate(options):
        loc = [field, i] if isinstance(field, str) else [*field, i]
        opt = clean_text(loc, raw, 255)
        if opt in out:
            raise Invalid(loc, f"Duplicate enum option '{opt}'.")
        out.append(opt)
    return out
