"""Comments on event photos, threaded by `parent_id` (a reply's parent is on the same photo).

Anyone who can read the project may comment (design review includes viewers). A comment can be deleted by its
author or by an owner; deleting it deletes its replies (ON DELETE CASCADE), so a thread never dangles.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from tripl_core import audit
from tripl_core.db.models.auth import User, UserRole
from tripl_core.db.models.plan_extras import PhotoComment
from tripl_core.db.models.projects import Project
from tripl_core.errors import Forbidden, Invalid, NotFound
from tripl_core.plan_extras.photos import get_photo

BODY_MAX = 4000


@dataclass
class CommentView:
    comment: PhotoComment
    user_name: str | None
    user_email: str | None


def list_comments(db: Session, project: Project, event_id: uuid.UUID, photo_id: uuid.UUID) -> list[CommentView]:
    """Oldest first; clients nest replies under `parent_id`."""
    photo = get_photo(db, project, event_id, photo_id)
    rows = db.execute(
        select(PhotoComment, User.name, User.email).outerjoin(User, User.id == PhotoComment.user_id)
        .where(PhotoComment.photo_id == photo.id)
        .order_by(PhotoComment.created_at, PhotoComment.id)
    )
    return [CommentView(c, name, email) for c, name, email in rows]


def create(db: Session, actor: audit.Actor, project: Project, event_id: uuid.UUID, photo_id: uuid.UUID,
           body: str, parent_id: uuid.UUID | None = None) -> CommentView:
    photo = get_photo(db, project, event_id, photo_id)
    body = body.strip()
    if not body:
        raise Invalid("body", "Must not be empty or blank.")
    if len(body) > BODY_MAX:
        raise Invalid("body", f"At most {BODY_MAX} characters.")
    if parent_id is not None:
        parent = db.get(PhotoComment, parent_id)
        if parent is None or parent.photo_id != photo.id:
            raise Invalid("parent_id", "The parent comment must be a comment on the same photo.")
    comment = PhotoComment(project_id=project.id, photo_id=photo.id, parent_id=parent_id, user_id=actor.user.id,
                           body=body)
    db.add(comment)
    db.flush()
    audit.record(db, actor, "photo_comment.create", "photo_comment", comment.id, None, project=project,
                 after={"photo_id": str(photo.id), "parent_id": str(parent_id) if parent_id else None,
                        "body": body[:200]},
                 message=f"{actor.label} {'replied to a comment' if parent_id else 'commented'} on a photo")
    db.commit()
    return CommentView(comment, actor.user.name, actor.user.email)


def delete(db: Session, actor: audit.Actor, project: Project, event_id: uuid.UUID, photo_id: uuid.UUID,
           comment_id: uuid.UUID) -> None:
    photo = get_photo(db, project, event_id, photo_id)
    comment = db.get(PhotoComment, comment_id)
    if comment is None or comment.photo_id != photo.id:
        raise NotFound(f"Comment '{comment_id}' not found on this photo.")
    if comment.user_id != actor.user.id and actor.role != UserRole.owner:
        raise Forbidden("Only the comment's author or an owner can delete it.")
    audit.record(db, actor, "photo_comment.delete", "photo_comment", comment.id, None, project=project,
                 before={"photo_id": str(photo.id), "user_id": str(comment.user_id) if comment.user_id else None,
                         "body": comment.body[:200]},
                 message=f"{actor.label} deleted a comment on a photo")
    db.delete(comment)
    db.commit()
