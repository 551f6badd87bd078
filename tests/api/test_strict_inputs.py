"""Strict scalars (tripl_api/strict.py): no `false` integers, no numbers as date-times, in query strings and JSON
bodies (nested too) — a 422 naming the field — while the ordinary forms keep working."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import BaseModel

from tripl_api.strict import body_errors

PLAN = "/api/v1/projects/shop-app"


def _event_type(owner) -> dict:
    r = owner.post(f"{PLAN}/event-types", json={"name": "screen", "display_name": "Screen"})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.parametrize("url", ["/api/v1/audit?until=0.5", "/api/v1/audit?since=1700000000",
                                 f"{PLAN}/metrics/events?to=0.5", f"{PLAN}/metrics/events?from=-3e2",
                                 f"{PLAN}/annotations?time_from=12"])
def test_numbers_are_not_date_times_in_query_strings(owner, project, url):
    r = owner.get(url)
    assert r.status_code == 422, r.text
    [error] = r.json()["detail"]
    assert error["loc"][0] == "query" and "ISO 8601" in error["msg"]


def test_iso_date_times_still_work(owner, project):
    assert owner.get("/api/v1/audit?until=2030-01-01T00:00:00Z").status_code == 200
    assert owner.get(f"{PLAN}/metrics/events?from=2024-01-01T00:00:00%2B00:00&to=2024-01-02").status_code == 200


def test_false_is_not_an_integer_in_a_body(owner, project):
    et = _event_type(owner)
    r = owner.patch(f"{PLAN}/event-types/{et['id']}", json={"order": False})
    assert r.status_code == 422, r.text
    [error] = r.json()["detail"]
    assert error["loc"] == ["body", "order"] and "boolean false" in error["msg"]
    assert owner.get(f"{PLAN}/event-types/{et['id']}").json()["order"] == et["order"]
    r = owner.patch(f"{PLAN}/event-types/{et['id']}", json={"order": 3})
    assert r.status_code == 200 and r.json()["order"] == 3


def test_numbers_are_not_date_times_in_a_body(owner, project):
    r = owner.post(f"{PLAN}/annotations", json={"bucket": 0.5, "text": "release"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "bucket"], r.text


class _Inner(BaseModel):
    n: int | None = None
    at: dt.datetime | None = None
    label: str | int | None = None  # a union that takes strings: left to pydantic
    flag: bool | int = 0


class _Outer(BaseModel):
    items: list[_Inner] = []
    by_name: dict[str, _Inner] = {}
    pair: tuple[int, dt.date] | None = None
    ratio: float = 0.0


def test_nested_models_lists_and_dicts_are_walked():
    body = {"items": [{"n": 1}, {"n": True, "at": "2024-01-01T00:00:00Z"}],
            "by_name": {"a": {"at": 17}}, "pair": [False, "5"], "ratio": True}
    locs = [tuple(e["loc"]) for e in body_errors(_Outer, body, ("body",))]
    assert locs == [("body", "items", 1, "n"), ("body", "by_name", "a", "at"), ("body", "pair", 0),
                    ("body", "pair", 1), ("body", "ratio")]
    fine = {"items": [{"n": 2, "at": "2024-01-01T00:00:00Z", "label": True, "flag": True}], "ratio": 1}
    assert body_errors(_Outer, fine, ("body",)) == []


def test_every_operation_documents_its_error_statuses(client):
    """The contract lists what the middleware, access checks, domain errors and the database handler answer."""
    schema = client.get("/openapi.json").json()
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail"]
    ops = [(m, p, op) for p, item in schema["paths"].items() for m, op in item.items()]
    assert len(ops) > 100
    for method, path, op in ops:
        codes = set(op["responses"])
        assert {"403", "404", "409", "422", "429", "503"} <= codes, (method, path, sorted(codes))
        assert ("401" in codes) == ((method, path) != ("post", "/api/v1/auth/register")) or "health" in op["tags"]
    login = schema["paths"]["/api/v1/auth/login"]["post"]["responses"]["401"]
    assert login["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
