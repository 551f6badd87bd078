"""Generated requests (schemathesis) against this area's operations only: never 5xx, responses match schemas.

The whole-API property test lives in tests/api; this one runs the same checks with a larger budget on the
variables, relations, chart-annotations and event-photos operations, with a real event to hang photos on.
"""

from __future__ import annotations

from tests.api.helpers import bearer, mint_key
from tests.api.properties import failures, operations

TAGS = {"variables", "relations", "chart-annotations", "event-photos"}


def test_area_operations_conform(app, owner, plan, event):
    headers = bearer(mint_key(owner, "schemathesis", scope="write")["token"])
    ops = [op for op in operations(app) if TAGS & set(op.definition.raw.get("tags", []))]
    assert len(ops) == 20

    def pinned(op) -> dict[str, str]:
        return {"slug": "shop-app", **({"event_id": str(event.id)} if "{event_id}" in op.path else {})}

    found = failures(ops, headers, 15, pinned=pinned)
    assert not found, "\n\n".join(found)
