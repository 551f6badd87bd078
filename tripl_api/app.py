"""The FastAPI application: `create_app()` includes every router module and the error handlers."""

from __future__ import annotations

import gc
import importlib
import logging
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi_offline import FastAPIOffline

from tripl_api import console, errors, routers
from tripl_api.browser import BrowserSafety
from tripl_api.strict import strict_inputs
from tripl_core import __version__
from tripl_core.settings import get_settings

log = logging.getLogger("tripl.api")

TAGS = [
    ("auth", "Login, registration, logout, and current-user lookup."),
    ("users", "User administration and role management."),
    ("projects", "Projects (tracking plans) and their lifecycle."),
    ("events", "Events of the tracking plan."),
    ("event-types", "Event types and their field definitions."),
    ("event-type-owners", "Owners of event types."),
    ("fields", "Field definitions of event types, with data contracts."),
    ("meta-fields", "Project-wide meta fields attached to events."),
    ("variables", "Named placeholders used in event names and field values."),
    ("relations", "Relations between fields of event types."),
    ("scans", "Warehouse scan configurations and scan jobs."),
    ("metrics", "Volume metrics, signals and root-cause views computed by scans."),
    ("reconciliation", "Plan versus warehouse: shadow events, dead events, coverage."),
    ("plan-branches", "Branches of the plan: edit in isolation, review, merge."),
    ("plan-revisions", "Committed revisions of the plan."),
    ("chart-annotations", "Annotations on metric charts."),
    ("anomaly-settings", "Per-project anomaly detection settings."),
    ("alerting", "Alert destinations, rules, deliveries, monitors and inbox."),
    ("data-sources", "Warehouse connections."),
    ("event-photos", "Screenshots and design specs attached to events."),
    ("search", "Search over the tracking plan."),
    ("ai", "AI assistance grounded in the plan."),
    ("activity", "Recent activity feed."),
    ("audit", "Audit log of mutating actions."),
    ("api-keys", "Personal API keys for programmatic access."),
    ("settings", "Instance-level application settings."),
    ("health", "Liveness and readiness probes (beyond the reference)."),
]


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """Freeze the start-up heap (imports, routes, models: ~350k objects) out of the cyclic GC. Otherwise every
    full collection walks it again: measured 200-350 ms gen-2 pauses in a loaded API worker, which became the p99 of
    whichever request was running (bench/findings_latency.py). A request allocates thousands of short-lived
    containers (a series is ~700 dicts), so the young generation is also made larger: fewer collections, hence
    fewer full ones. Runs once per server process (uvicorn worker); tests' TestClient without `with` skips it."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 10)
    if get_settings().scan_executor == "inprocess":  # scans this executor lost when a worker died (docs/pipelines)
        from tripl_core.scanning.jobs import resume_inprocess

        try:
            resume_inprocess()
        except Exception:  # the database may be away at start-up: the API starts anyway (503s until it is back)
            logging.getLogger("tripl.scans").exception("could not resume pending scan jobs")
    yield


def create_app() -> FastAPI:
    from tripl_core.runtime import ensure_database

    ensure_database()
    # /docs and /redoc load Swagger UI and ReDoc from files this package ships (fastapi-offline), not a CDN:
    # on a machine without internet the stock pages were blank.
    app = FastAPIOffline(
        title="tripl",
        version=__version__,
        description="Analytics tracking plan service",
        openapi_tags=[{"name": n, "description": d} for n, d in TAGS],
        lifespan=_lifespan,
        # No `false` integers, no `0.5` date-times, in any operation's query or body (tripl_api/strict.py).
        dependencies=[Depends(strict_inputs)],
    )
    errors.install(app)
    app.add_middleware(BrowserSafety)  # same-origin check of cookie-authenticated mutations, security headers
    for mod in sorted(pkgutil.iter_modules(routers.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{routers.__name__}.{mod.name}")
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router)
    console.install(app)  # /ui/ and `/`: HTML pages outside the reference tags and /openapi.json
    generate = app.openapi
    documented: list[dict] = []

    def openapi() -> dict:
        """FastAPI's document plus the error statuses every operation can answer (tripl_api/errors.py)."""
        if not documented:
            documented.append(errors.document_error_responses(app.openapi_schema or generate()))
            app.openapi_schema = documented[0]
        return documented[0]

    app.openapi = openapi  # type: ignore[method-assign]
    return app
