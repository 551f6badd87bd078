"""Role x route matrix over every `/api/v1` route of the app, so it grows with each route added.

Placeholders fill path parameters (random UUIDs, the slug of an existing project) and bodies are `{}`: the
authentication and role checks must answer before any 404 or 422 does. A failure lists the routes at fault.
"""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi.routing import APIRoute

from tests.api.helpers import bearer, mint_key

PUBLIC = {("POST", "/api/v1/auth/register"), ("POST", "/api/v1/auth/login")}
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
P = "/api/v1/projects/{slug}"

# POST-shaped reads: a viewer and a read-scoped key may call them.
READ_POSTS = {
    ("POST", f"{P}/anomalies/signals/query"),
    ("POST", f"{P}/metrics/events/window"),
    ("POST", f"{P}/ai/describe-event"),
    ("POST", f"{P}/ai/describe-event-type"),
    ("POST", f"{P}/ai/ask"),
}
# Mutations open to viewers (they act on the viewer's own things, or are discussion, not plan edits). Being on
# an allow-list exempts a route from the 403 rule only; the route may still refuse by its own setting (for example
# viewer comments are off unless TRIPL_VIEWER_COMMENTS_ENABLED).
VIEWER_MUTATIONS = READ_POSTS | {
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/api-keys"),
    ("DELETE", "/api/v1/api-keys/{key_id}"),
    ("POST", f"{P}/branches/{{branch_id}}/comments"),
    ("DELETE", f"{P}/branches/{{branch_id}}/comments/{{comment_id}}"),
    ("POST", f"{P}/events/{{event_id}}/photos/{{photo_id}}/comments"),
    ("DELETE", f"{P}/events/{{event_id}}/photos/{{photo_id}}/comments/{{comment_id}}"),
}
# A read-scoped key ends no session (logout is harmless) and otherwise only reads.
READ_KEY_MUTATIONS = READ_POSTS | {("POST", "/api/v1/auth/logout")}

PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def _flat_routes(app) -> list[tuple[str, set[str]]]:
    """(path, methods) of every route; FastAPI >= 0.16x nests included routers, so flatten them."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: app.routes is already flat
        return [(r.path, r.methods) for r in app.routes if isinstance(r, APIRoute)]
    return [(c.path, c.methods) for c in iter_route_contexts(app.routes)
            if isinstance(c.original_route, APIRoute)]


def api_operations(app) -> list[tuple[str, str]]:
    ops = []
    for path, methods in _flat_routes(app):
        if path.startswith("/api/v1"):
            ops += [(m, path) for m in sorted(methods - {"HEAD", "OPTIONS"})]
    # Logout last: it ends the session the rest of the matrix runs on.
    ops = sorted(set(ops), key=lambda op: (op[1].endswith("/auth/logout"), op[1], op[0]))
    documented = {(m.upper(), p) for p, item in app.openapi()["paths"].items() for m in item
                  if p.startswith("/api/v1")}
    assert documented <= set(ops), f"documented but not found in app.routes: {documented - set(ops)}"
    return ops


def fill(path: str, slug: str) -> str:
    return PARAM.sub(lambda m: slug if m.group(1) == "slug" else str(uuid.uuid4()), path)


def call(client, method: str, path: str, slug: str, headers: dict | None = None):
    kwargs = {"json": {}} if method in MUTATING else {}
    return client.request(method, fill(path, slug), headers=headers, **kwargs)


def report(failures: list[str], what: str) -> str:
    return f"{len(failures)} route(s) {what}:\n  " + "\n  ".join(failures)


def test_the_allow_lists_name_real_routes(app):
    """A renamed route must not silently fall out of an allow-list."""
    ops = set(api_operations(app))
    assert len(ops) >= 17
    assert ops >= PUBLIC
    foundation = {op for op in VIEWER_MUTATIONS if "/auth/" in op[1] or "/api-keys" in op[1]}
    assert foundation <= ops


def test_every_route_needs_credentials(app, project, anon):
    failures = []
    for method, path in api_operations(app):
        if (method, path) in PUBLIC:
            continue
        r = call(anon, method, path, project["slug"])
        if r.status_code != 401:
            failures.append(f"{method} {path} -> {r.status_code} {r.text[:120]}")
    assert not failures, report(failures, "answer without credentials (expected 401)")


def test_viewer_cannot_mutate(app, project, viewer):
    failures = []
    for method, path in api_operations(app):
        if method not in MUTATING or (method, path) in PUBLIC:
            continue
        r = call(viewer, method, path, project["slug"])
        allowed = (method, path) in VIEWER_MUTATIONS
        if allowed and (r.status_code == 401 or r.status_code >= 500):
            failures.append(f"{method} {path} -> {r.status_code} (a viewer may use it) {r.text[:120]}")
        elif not allowed and r.status_code != 403:
            failures.append(f"{method} {path} -> {r.status_code} (expected 403) {r.text[:120]}")
    assert not failures, report(failures, "break the viewer rules")


def test_read_key_cannot_mutate(app, project, owner, anon):
    headers = bearer(mint_key(owner, "ro", scope="read")["token"])
    failures = []
    for method, path in api_operations(app):
        if method not in MUTATING or (method, path) in PUBLIC:
            continue
        r = call(anon, method, path, project["slug"], headers=headers)
        allowed = (method, path) in READ_KEY_MUTATIONS
        if allowed and (r.status_code == 401 or r.status_code >= 500):
            failures.append(f"{method} {path} -> {r.status_code} (a read key may use it) {r.text[:120]}")
        elif not allowed and r.status_code != 403:
            failures.append(f"{method} {path} -> {r.status_code} (expected 403) {r.text[:120]}")
    assert not failures, report(failures, "break the read-key rules")


def test_viewer_reads_are_authenticated(app, project, viewer):
    """Every GET accepts a viewer's session (it may still be owner-only: 403 is the only refusal allowed)."""
    failures = []
    for method, path in api_operations(app):
        if method != "GET":
            continue
        r = call(viewer, method, path, project["slug"])
        if r.status_code == 401 or r.status_code >= 500:
            failures.append(f"{method} {path} -> {r.status_code} {r.text[:120]}")
    assert not failures, report(failures, "fail a viewer's read")


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_are_public(client, path):
    assert client.get(path).status_code == 200
