"""Working branches: create (a full copy of main), list, get, delete, diff, conflicts, resolutions, merge.

See docs/branches.md. Payloads and the three-way rules are in snapshot / diff / merge; the SQL in store.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.db.base import utcnow
from tripl_core.db.models.plan import CLOSED_BRANCH_STATUSES, BranchKind, BranchStatus, PlanBranch
from tripl_core.db.models.projects import Project
from tripl_core.db.models.versioning import BranchApproval, BranchResolution, PlanRevision, ResolutionChoice
from tripl_core.errors import Conflict, Invalid, NotFound
from tripl_core.plan import revisions, snapshot, store
from tripl_core.plan.branching import main_branch
from tripl_core.plan.diff import diff_payloads, fingerprint, same_plan
from tripl_core.plan.merge import MergePlan, three_way

NAME_MAX = 255
BRANCH_FIELDS = ["name", "kind", "status", "description", "base_revision_id"]


def get(db: Session, project: Project, branch_id: uuid.UUID) -> PlanBranch:
    branch = db.get(PlanBranch, branch_id)
    if branch is None or branch.project_id != project.id:
        raise NotFound(f"Branch '{branch_id}' not found in project '{project.slug}'.")
    return branch


def list_all(db: Session, project: Project) -> list[PlanBranch]:
    """Main first, then open branches newest first, then merged and closed ones."""
    main_branch(db, project)  # projects from before branching get their main branch
    finished = case((PlanBranch.status.in_(CLOSED_BRANCH_STATUSES), 1), else_=0)
    return list(db.scalars(select(PlanBranch).where(PlanBranch.project_id == project.id).order_by(
        case((PlanBranch.kind == BranchKind.main, 0), else_=1), finished, PlanBranch.created_at.desc())))


def _lock_main(db: Session, project: Project) -> PlanBranch:
    """Serialises branch creation and merges per project (both read main and must see it settled)."""
    main = main_branch(db, project)
    db.execute(select(PlanBranch.id).where(PlanBranch.id == main.id).with_for_update())
    return main


def create(db: Session, actor: audit.Actor, project: Project, name: str, description: str = "") -> PlanBranch:
    name = name.strip()
    if not name:
        raise Invalid("name", "A branch needs a name.")
    if len(name) > NAME_MAX:
        raise Invalid("name", f"At most {NAME_MAX} characters.")
    main = _lock_main(db, project)
    if db.scalar(select(PlanBranch.id).where(PlanBranch.project_id == project.id,
                                             func.lower(PlanBranch.name) == name.lower())):
        raise Conflict(f"A branch named '{name}' already exists in this project.")
    base = revisions.current(db, actor, project, f"Plan before branch '{name}'")
    branch = PlanBranch(project_id=project.id, name=name, kind=BranchKind.branch, status=BranchStatus.draft,
                        description=description, base_revision_id=base.id, created_by=actor.user.id)
    db.add(branch)
    db.flush()
    copied = store.copy_branch(db, main.id, branch.id)
    audit.record(db, actor, "branch.create", "branch", branch.id, name, project=project,
                 after={**audit.snapshot(branch, BRANCH_FIELDS), "copied": copied})
    db.commit()
    return branch


def delete(db: Session, actor: audit.Actor, project: Project, branch: PlanBranch) -> None:
    """Discards the branch and every change on it (its plan rows cascade)."""
    if branch.kind == BranchKind.main:
        raise Conflict("The main branch cannot be deleted.")
    audit.record(db, actor, "branch.delete", "branch", branch.id, branch.name, project=project,
                 before=audit.snapshot(branch, BRANCH_FIELDS))
    db.delete(branch)
    db.commit()


@dataclass
class ThreeWay:
    base: dict[str, Any]
    ours: dict[str, Any]
    theirs: dict[str, Any]


def _empty() -> dict[str, Any]:
    return {"format": snapshot.FORMAT, "entities": {}}


def _payloads(db: Session, project: Project, branch: PlanBranch) -> ThreeWay:
    base_rev = db.get(PlanRevision, branch.base_revision_id) if branch.base_revision_id else None
    base = base_rev.payload if base_rev else _empty()
    main = main_branch(db, project)
    return ThreeWay(base, snapshot.snapshot(db, branch.id), snapshot.snapshot(db, main.id))


def diff(db: Session, project: Project, branch: PlanBranch) -> dict[str, Any]:
    """The branch's changes against its base; on main, main's changes since the latest revision."""
    if branch.kind == BranchKind.main:
        rev = revisions.latest(db, project.id)
        return {**diff_payloads(rev.payload if rev else _empty(), snapshot.snapshot(db, branch.id)),
                "behind_base": False}
    p = _payloads(db, project, branch)
    return {**diff_payloads(p.base, p.ours), "behind_base": not same_plan(p.base, p.theirs)}


def _resolutions(db: Session, branch: PlanBranch) -> list[BranchResolution]:
    return list(db.scalars(select(BranchResolution).where(BranchResolution.branch_id == branch.id)))


def _plan(db: Session, project: Project, branch: PlanBranch,
          p: ThreeWay | None = None) -> tuple[MergePlan, list[BranchResolution]]:
    res = _resolutions(db, branch)
    p = p or _payloads(db, project, branch)
    keys = {(r.entity_type, r.entity_name, r.field_name): r.choice.value for r in res}
    refs = {s.entity_type: tuple(s.refs) for s in snapshot.plan_specs()}
    return three_way(p.base, p.ours, p.theirs, keys, refs), res


def conflicts(db: Session, project: Project, branch: PlanBranch) -> dict[str, Any]:
    if branch.kind == BranchKind.main or branch.status in CLOSED_BRANCH_STATUSES:
        return {"entities": [], "unresolved_count": 0}
    plan, res = _plan(db, project, branch)
    by_key = {(r.entity_type, r.entity_name, r.field_name): r for r in res}
    entities = []
    for c in plan.conflicts:
        r = by_key.get(c.key)
        entities.append({"entity_type": c.entity_type, "entity_id": c.entity_id, "entity_name": c.entity_name,
                         "field_name": c.field, "base": c.base, "ours": c.ours, "theirs": c.theirs,
                         "resolution_id": r.id if r else None, "choice": r.choice.value if r else None})
    return {"entities": entities, "unresolved_count": len(plan.unresolved)}


def _open_branch(branch: PlanBranch) -> None:
    if branch.kind == BranchKind.main:
        raise Conflict("The main branch has nothing to merge, so it has no conflicts to resolve.")
    if branch.status in CLOSED_BRANCH_STATUSES:
        raise Conflict(f"Branch '{branch.name}' is {branch.status.value}.")


def save_resolution(db: Session, actor: audit.Actor, project: Project, branch: PlanBranch, entity_type: str,
                    entity_name: str, field_name: str, choice: ResolutionChoice) -> BranchResolution:
    """Pick ours or theirs for one conflicting field; saving again replaces the choice."""
    _open_branch(branch)
    plan, res = _plan(db, project, branch)
    key = (entity_type, entity_name, field_name)
    if key not in {c.key for c in plan.conflicts}:
        on_entity = [c for c in plan.conflicts if c.key[:2] == key[:2]]
        if on_entity:
            fields = ", ".join(sorted(c.field for c in on_entity))
            raise Invalid("field_name", f"No conflict on field '{field_name}' of {entity_type} '{entity_name}'; "
                                        f"conflicting fields: {fields}.")
        raise Invalid("entity_name", f"No conflict on {entity_type} '{entity_name}'.")
    row = next((r for r in res if (r.entity_type, r.entity_name, r.field_name) == key), None)
    before = {"choice": row.choice.value} if row else None
    if row is None:
        row = BranchResolution(branch_id=branch.id, entity_type=entity_type, entity_name=entity_name,
                               field_name=field_name, choice=choice, resolved_by=actor.user.id)
        db.add(row)
    else:
        row.choice, row.resolved_by = choice, actor.user.id
    db.flush()
    audit.record(db, actor, "branch.resolve", "branch", branch.id, branch.name, project=project, before=before,
                 after={"entity_type": entity_type, "entity_name": entity_name, "field_name": field_name,
                        "choice": choice.value},
                 message=f"{actor.label} chose {choice.value} for {entity_type} '{entity_name}' "
                         f"field '{field_name}' on branch '{branch.name}'")
    db.commit()
    return row


def delete_resolution(db: Session, actor: audit.Actor, project: Project, branch: PlanBranch,
                      resolution_id: uuid.UUID) -> None:
    _open_branch(branch)
    row = db.get(BranchResolution, resolution_id)
    if row is None or row.branch_id != branch.id:
        raise NotFound(f"Resolution '{resolution_id}' not found on branch '{branch.name}'.")
    audit.record(db, actor, "branch.unresolve", "branch", branch.id, branch.name, project=project,
                 before={"entity_type": row.entity_type, "entity_name": row.entity_name,
                         "field_name": row.field_name, "choice": row.choice.value},
                 message=f"{actor.label} withdrew the resolution of {row.entity_type} '{row.entity_name}' "
                         f"field '{row.field_name}' on branch '{branch.name}'")
    db.delete(row)
    db.commit()


def merge(db: Session, actor: audit.Actor, project: Project, branch: PlanBranch) -> PlanBranch:
    """Apply the branch to main in one transaction, commit a revision, mark the branch merged."""
    if branch.kind == BranchKind.main:
        raise Conflict("The main branch cannot be merged.")
    if branch.status != BranchStatus.approved:
        raise Conflict(f"Only an approved branch can be merged; '{branch.name}' is {branch.status.value}.")
    try:
        main = _lock_main(db, project)
        db.refresh(branch, with_for_update=True)  # a concurrent merge of the same branch has finished by now
        if branch.status != BranchStatus.approved:
            raise Conflict(f"Only an approved branch can be merged; '{branch.name}' is {branch.status.value}.")
        payloads = _payloads(db, project, branch)
        approved = set(db.scalars(select(BranchApproval.content_hash).where(BranchApproval.branch_id == branch.id)))
        if fingerprint(payloads.ours) not in approved:
            raise Conflict(f"Branch '{branch.name}' changed after it was approved; request changes or reopen it, "
                           "and have the new version approved before merging.")
        plan, _ = _plan(db, project, branch, payloads)
        if plan.unresolved:
            shown = "; ".join(f"{c.entity_type} '{c.entity_name}' field '{c.field}'" for c in plan.unresolved[:5])
            raise Conflict(f"{len(plan.unresolved)} unresolved conflict(s) with main: {shown}. "
                           "Resolve them (Save Branch Resolution) before merging.")
        # Main's own changes since the latest revision get their revision first, so that the merge revision's
        # diff against the one before it shows exactly what the branch brought.
        revisions.current(db, actor, project, f"Plan before merging branch '{branch.name}'", payloads.theirs)
        counts = store.apply_merge(db, plan, main.id)
        summary = f"Merge branch '{branch.name}'" + (f": {branch.description}" if branch.description else "")
        rev = revisions.add(db, actor, project, summary[:revisions.SUMMARY_MAX])
        branch.status, branch.merged_at, branch.merged_by = BranchStatus.merged, utcnow(), actor.user.id
        audit.record(db, actor, "branch.merge", "branch", branch.id, branch.name, project=project,
                     after={"revision_id": rev.id, **counts, "resolved_conflicts": len(plan.conflicts)})
        db.commit()
    except IntegrityError as exc:
        db.rollback()
        raise Conflict("The merge would break the plan's integrity (for example a new entity under one deleted "
                       f"on main, or a name taken on main); nothing was changed. Detail: {exc.orig}") from None
    except BaseException:
        db.rollback()
        raise
    return branch
