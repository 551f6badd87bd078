"""The console's pages (GET). Signed out: a redirect to the login page, which comes back here afterwards.

Every path tripl_core/links.py builds renders here; alert links point at them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from tripl_api.console.common import actor_of, error_page, render, safe_next, to_login
from tripl_api.deps import DB
from tripl_core import links, projects
from tripl_core.audit import Actor
from tripl_core.console import findings, overview
from tripl_core.db.models.projects import Project
from tripl_core.errors import DomainError, Invalid, NotFound

router = APIRouter(prefix=links.CONSOLE_PREFIX, include_in_schema=False)


def page(request: Request, db: DB, build: Callable[[Actor], Response]) -> Response:
    actor = actor_of(request, db)
    if actor is None:
        return to_login(request)
    try:
        return build(actor)
    except DomainError as exc:
        return error_page(request, actor, exc)


def parse_id(value: str, label: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{label} '{value}' not found.") from None


def parse_time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(name, f"'{name}' must be an ISO date-time.", loc_prefix="query") from None


def project_page(request: Request, db: DB, slug: str, template: str,
                 build: Callable[[Project], dict]) -> Response:
    def inner(actor: Actor) -> Response:
        project = projects.get_by_slug(db, slug)
        return render(request, template, actor, project=project, **build(project))

    return page(request, db, inner)


@router.get("/login")
def login_form(request: Request, db: DB, next: str | None = None) -> Response:
    actor = actor_of(request, db)
    if actor is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", None, next=safe_next(next), error=None)


@router.get("/")
def home(request: Request, db: DB) -> Response:
    return page(request, db, lambda actor: render(request, "projects.html", actor,
                                                  projects=overview.project_list(db)))


@router.get("/projects/{slug}")
def project_overview(request: Request, db: DB, slug: str) -> Response:
    return project_page(request, db, slug, "overview.html", lambda p: overview.overview(db, p))


@router.get("/projects/{slug}/events/{event_id}")
def event(request: Request, db: DB, slug: str, event_id: str, column: str | None = None,
          time_from: str | None = None, time_to: str | None = None) -> Response:
    return project_page(request, db, slug, "event.html", lambda p: overview.event_page(
        db, p, parse_id(event_id, "Event"), parse_time(time_from, "time_from"), parse_time(time_to, "time_to"),
        column))


@router.get("/projects/{slug}/signals/{signal_id}")
def signal(request: Request, db: DB, slug: str, signal_id: str) -> Response:
    return project_page(request, db, slug, "signal.html",
                        lambda p: findings.signal_page(db, p, parse_id(signal_id, "Signal")))


@router.get("/projects/{slug}/drifts/{drift_id}")
def drift(request: Request, db: DB, slug: str, drift_id: str) -> Response:
    return project_page(request, db, slug, "drift.html",
                        lambda p: findings.drift_page(db, p, parse_id(drift_id, "Schema drift")))


@router.get("/projects/{slug}/distribution-drifts/{drift_id}")
def distribution_drift(request: Request, db: DB, slug: str, drift_id: str) -> Response:
    return project_page(request, db, slug, "distribution_drift.html", lambda p: findings.distribution_drift_page(
        db, p, parse_id(drift_id, "Distribution drift")))


@router.get("/projects/{slug}/releases/{regression_id}")
def release(request: Request, db: DB, slug: str, regression_id: str) -> Response:
    return project_page(request, db, slug, "release.html",
                        lambda p: findings.release_page(db, p, parse_id(regression_id, "Release regression")))


@router.get("/projects/{slug}/shadow-events/{candidate_id}")
def shadow_event(request: Request, db: DB, slug: str, candidate_id: str) -> Response:
    return project_page(request, db, slug, "shadow.html",
                        lambda p: findings.shadow_page(db, p, parse_id(candidate_id, "Shadow event")))


@router.get("/projects/{slug}/dead-events/{event_id}")
def dead_event(request: Request, db: DB, slug: str, event_id: str) -> Response:
    return project_page(request, db, slug, "dead.html",
                        lambda p: findings.dead_page(db, p, parse_id(event_id, "Event")))


@router.get("/projects/{slug}/scan-jobs/{job_id}")
def scan_job(request: Request, db: DB, slug: str, job_id: str) -> Response:
    return project_page(request, db, slug, "scan_job.html",
                        lambda p: {"item": overview.scan_job(db, p, parse_id(job_id, "Scan job"))})


@router.get("/projects/{slug}/scan-jobs")
def scan_jobs(request: Request, db: DB, slug: str) -> Response:
    return project_page(request, db, slug, "scan_jobs.html", lambda p: {"jobs": overview.scan_jobs(db, p, 200)})


@router.get("/projects/{slug}/inbox")
def inbox(request: Request, db: DB, slug: str, status: str | None = None) -> Response:
    return project_page(request, db, slug, "inbox.html", lambda p: findings.inbox_page(db, p, status))
