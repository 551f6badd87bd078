"""Lists cost a fixed number of SQL statements, whatever the number of rows (no N+1)."""

from __future__ import annotations

import contextlib

from sqlalchemy import event

from tests.plan_extras.conftest import add_event, png_bytes
from tripl_core.db.session import get_engine

P = "/api/v1/projects/shop-app"


@contextlib.contextmanager
def counting():
    box = {"n": 0}

    def inc(*_args, **_kw):
        box["n"] += 1

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", inc)
    try:
        yield box
    finally:
        event.remove(engine, "before_cursor_execute", inc)


def statements(client, path: str) -> int:
    with counting() as box:
        assert client.get(path).status_code == 200
    return box["n"]


def test_lists_do_not_grow_with_rows(owner, db, plan):
    ev = add_event(db, plan.screen, "{v0}_viewed")
    owner.post(f"{P}/variables", json={"name": "v0"})
    photo = owner.post(f"{P}/events/{ev.id}/photos", files={"file": ("a.png", png_bytes(), "image/png")}).json()
    owner.post(f"{P}/events/{ev.id}/photos/{photo['id']}/comments", json={"body": "c0"})
    owner.post(f"{P}/annotations", json={"bucket": "2026-11-01T00:00:00Z", "label": "a0"})
    paths = [f"{P}/variables", f"{P}/events/{ev.id}/photos", f"{P}/events/{ev.id}/photos/{photo['id']}/comments",
             f"{P}/annotations", f"{P}/relations"]
    before = {p: statements(owner, p) for p in paths}
    for i in range(1, 15):
        owner.post(f"{P}/variables", json={"name": f"v{i}"})
        owner.post(f"{P}/events/{ev.id}/photos", files={"file": (f"{i}.png", png_bytes(), "image/png")})
        owner.post(f"{P}/events/{ev.id}/photos/{photo['id']}/comments", json={"body": f"c{i}"})
        owner.post(f"{P}/annotations", json={"bucket": "2026-11-01T00:00:00Z", "label": f"a{i}"})
    assert len(owner.get(f"{P}/variables").json()) == 15
    assert {p: statements(owner, p) for p in paths} == before
