"""Strict scalars for every operation's inputs, in one place (an app-wide dependency).

Pydantic's lax mode reads `false` as the integer 0 and `0.5` (or "0.5" in a query string) as a Unix timestamp, so
`PATCH …/event-types/{id} {"order": false}` and `GET /api/v1/audit?until=0.5` were accepted although the schema
says integer and date-time. The schema is what clients (and schemathesis) go by, so such input is a 422 naming the
field. Checked here, against the declared types of the route's query parameters and JSON body (nested models and
lists included), rather than per field: new operations and models are covered without doing anything.
"""

from __future__ import annotations

import datetime as dt
import re
import types
import typing
from decimal import Decimal
from functools import lru_cache
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel

_NUMERIC = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
_NUMBERS = (int, float, Decimal)
_TEMPORAL = (dt.datetime, dt.date, dt.time)
_MAX_DEPTH = 32


def _args(annotation: Any) -> tuple[Any, ...]:
    """The alternatives of a union / Optional, Annotated unwrapped; a plain type is its own only alternative."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _args(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return tuple(a for arg in typing.get_args(annotation) for a in _args(arg))
    return (annotation,)


def _scalar_rule(annotation: Any) -> str | None:
    """'number' when only numbers are allowed (no bool), 'temporal' when a date/time is (and neither numbers
    nor plain strings are), else None — unions that also take bool, str or Any are left to pydantic."""
    try:
        return _cached_rule(annotation)
    except TypeError:  # an unhashable annotation (metadata objects): decide without the cache
        return _rule(annotation)


@lru_cache(maxsize=4096)
def _cached_rule(annotation: Any) -> str | None:
    return _rule(annotation)


def _rule(annotation: Any) -> str | None:
    alts = [a for a in _args(annotation) if a is not type(None)]
    if any(a is Any or a is bool or a is str or isinstance(a, typing.TypeVar) for a in alts):
        return None
    plain = [a for a in alts if isinstance(a, type)]
    if plain and any(issubclass(a, _TEMPORAL) for a in plain) and not any(issubclass(a, _NUMBERS) for a in plain):
        return "temporal"
    if plain and all(issubclass(a, _NUMBERS) and not issubclass(a, bool) for a in plain):
        return "number"
    return None


def _scalar_error(rule: str | None, value: Any, loc: tuple[Any, ...]) -> dict[str, Any] | None:
    if rule == "number" and isinstance(value, bool):
        return {"type": "int_type", "loc": loc, "input": value,
                "msg": f"Input should be a number, not the boolean {str(value).lower()}"}
    if rule == "temporal" and (isinstance(value, bool | int | float)
                               or (isinstance(value, str) and _NUMERIC.match(value))):
        return {"type": "datetime_type", "loc": loc, "input": value,
                "msg": "Input should be an ISO 8601 date-time (e.g. 2025-01-31T12:00:00Z), not a number"}
    return None


def body_errors(annotation: Any, value: Any, loc: tuple[Any, ...], depth: int = 0) -> list[dict[str, Any]]:
    """Booleans where numbers are declared and numbers where date-times are, anywhere in a JSON value."""
    if depth > _MAX_DEPTH:
        return []
    error = _scalar_error(_scalar_rule(annotation), value, loc)
    if error is not None:
        return [error]
    out: list[dict[str, Any]] = []
    for alt in _args(annotation):
        origin = typing.get_origin(alt)
        if isinstance(alt, type) and issubclass(alt, BaseModel) and isinstance(value, dict):
            for name, field in alt.model_fields.items():
                key = field.alias if field.alias is not None and field.alias in value else name
                if key in value:
                    out += body_errors(field.annotation, value[key], (*loc, key), depth + 1)
            return out
        if origin in (list, set, frozenset, tuple) and isinstance(value, list):
            args = typing.get_args(alt)
            if origin is tuple and args and args[-1] is not Ellipsis:  # fixed-length tuple
                for i, (item_type, item) in enumerate(zip(args, value, strict=False)):
                    out += body_errors(item_type, item, (*loc, i), depth + 1)
            elif args:
                for i, item in enumerate(value):
                    out += body_errors(args[0], item, (*loc, i), depth + 1)
            return out
        if origin is dict and isinstance(value, dict) and len(typing.get_args(alt)) == 2:
            item_type = typing.get_args(alt)[1]
            for key, item in value.items():
                out += body_errors(item_type, item, (*loc, key), depth + 1)
            return out
    return out


def _plan(route: APIRoute) -> tuple[tuple[tuple[str, str], ...], Any]:
    """What to check for a route: its date-time query parameters (name, rule) and its JSON body's type; kept
    on the route (routes are not hashable, and live as long as their app)."""
    plan = getattr(route, "_tripl_strict_plan", None)
    if plan is None:
        plan = _make_plan(route)
        route._tripl_strict_plan = plan  # type: ignore[attr-defined]
    return plan


def _make_plan(route: APIRoute) -> tuple[tuple[tuple[str, str], ...], Any]:
    fields, pending = [], [route.dependant]
    while pending:  # the route's own query parameters and those of its dependencies
        dependant = pending.pop()
        fields += dependant.query_params
        pending += dependant.dependencies
    queries = tuple(dict.fromkeys((f.alias, rule) for f in fields
                                  if (rule := _scalar_rule(f.field_info.annotation)) is not None))
    body = route.body_field.field_info.annotation if route.body_field is not None else None
    return queries, body


async def strict_inputs(request: Request) -> None:
    """The app-wide dependency: 422 for a boolean where the schema says number or a number where it says
    date-time, in the query string or the JSON body."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    queries, body_type = _plan(route)
    errors: list[dict[str, Any]] = []
    for name, rule in queries:
        for value in request.query_params.getlist(name):
            if (error := _scalar_error(rule, value, ("query", name))) is not None:
                errors.append(error)
    if body_type is not None and request.method in ("POST", "PUT", "PATCH", "DELETE") \
            and "json" in request.headers.get("content-type", ""):
        try:
            payload = await request.json()  # parsed once: FastAPI read it before the dependencies ran
        except ValueError:
            payload = None  # FastAPI answers the JSON decode error itself
        if payload is not None:
            errors += body_errors(body_type, payload, ("body",))
    if errors:
        raise RequestValidationError(errors)
