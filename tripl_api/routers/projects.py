from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from tripl_api.deps import DB, Editor, ProjectOwner, ProjectRead, ProjectWrite, Viewer
from tripl_api.schemas.projects import ProjectCreate, ProjectResponse, ProjectUpdate
from tripl_core import api_keys, projects
from tripl_core.db.models.projects import Project
from tripl_core.demo.plan import create_demo_project as build_demo

router = APIRouter(prefix="/api/v1/projects", tags=["projects"])


def project_out(db: Session, project: Project) -> ProjectResponse:
    out = ProjectResponse.model_validate(project)
    out.summary = projects.summaries(db, [project.id])[project.id]
    return out


@router.get("", summary="List Projects", response_model=list[ProjectResponse])
def list_projects(db: DB, actor: Viewer):
    only = actor.api_key.project_id if actor.api_key else None
    rows = projects.list_all(db, only_id=only)
    sums = projects.summaries(db, [p.id for p in rows])
    return [ProjectResponse.model_validate(p).model_copy(update={"summary": sums[p.id]}) for p in rows]


@router.post("", summary="Create Project", response_model=ProjectResponse, status_code=201)
def create_project(body: ProjectCreate, db: DB, actor: Editor):
    api_keys.ensure_workspace_access(actor)
    return project_out(db, projects.create(db, actor, body.name, body.slug, body.description))


@router.post("/demo", summary="Create Demo Project", response_model=ProjectResponse, status_code=201)
def create_demo_project(db: DB, actor: Editor):
    """A realistic mobile-shop plan (tripl_core.demo); each call makes a new project (demo, demo-2, …)."""
    api_keys.ensure_workspace_access(actor)
    return project_out(db, build_demo(db, actor))


@router.get("/{slug}", summary="Get Project", response_model=ProjectResponse)
def get_project(db: DB, ctx: ProjectRead):
    return project_out(db, ctx.project)


@router.patch("/{slug}", summary="Update Project", response_model=ProjectResponse)
def update_project(body: ProjectUpdate, db: DB, ctx: ProjectWrite):
    return project_out(db, projects.update(db, ctx.actor, ctx.project, body.model_dump(exclude_unset=True)))


@router.delete("/{slug}", summary="Delete Project", status_code=204)
def delete_project(db: DB, ctx: ProjectOwner) -> Response:
    projects.delete(db, ctx.actor, ctx.project)
    return Response(status_code=204)
