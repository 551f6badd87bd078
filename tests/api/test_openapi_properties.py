"""Property-based test of every operation in the app's own /openapi.json (schemathesis), as an owner.

Each operation gets a bounded number of generated requests, valid and invalid; none may answer 5xx and every
documented response must match its schema and content type. Operations added later are covered without touching
this file. `TRIPL_PROPERTY_EXAMPLES` (per operation and mode) sets the budget for a deeper local run.
"""

from __future__ import annotations

import os

from tests.api.helpers import bearer, mint_key
from tests.api.properties import failures, operations

# Examples per operation and mode: a fixed total budget spread over however many operations exist, so the run
# stays under ~3 minutes on 2 cores as operations are added (at least 2 each).
BUDGET = 560
SLUG = "prop-app"
# Operations whose slug is left to the generator: pinning it would let them rename or delete the project the
# other operations run against (it is re-created after them when needed).
UNPINNED = {("PATCH", "/api/v1/projects/{slug}"), ("DELETE", "/api/v1/projects/{slug}")}


def _key(op) -> tuple[str, str]:
    return op.method.upper(), op.path


def test_every_operation_conforms(app, owner):
    def restore(op) -> None:
        if _key(op) in UNPINNED and owner.get(f"/api/v1/projects/{SLUG}").status_code == 404:
            assert owner.post("/api/v1/projects", json={"name": "Property App", "slug": SLUG}).status_code == 201

    assert owner.post("/api/v1/projects", json={"name": "Property App", "slug": SLUG}).status_code == 201
    headers = bearer(mint_key(owner, "schemathesis", scope="write")["token"])
    ops = operations(app)
    assert len(ops) >= 20
    examples = int(os.environ.get("TRIPL_PROPERTY_EXAMPLES") or max(2, min(6, BUDGET // len(ops))))
    found = failures(ops, headers, examples, after=restore,
                     pinned=lambda op: {"slug": SLUG} if "{slug}" in op.path and _key(op) not in UNPINNED else None)
    assert not found, f"{len(found)} operation(s) failed:\n\n" + "\n\n".join(found)
