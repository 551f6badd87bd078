"""Review of working branches: the status machine, reviewers, approvals, threaded comments."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.db.models.auth import User, UserRole
from tripl_core.db.models.plan import BranchKind, BranchStatus, PlanBranch
from tripl_core.db.models.projects import Project
from tripl_core.db.models.versioning import BranchApproval, BranchComment, BranchReviewer
from tripl_core.errors import Conflict, Forbidden, Invalid, NotFound
from tripl_core.plan import snapshot
from tripl_core.plan.diff import fingerprint

S = BranchStatus
# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[BranchStatus], BranchStatus]] = {
    "submit": (frozenset({S.draft, S.changes_requested}), S.in_review),
    "request_changes": (frozenset({S.in_review, S.approved}), S.changes_requested),
    "approve": (frozenset({S.in_review, S.approved}), S.approved),  # more reviewers may add their approval
    "reopen": (frozenset({S.changes_requested, S.approved, S.closed}), S.draft),
    "close": (frozenset({S.draft, S.in_review, S.changes_requested, S.approved}), S.closed),
}
REVIEW_ACTIONS = ("approve", "request_changes")
COMMENT_MAX = 10_000


def reviewers(db: Session, branch: PlanBranch) -> list[BranchReviewer]:
    return list(db.scalars(select(BranchReviewer).where(BranchReviewer.branch_id == branch.id)
                           .order_by(BranchReviewer.created_at, BranchReviewer.id)))


def approvals(db: Session, branch: PlanBranch) -> list[BranchApproval]:
    return list(db.scalars(select(BranchApproval).where(BranchApproval.branch_id == branch.id)
                           .order_by(BranchApproval.created_at, BranchApproval.id)))


def _check_review(db: Session, actor: audit.Actor, branch: PlanBranch, action: str) -> None:
    """Approve / request changes: a reviewer of the branch who is not its author."""
    if branch.created_by == actor.user.id:
        raise Forbidden(f"The author of a branch cannot {action.replace('_', ' ')} it; ask a reviewer.")
    if not db.scalar(select(BranchReviewer.id).where(BranchReviewer.branch_id == branch.id,
                                                    BranchReviewer.user_id == actor.user.id)):
        raise Forbidden(f"Only a reviewer of branch '{branch.name}' can {action.replace('_', ' ')} it; "
                        "add yourself as a reviewer first.")


def transition(db: Session, actor: audit.Actor, project: Project, branch: PlanBranch, action: str) -> PlanBranch:
    if action not in TRANSITIONS:
        raise Invalid("action", f"Unknown action '{action}'; one of: {', '.join(TRANSITIONS)}.")
    if branch.kind == BranchKind.main:
        raise Conflict("The main branch is not reviewed; create a branch to propose changes.")
    sources, target = TRANSITIONS[action]
    if branch.status not in sources:
        allowed = ", ".join(a for a, (src, _) in TRANSITIONS.items() if branch.status in src) or "none"
        raise Conflict(f"Cannot {action.replace('_', ' ')} branch '{branch.name}': it is {branch.status.value} "
                       f"(allowed actions: {allowed}).")
    if action in REVIEW_ACTIONS:
        _check_review(db, actor, branch, action)
    before = branch.status.value
    if action == "approve":  # approving again re-approves the branch as it is now
        content = fingerprint(snapshot.snapshot(db, branch.id))
        mine = db.scalar(select(BranchApproval).where(BranchApproval.branch_id == branch.id,
                                                      BranchApproval.user_id == actor.user.id))
        if mine is None:
            db.add(BranchApproval(branch_id=branch.id, user_id=actor.user.id, content_hash=content))
        else:
            mine.content_hash = content
    elif action in ("request_changes", "reopen"):  # approvals are for what was reviewed; changes follow
        db.execute(delete(BranchApproval).where(BranchApproval.branch_id == branch.id))
    branch.status = target
    db.flush()
    audit.record(db, actor, f"branch.{action}", "branch", branch.id, branch.name, project=project,
                 before={"status": before}, after={"status": target.value},
                 message=f"{actor.label} {_VERB[action]} branch '{branch.name}' ({before} → {target.value})")
    db.commit()
    return branch


_VERB = {"submit": "submitted", "request_changes": "requested changes on", "approve": "approved",
         "reopen": "reopened", "close": "closed"}


def _not_finished(branch: PlanBranch, what: str) -> None:
    if branch.kind == BranchKind.main:
        raise Conflict(f"The main branch is not reviewed; it has no {what}.")
    if branch.status in (S.merged, S.closed):
        raise Conflict(f"Branch '{branch.name}' is {branch.status.value}; reopen it to change its {what}.")


def add_reviewer(db: Session, actor: audit.Actor, project: Project, branch: PlanBranch,
                 user_id: uuid.UUID) -> BranchReviewer:
    _not_finished(branch, "reviewers")
    user = db.get(User, user_id)
    if user is None:
        raise Invalid("user_id", f"No user with id '{user_id}'.")
    if user.role == UserRole.viewer:
        raise Invalid("user_id", f"{user.email} is a viewer; reviewers must be editors or owners.")
    existing = db.scalar(select(BranchReviewer).where(BranchReviewer.branch_id == branch.id,
                                                      BranchReviewer.user_id == user_id))
    if existing is not None:
        return existing
    row = BranchReviewer(branch_id=branch.id, user_id=user_id)
    db.add(row)
    db.flush()
    audit.record(db, actor, "branch.add_reviewer", "branch", branch.id, branch.name, project=project,
                 after={"reviewer": user.email},
                 message=f"{actor.label} asked {user.email} to review branch '{branch.name}'")
    db.commit()
    return row


def remove_reviewer(db: Session, actor: audit.Actor, project: Project, branch: PlanBranch,
                    user_id: uuid.UUID) -> None:
    _not_finished(branch, "reviewers")
    row = db.scalar(select(BranchReviewer).where(BranchReviewer.branch_id == branch.id,
                                                 BranchReviewer.user_id == user_id))
    if row is None:
        raise NotFound(f"User '{user_id}' is not a reviewer of branch '{branch.name}'.")
    user = db.get(User, user_id)
    # An approval stands for its reviewer: it goes with them.
    db.execute(delete(BranchApproval).where(BranchApproval.branch_id == branch.id,
                                            BranchApproval.user_id == user_id))
    db.delete(row)
    email = user.email if user else str(user_id)
    audit.record(db, actor, "branch.remove_reviewer", "branch", branch.id, branch.name, project=project,
                 before={"reviewer": email},
                 message=f"{actor.label} removed {email} from the reviewers of branch '{branch.name}'")
    db.commit()


def comments(db: Session, branch: PlanBranch) -> list[BranchComment]:
    return list(db.scalars(select(BranchComment).where(BranchComment.branch_id == branch.id)
                           .order_by(BranchComment.created_at, BranchComment.id)))


def add_comment(db: Session, actor: audit.Actor, project: Project, branch: PlanBranch, body: str,
                parent_id: uuid.UUID | None, viewers_may_comment: bool) -> BranchComment:
    if actor.role == UserRole.viewer and not viewers_may_comment:
        raise Forbidden("Viewers cannot comment on branches on this instance (setting viewer_comments_enabled).")
    if not body.strip():
        raise Invalid("body", "A comment cannot be empty.")
    if len(body) > COMMENT_MAX:
        raise Invalid("body", f"At most {COMMENT_MAX} characters.")
    if parent_id is not None:
        parent = db.get(BranchComment, parent_id)
        if parent is None or parent.branch_id != branch.id:
            raise Invalid("parent_id", f"No comment '{parent_id}' on branch '{branch.name}'.")
    row = BranchComment(branch_id=branch.id, parent_id=parent_id, user_id=actor.user.id, body=body)
    db.add(row)
    db.flush()
    audit.record(db, actor, "branch.comment", "branch", branch.id, branch.name, project=project,
                 after={"comment_id": row.id, "parent_id": parent_id, "body": body[:500]},
                 message=f"{actor.label} {'replied on' if parent_id else 'commented on'} branch '{branch.name}'")
    db.commit()
    return row


def delete_comment(db: Session, actor: audit.Actor, project: Project, branch: PlanBranch,
                   comment_id: uuid.UUID) -> None:
    """Authors delete their own comments, owners any (with its replies)."""
    row = db.get(BranchComment, comment_id)
    if row is None or row.branch_id != branch.id:
        raise NotFound(f"Comment '{comment_id}' not found on branch '{branch.name}'.")
    if row.user_id != actor.user.id and actor.role != UserRole.owner:
        raise Forbidden("Only the author of a comment or an owner can delete it.")
    audit.record(db, actor, "branch.delete_comment", "branch", branch.id, branch.name, project=project,
                 before={"comment_id": row.id, "body": row.body[:500]},
                 message=f"{actor.label} deleted a comment on branch '{branch.name}'")
    db.delete(row)
    db.commit()
