"""Generated requests (schemathesis) against this area's operations only: never 5xx, responses match schemas.

The whole-API property test lives in tests/api; this one runs the same checks with a larger budget on the
variables, relations, chart-annotations and event-photos operations, with a real event to hang photos on.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from tests.api.helpers import bearer, mint_key

TAGS = {"variables", "relations", "chart-annotations", "event-photos"}
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def test_area_operations_conform(app, owner, plan, event):
    headers = bearer(mint_key(owner, "schemathesis", scope="write")["token"])
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    ops = [r.ok() for r in schema.get_all_operations()]
    ops = [op for op in ops if TAGS & set(op.definition.raw.get("tags", []))]
    assert len(ops) == 20
    failures = []
    for op in ops:
        pinned = {"slug": "shop-app"}
        if "{event_id}" in op.path:
            pinned["event_id"] = str(event.id)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @settings(max_examples=15, deadline=None, derandomize=True, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=op.as_strategy(mode, path_parameters=pinned))
            def check(case) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                check()
            except Unsatisfiable:
                pass
            except Exception as exc:  # noqa: BLE001 - report every operation's failure together
                notes = "\n".join(getattr(exc, "__notes__", []))
                failures.append(f"[{mode.value}] {op.method.upper()} {op.path}: {str(exc)[:1200]}\n{notes[:1200]}")
    assert not failures, "\n\n".join(failures)
