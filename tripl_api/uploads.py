"""Bounded multipart uploads: a route class that refuses oversized bodies before and while they are parsed.

FastAPI parses a multipart body completely (spooling files to temporary disk) before the endpoint runs, so a
check in the endpoint would come after an unbounded write. This route class rejects a declared Content-Length
above the limit without reading anything, and counts the bytes of chunked bodies as they arrive, stopping at
the limit. The limit is the effective setting `photo_max_bytes` (an owner's override through the settings API
wins over the environment; read per request from the settings cache) plus room for the multipart framing; the exact
per-file limit is enforced again while the file is copied to storage.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive

from tripl_core import service_settings
from tripl_core.db.session import new_session

MULTIPART_OVERHEAD = 64 * 1024


def photo_limit() -> int:
    """The effective `photo_max_bytes` (settings API override, else environment, else default)."""
    with new_session() as db:
        return int(service_settings.effective(db).photo_max_bytes)


def too_large(limit: int) -> HTTPException:
    return HTTPException(status_code=413, detail=f"The upload is larger than the limit of {limit} bytes.")


def _counting(receive: Receive, limit: int, file_limit: int) -> Receive:
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise too_large(file_limit)
        return message

    return wrapped


class LimitedUploadRoute(APIRoute):
    """An APIRoute whose request body may not exceed `photo_max_bytes` + MULTIPART_OVERHEAD."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def limited(request: Request) -> Response:
            if request.method in ("POST", "PUT", "PATCH"):
                file_limit = photo_limit()
                limit = file_limit + MULTIPART_OVERHEAD
                declared = request.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise too_large(file_limit)
                request = Request(request.scope, _counting(request.receive, limit, file_limit), request._send)
            return await handler(request)

        return limited
