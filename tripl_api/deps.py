"""Request dependencies: DB session, the caller (cookie session or API key), role and scope checks, project.

No `from __future__ import annotations` here: FastAPI must see the closures' real `Annotated[...]` types
(a string annotation naming a closure variable cannot be resolved, which breaks /openapi.json and the routes).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from tripl_core import accounts, api_keys, projects
from tripl_core.audit import Actor
from tripl_core.db.models.auth import ApiKeyScope, UserRole
from tripl_core.db.models.projects import Project
from tripl_core.db.session import new_session
from tripl_core.errors import Forbidden, NotFound, Unauthorized
from tripl_core.settings import Settings, get_settings


def get_db() -> Iterator[Session]:
    db = new_session()
    try:
        yield db
    finally:
        db.close()


DB = Annotated[Session, Depends(get_db)]
AppSettings = Annotated[Settings, Depends(get_settings)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def current_actor(request: Request, db: DB, settings: AppSettings) -> Actor:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        key = api_keys.authenticate(db, auth[7:].strip(), settings.api_key_touch_seconds)
        return Actor(user=key.user, api_key=key)
    token = request.cookies.get(settings.cookie_name)
    user = accounts.user_for_session(db, token) if token else None
    if user is None:
        raise Unauthorized("Not authenticated.")
    return Actor(user=user)


def require(role: UserRole, write: bool) -> Callable[..., Actor]:
    """A dependency that admits callers with at least `role`; `write` also needs a write-scoped key."""

    # async: no I/O here, so no hop to the thread pool (every authenticated request passes through it).
    async def dep(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
        if actor.role.rank < role.rank:
            raise Forbidden(f"This action needs the {role.value} role; you are {actor.role.value}.")
        if write and actor.api_key is not None and actor.api_key.scope != ApiKeyScope.write:
            raise Forbidden("This API key is read-only.")
        return actor

    return dep


Viewer = Annotated[Actor, Depends(require(UserRole.viewer, write=False))]
ViewerWrite = Annotated[Actor, Depends(require(UserRole.viewer, write=True))]
Editor = Annotated[Actor, Depends(require(UserRole.editor, write=True))]
Owner = Annotated[Actor, Depends(require(UserRole.owner, write=True))]
OwnerRead = Annotated[Actor, Depends(require(UserRole.owner, write=False))]


def check_key_project(actor: Actor, project: Project) -> None:
    """An API key bound to another project must not even learn that this one exists."""
    if actor.api_key is not None and actor.api_key.project_id not in (None, project.id):
        raise NotFound(f"Project '{project.slug}' not found.")


@dataclass
class ProjectAccess:
    project: Project
    actor: Actor


def _project_access(role: UserRole, write: bool) -> Callable[..., ProjectAccess]:
    def dep(db: DB, slug: Annotated[str, Path(description="Project slug")],
            actor: Annotated[Actor, Depends(require(role, write))]) -> ProjectAccess:
        project = projects.get_by_slug(db, slug)
        check_key_project(actor, project)
        return ProjectAccess(project=project, actor=actor)

    return dep


ProjectRead = Annotated[ProjectAccess, Depends(_project_access(UserRole.viewer, write=False))]
ProjectComment = Annotated[ProjectAccess, Depends(_project_access(UserRole.viewer, write=True))]
ProjectWrite = Annotated[ProjectAccess, Depends(_project_access(UserRole.editor, write=True))]
ProjectOwner = Annotated[ProjectAccess, Depends(_project_access(UserRole.owner, write=True))]
