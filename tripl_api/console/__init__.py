"""The web console: server-rendered pages under /ui/ for the people who get the alerts (docs/console.md).

An HTML surface, not a reference tag: its routes are kept out of /openapi.json and out of tripl_api/routers/.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from tripl_api.console import actions, pages
from tripl_api.console.common import HERE
from tripl_core import links


def install(app: FastAPI) -> None:
    app.include_router(pages.router)
    app.include_router(actions.router)
    app.mount(f"{links.CONSOLE_PREFIX}/static", StaticFiles(directory=str(HERE / "static")), name="console-static")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        """`/` leads to the console (which sends a signed-out person to its login page)."""
        return RedirectResponse(f"{links.CONSOLE_PREFIX}/", status_code=307)

    @app.get(links.CONSOLE_PREFIX, include_in_schema=False)
    def bare() -> RedirectResponse:
        return RedirectResponse(f"{links.CONSOLE_PREFIX}/", status_code=307)
