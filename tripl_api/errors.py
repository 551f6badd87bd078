"""One JSON error shape: `{"detail": "..."}` for domain errors, FastAPI's list of `{loc, msg, type}` for 422s."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from tripl_core.errors import DomainError, Invalid, TooManyRequests

log = logging.getLogger("tripl.api")

# The app database being away (restarting, failing over, out of connections) is a temporary state of the service,
# not a bug in the request: 503 with a JSON body and a hint when to retry, never a 500. The pool pings connections
# before use (tripl_core/db/session.py), so the first request after the database is back gets a fresh connection.
DATABASE_UNAVAILABLE = "The database is unavailable; try again shortly."
DATABASE_RETRY_AFTER = "5"


def _finite(value: Any) -> Any:
    """JSON cannot carry NaN/Infinity; a 422 echoing such an input must not become a 500."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def request_validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": _finite(jsonable_encoder(exc.errors()))})

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        if isinstance(exc, Invalid):
            return JSONResponse(
                status_code=422,
                content={"detail": [{"loc": exc.loc, "msg": exc.message, "type": "value_error"}]},
            )
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None
        return JSONResponse(status_code=exc.status_code, content={"detail": exc.message}, headers=headers)

    @app.exception_handler(IntegrityError)
    async def integrity_error(_: Request, exc: IntegrityError) -> JSONResponse:
        # A safety net: services check uniqueness first, but a race can still hit the constraint.
        log.info("integrity error: %s", exc.orig)
        return JSONResponse(status_code=409, content={"detail": "Conflicts with existing data."})

    async def database_unavailable(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", getattr(exc, "orig", None) or exc)
        return JSONResponse(status_code=503, content={"detail": DATABASE_UNAVAILABLE},
                            headers={"Retry-After": DATABASE_RETRY_AFTER})

    # OperationalError covers refused connections, a server shutting down or starting up, and connections it
    # closed mid-transaction (the transaction was not committed: the client was not told it was).
    for exc_type in (OperationalError, InterfaceError, DisconnectionError, PoolTimeout):
        app.add_exception_handler(exc_type, database_unavailable)

    @app.exception_handler(DataError)
    async def data_error(_: Request, exc: DataError) -> JSONResponse:
        log.info("data error: %s", exc.orig)
        return JSONResponse(status_code=422, content={"detail": [
            {"loc": ["body"], "msg": "A value is out of range for its field.", "type": "value_error"}]})


# --- the contract: which error statuses an operation can answer, and their body -----------------------------------
ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {"anyOf": [
        {"type": "string", "description": "What went wrong, for people."},
        {"type": "array", "items": {"type": "object"},
         "description": "Validation errors: `loc` names the field, `msg` the reason."},
    ]}},
}
_PUBLIC = {("post", "/api/v1/auth/register")}  # Login answers 401 for a wrong password
_ERRORS = {
    "400": "The request cannot be processed as sent.",
    "401": "Not authenticated: no or an unknown session cookie or API key.",
    "403": "Not allowed: the role or the key's scope is not enough, or a cross-site cookie request.",
    "404": "Not found (or not visible to this caller).",
    "409": "Conflicts with the current state or existing data.",
    "422": "Invalid input; `detail[].loc` names the field.",
    "429": "Too many requests; see `Retry-After`.",
    "502": "An upstream service (warehouse, channel, AI endpoint) failed.",
    "503": "The database is unavailable; see `Retry-After`.",
}


def document_error_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the error statuses every operation can answer to /openapi.json, with one error body schema.

    Central instead of per route: the domain errors (tripl_core.errors), validation, access checks, the cross-site
    check and the database handler apply to every operation alike, so a route's own list was always incomplete
    (schemathesis counted 187 undocumented statuses on 153 operations). Statuses a route documents itself win.
    """
    schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete") or not isinstance(op, dict):
                continue
            responses = op.setdefault("responses", {})
            health = "health" in op.get("tags", [])
            for status, description in _ERRORS.items():
                if status in responses or (status == "401" and ((method, path) in _PUBLIC or health)):
                    continue
                body = {"type": "object"} if health else (
                    {"$ref": "#/components/schemas/HTTPValidationError"} if status == "422" else ref)
                responses[status] = {"description": description, "content": {"application/json": {"schema": body}}}
            uploads = "multipart/form-data" in op.get("requestBody", {}).get("content", {})
            if uploads and "413" not in responses:
                responses["413"] = {"description": "The upload is larger than the limit.",
                                    "content": {"application/json": {"schema": ref}}}
    schema["components"]["schemas"].setdefault("HTTPValidationError", {
        "title": "HTTPValidationError", "type": "object",
        "properties": {"detail": {"type": "array", "items": {"type": "object"}}}})
    return schema
