"""What the console's routes share: templates (autoescaped), the signed-in person, HTML error pages."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from tripl_core import accounts, links
from tripl_core.audit import Actor
from tripl_core.db.models.auth import UserRole
from tripl_core.errors import DomainError
from tripl_core.settings import get_settings

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))  # autoescape is on for .html


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def _num(value: float | int | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    value = round(value, digits) + 0  # no "-0.0" for a tiny negative (+ 0 turns -0.0 into 0.0)
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


templates.env.filters.update(when=_when, num=_num, pct=_pct)
templates.env.globals.update(links=links, P=links.CONSOLE_PREFIX)


def actor_of(request: Request, db: Session) -> Actor | None:
    """The person of the session cookie the API uses (API keys are for programs, not for this HTML surface)."""
    token = request.cookies.get(get_settings().cookie_name)
    user = accounts.user_for_session(db, token) if token else None
    return Actor(user=user) if user is not None else None


def to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{links.CONSOLE_PREFIX}/login?next={quote(target, safe='')}", status_code=303)


def safe_next(value: str | None) -> str:
    """Only a console path of this site: never another host (`//evil`, `/\\evil`) after signing in."""
    if value and value.startswith(f"{links.CONSOLE_PREFIX}/") and not value.startswith(("//", "/\\")) \
            and "\\" not in value and "\n" not in value and "\r" not in value:
        return value
    return f"{links.CONSOLE_PREFIX}/"


def can_act(actor: Actor) -> bool:
    return actor.role.rank >= UserRole.editor.rank


def render(request: Request, template: str, actor: Actor | None, status_code: int = 200,
           **ctx: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, template, {"actor": actor, "can_act": bool(actor and can_act(actor)),
                                                      **ctx}, status_code=status_code)


def error_page(request: Request, actor: Actor | None, exc: DomainError) -> HTMLResponse:
    return render(request, "error.html", actor, status_code=exc.status_code, status=exc.status_code,
                  message=str(exc))


def dagster_url(run_id: str | None = None) -> str:
    """The Dagster UI on the host tripl serves on (`tripl up` starts it there)."""
    s = get_settings()
    base = links.base_url(s)
    host = base.split("://", 1)[1].rsplit(":", 1)[0] if "://" in base else "127.0.0.1"
    url = f"http://{host}:{s.dagster_port}"
    return f"{url}/runs/{run_id}" if run_id else f"{url}/runs"


templates.env.globals.update(dagster_url=dagster_url)
