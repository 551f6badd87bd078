"""Generated requests against the demo plan with real ids in the path (schemathesis): never 5xx, responses match
their schemas.

The whole-API property test generates path ids, which almost always answer 404; here every operation addressing an
event type, event, field, meta field, variable, relation, branch, branch comment, revision, chart annotation,
photo, API key or user gets a real one, so generated bodies and queries reach the code behind the lookup.
Operations that delete run last, so the others see the ids alive.
`TRIPL_PROPERTY_EXAMPLES` raises the budget for a deeper local run.
"""

from __future__ import annotations

import os

from tests.api.helpers import bearer, mint_key
from tests.api.properties import failures, operations, pin
from tests.plan_extras.conftest import png_bytes


def _items(body):
    return body["items"] if isinstance(body, dict) else body


def _demo_ids(owner) -> dict[str, str]:
    r = owner.post("/api/v1/projects/demo")
    assert r.status_code == 201, r.text
    base = f"/api/v1/projects/{r.json()['slug']}"
    event_type = _items(owner.get(f"{base}/event-types").json())[0]
    branch = owner.post(f"{base}/branches", json={"name": "property run"})
    assert branch.status_code == 201, branch.text
    event_id = _items(owner.get(f"{base}/events").json())[0]["id"]
    photo = owner.post(f"{base}/events/{event_id}/photos", files={"file": ("a.png", png_bytes(), "image/png")})
    made = {
        "photo_id": photo,
        "comment_id": owner.post(f"{base}/branches/{branch.json()['id']}/comments", json={"body": "why?"}),
        "revision_id": owner.post(f"{base}/revisions", json={"summary": "before the property run"}),
        "annotation_id": owner.post(f"{base}/annotations", json={"bucket": "2026-01-01T00:00:00Z",
                                                                  "label": "release 2.0"}),
        "key_id": owner.post("/api/v1/api-keys", json={"name": "to revoke", "scope": "read"}),
    }
    for name, resp in made.items():
        assert resp.status_code == 201, (name, resp.text)
    return {
        **{name: resp.json()["id"] for name, resp in made.items()},
        "slug": r.json()["slug"],
        "event_type_id": event_type["id"],
        "field_id": event_type["field_definitions"][0]["id"],
        "event_id": event_id,
        "meta_field_id": _items(owner.get(f"{base}/meta-fields").json())[0]["id"],
        "variable_id": _items(owner.get(f"{base}/variables").json())[0]["id"],
        "relation_id": _items(owner.get(f"{base}/relations").json())[0]["id"],
        "branch_id": branch.json()["id"],
        "user_id": owner.user["id"],
    }


def test_operations_on_real_ids_conform(app, owner):
    ids = _demo_ids(owner)
    headers = bearer(mint_key(owner, "schemathesis", scope="write")["token"])

    pinned = pin(ids)
    ops = [op for op in operations(app) if set(pinned(op)) - {"slug"}]
    ops.sort(key=lambda op: op.method.upper() == "DELETE")
    assert len(ops) >= 40
    found = failures(ops, headers, int(os.environ.get("TRIPL_PROPERTY_EXAMPLES") or 4), pinned=pinned)
    assert not found, f"{len(found)} operation(s) failed:\n\n" + "\n\n".join(found)
