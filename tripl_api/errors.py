"""One JSON error shape: `{"detail": "..."}` for domain errors, FastAPI's list of `{loc, msg, type}` for 422s."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError

from tripl_core.errors import DomainError, Invalid, TooManyRequests

log = logging.getLogger("tripl.api")


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

    @app.exception_handler(DataError)
    async def data_error(_: Request, exc: DataError) -> JSONResponse:
        log.info("data error: %s", exc.orig)
        return JSONResponse(status_code=422, content={"detail": [
            {"loc": ["body"], "msg": "A value is out of range for its field.", "type": "value_error"}]})
