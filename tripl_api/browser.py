"""What a browser needs from every response and request: the same-origin check for cookie-authenticated mutations
(CSRF) and security headers. One ASGI middleware, so the API and the console's HTML forms get the same rules.

Why Origin/Referer and not a token: a cross-site page can make a signed-in browser send a "simple" request (a form
post, a multipart upload) that no preflight stops, and SameSite=Lax lets top-level form posts through on some
browsers and paths. Every current browser sends `Origin` on POST/PUT/PATCH/DELETE (same-origin form posts
included), so requiring it to be this site costs the console's forms nothing. API keys (`Authorization: Bearer`)
are not sent by browsers on their own and are unaffected.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import JSONResponse

from tripl_core import links, service_settings
from tripl_core.db.session import new_session
from tripl_core.settings import get_settings

log = logging.getLogger("tripl.api")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Sign-in forms: a login CSRF signs the victim into the attacker's account, no cookie needed.
SIGN_IN_PATHS = frozenset({"/api/v1/auth/login", "/api/v1/auth/register", f"{links.CONSOLE_PREFIX}/login"})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
]
FRAME_HEADERS = [  # on HTML: nobody frames a page of tripl (clickjacking the console's buttons)
    (b"x-frame-options", b"DENY"),
]
FRAME_ANCESTORS = "frame-ancestors 'none'"


def origin_of(url: str | None) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an absolute http(s) URL; None for anything else (`null`, garbage, relative)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def _request_origin(scope: Scope, headers: Headers) -> tuple[str, str, int] | None:
    """The origin the request was sent to: its scheme (uvicorn sets https behind a declared proxy) and Host."""
    host = headers.get("host")
    if not host:
        return None
    return origin_of(f"{scope.get('scheme', 'http')}://{host}")


def _public_origins() -> set[tuple[str, str, int]]:
    """TRIPL_PUBLIC_BASE_URL from the environment and, if an owner changed it at run time, the effective one."""
    found = {origin_of(get_settings().public_base_url)}
    try:
        with new_session() as db:
            found.add(origin_of(service_settings.effective(db).as_settings().public_base_url))
    except Exception:  # noqa: BLE001 — the database being away must not turn a 403 into a 500
        log.warning("could not read the effective public_base_url for the origin check", exc_info=True)
    found.discard(None)
    return found  # type: ignore[return-value]


def _bearer(headers: Headers) -> bool:
    return headers.get("authorization", "").lower().startswith("bearer ")


def _has_session_cookie(headers: Headers) -> bool:
    name = get_settings().cookie_name
    return any(part.strip().startswith(f"{name}=") for part in headers.get("cookie", "").split(";"))


async def refusal(scope: Scope, headers: Headers) -> str | None:
    """Why this request must be refused as cross-site, or None. See the module docstring for the rules."""
    if scope["type"] != "http" or scope["method"] not in UNSAFE_METHODS:
        return None
    path = scope.get("path", "")
    sign_in = path in SIGN_IN_PATHS
    console = path == links.CONSOLE_PREFIX or path.startswith(f"{links.CONSOLE_PREFIX}/")
    cookie = _has_session_cookie(headers)
    if not sign_in and (not cookie or (_bearer(headers) and not console)):
        return None  # not authenticated by the cookie: an API key, or nothing (the route answers 401)
    claimed = headers.get("origin")
    source = "Origin"
    if claimed is None and headers.get("referer"):
        claimed, source = headers.get("referer"), "Referer"
    if claimed is None:
        if not cookie:  # a sign-in by a program (no browser sends a POST without Origin): nothing to forge
            return None
        return ("Cross-site request refused: a request authenticated by the session cookie must carry an Origin "
                "(or Referer) header of this site. Programs should use an API key (Authorization: Bearer).")
    origin = origin_of(claimed)
    if origin is not None and origin == _request_origin(scope, headers):
        return None
    if origin is not None and origin in await run_in_threadpool(_public_origins):
        return None
    return (f"Cross-site request refused: the {source} {claimed[:200]!r} is not this site. Requests authenticated "
            "by the session cookie must come from tripl's own pages (or set TRIPL_PUBLIC_BASE_URL to the address "
            "browsers use).")


def _add_security_headers(message: Message) -> None:
    raw: list[tuple[bytes, bytes]] = list(message.get("headers", []))
    present = {k.lower() for k, _ in raw}
    raw.extend(h for h in HEADERS if h[0] not in present)
    content_type = next((v for k, v in raw if k.lower() == b"content-type"), b"")
    if content_type.lower().startswith(b"text/html"):
        raw.extend(h for h in FRAME_HEADERS if h[0] not in present)
        csp = [i for i, (k, _) in enumerate(raw) if k.lower() == b"content-security-policy"]
        if not csp:
            raw.append((b"content-security-policy", FRAME_ANCESTORS.encode()))
        else:
            for i in csp:
                value = raw[i][1].decode("latin-1")
                if "frame-ancestors" not in value:
                    raw[i] = (raw[i][0], f"{value.rstrip().rstrip(';')}; {FRAME_ANCESTORS}".encode("latin-1"))
    message["headers"] = raw


class BrowserSafety:
    """ASGI middleware: refuse cross-site cookie-authenticated mutations (403), add security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add_security_headers(message)
            await send(message)

        reason = await refusal(scope, Headers(scope=scope))
        if reason is not None:
            await JSONResponse({"detail": reason}, status_code=403)(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)
