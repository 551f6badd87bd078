"""Addresses of the web console's pages: one place, so alerts, Dagster metadata and the console agree.

Every alert links to its finding's page. The base is `TRIPL_PUBLIC_BASE_URL` when set, otherwise the address
tripl serves on (a wildcard bind address becomes 127.0.0.1, the host the README and `tripl up` print).
"""

from __future__ import annotations

import uuid
from typing import Any

# Finding kinds with a page of their own; the path segment of each.
FINDING_PATHS: dict[str, str] = {
    "signal": "signals",
    "schema_drift": "drifts",
    "distribution_drift": "distribution-drifts",
    "release_regression": "releases",
    "shadow_event": "shadow-events",
    "dead_event": "dead-events",
}
CONSOLE_PREFIX = "/ui"


def base_url(settings: Any) -> str:
    """Public base URL without a trailing slash."""
    explicit = (getattr(settings, "public_base_url", None) or "").strip()
    if explicit:
        return str(explicit).rstrip("/")
    host = getattr(settings, "host", "127.0.0.1") or "127.0.0.1"
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{getattr(settings, 'port', 8000)}"


def console_home(base: str) -> str:
    return f"{base}{CONSOLE_PREFIX}/"


def project_page(base: str, slug: str) -> str:
    return f"{base}{CONSOLE_PREFIX}/projects/{slug}"


def finding_page(base: str, slug: str, kind: str, finding_id: uuid.UUID | str) -> str:
    """The page an alert about this finding opens. Unknown kinds fall back to the project page."""
    segment = FINDING_PATHS.get(kind)
    if segment is None:
        return project_page(base, slug)
    return f"{project_page(base, slug)}/{segment}/{finding_id}"


def event_page(base: str, slug: str, event_id: uuid.UUID | str) -> str:
    return f"{project_page(base, slug)}/events/{event_id}"


def scan_job_page(base: str, slug: str, job_id: uuid.UUID | str) -> str:
    return f"{project_page(base, slug)}/scan-jobs/{job_id}"


def inbox_page(base: str, slug: str) -> str:
    return f"{project_page(base, slug)}/inbox"
