"""The console's form posts: sign in and out, and the actions on findings. Each calls the tripl_core function
the matching API operation calls (same validation, audit record and effect), then redirects back (303) to the
page the form was on. Acting needs the editor role, as the API's ProjectWrite does; viewers get a 403 page.

Cookie-authenticated posts are checked for their Origin by the web-safety middleware (same-origin forms pass)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from tripl_api.console.common import actor_of, can_act, error_page, render, safe_next, to_login
from tripl_api.console.pages import parse_id
from tripl_api.deps import DB, client_ip
from tripl_core import accounts, links, projects, service_settings
from tripl_core.alerting import inbox
from tripl_core.audit import Actor
from tripl_core.db.base import utcnow
from tripl_core.db.models.plan import EventStatus
from tripl_core.db.models.projects import Project
from tripl_core.errors import DomainError, Forbidden, Invalid
from tripl_core.findings import drifts, reconciliation
from tripl_core.settings import get_settings

router = APIRouter(prefix=links.CONSOLE_PREFIX, include_in_schema=False)
SNOOZE = timedelta(days=7)
MUTE = timedelta(hours=24)
Text = Annotated[str, Form(max_length=2000)]
OptText = Annotated[str | None, Form(max_length=2000)]


@router.post("/login")
def login(request: Request, db: DB, email: Annotated[str, Form(max_length=320)],
          password: Annotated[str, Form(max_length=1000)], next: OptText = None) -> Response:
    settings = service_settings.effective(db).as_settings()
    try:
        session = accounts.login(db, settings, email, password, client_ip(request),
                                 request.headers.get("user-agent"))
    except DomainError as exc:
        return render(request, "login.html", None, status_code=exc.status_code, next=safe_next(next),
                      error=str(exc), email=email)
    response = RedirectResponse(safe_next(next), status_code=303)
    # Exactly the API's cookie: host-only (no Domain attribute), so it is sent back to whichever host the person
    # typed (127.0.0.1 or localhost) and the API accepts the console's session and vice versa.
    response.set_cookie(settings.cookie_name, session.token, max_age=session.max_age, httponly=True,
                        samesite="lax", secure=settings.session_cookie_secure, path="/")
    return response


@router.post("/logout")
def logout(request: Request, db: DB) -> Response:
    settings = get_settings()
    actor = actor_of(request, db)
    accounts.logout(db, request.cookies.get(settings.cookie_name), actor)
    response = RedirectResponse(f"{links.CONSOLE_PREFIX}/login", status_code=303)
    response.delete_cookie(settings.cookie_name, path="/", httponly=True, samesite="lax",
                           secure=settings.session_cookie_secure)
    return response


def act(request: Request, db: DB, slug: str, back: str | None,
        do: Callable[[Actor, Project], str | None]) -> Response:
    """Run one action as the signed-in editor; back to `back` (a console path) or the page `do` names."""
    actor = actor_of(request, db)
    if actor is None:
        return to_login(request)
    try:
        if not can_act(actor):
            raise Forbidden(f"This action needs the editor role; you are {actor.role.value}.")
        project = projects.get_by_slug(db, slug)
        target = do(actor, project)
    except DomainError as exc:
        db.rollback()
        return error_page(request, actor, exc)
    return RedirectResponse(safe_next(back or target), status_code=303)


@router.post("/projects/{slug}/drifts/{drift_id}/action")
def drift_action(request: Request, db: DB, slug: str, drift_id: str, action: Text, note: OptText = None,
                 back: OptText = None) -> Response:
    def do(actor: Actor, project: Project) -> str:
        did = parse_id(drift_id, "Schema drift")
        until = utcnow() + SNOOZE if action == "snooze" else None
        drifts.apply_action(db, actor, project, did, action, note or None, until)
        return links.finding_page("", slug, "schema_drift", did)

    return act(request, db, slug, back, do)


@router.post("/projects/{slug}/inbox/{group_id}/action")
def inbox_action(request: Request, db: DB, slug: str, group_id: str, action: Text, note: OptText = None,
                 back: OptText = None) -> Response:
    def do(actor: Actor, project: Project) -> str:
        group = inbox.get_group(db, project, parse_id(group_id, "Correlation group"))
        until = utcnow() + MUTE if action == "mute" else None
        inbox.apply_action(db, actor, project, group, action, note or None, until)
        return links.inbox_page("", slug)

    return act(request, db, slug, back, do)


@router.post("/projects/{slug}/shadow-events/{candidate_id}/accept")
def shadow_accept(request: Request, db: DB, slug: str, candidate_id: str, event_type_id: OptText = None,
                  name: OptText = None, back: OptText = None) -> Response:
    def do(actor: Actor, project: Project) -> str:
        cid = parse_id(candidate_id, "Shadow event")
        try:
            et = uuid.UUID(event_type_id) if event_type_id else None
        except ValueError:
            raise Invalid("event_type_id", "Pick an event type of the plan.") from None
        reconciliation.accept_shadow(db, actor, project, cid, et, (name or "").strip() or None)
        return links.finding_page("", slug, "shadow_event", cid)

    return act(request, db, slug, back, do)


@router.post("/projects/{slug}/shadow-events/{candidate_id}/dismiss")
def shadow_dismiss(request: Request, db: DB, slug: str, candidate_id: str, back: OptText = None) -> Response:
    def do(actor: Actor, project: Project) -> str:
        cid = parse_id(candidate_id, "Shadow event")
        reconciliation.dismiss_shadow(db, actor, project, cid)
        return links.finding_page("", slug, "shadow_event", cid)

    return act(request, db, slug, back, do)


@router.post("/projects/{slug}/dead-events/{event_id}/archive")
def dead_archive(request: Request, db: DB, slug: str, event_id: str, status: Text = "archived",
                 back: OptText = None) -> Response:
    def do(actor: Actor, project: Project) -> str:
        eid = parse_id(event_id, "Event")
        try:
            target = EventStatus(status)
        except ValueError:
            raise Invalid("status", f"status must be one of {', '.join(EventStatus)}.") from None
        reconciliation.archive_dead(db, actor, project, [eid], target)
        return links.finding_page("", slug, "dead_event", eid)

    return act(request, db, slug, back, do)
