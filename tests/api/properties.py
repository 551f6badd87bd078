"""Drive operations of the app's own /openapi.json with schemathesis' Hypothesis strategies: never a 5xx, every
documented response matches its schema and content type.

schemathesis' lazy pytest integration (`schemathesis.pytest.from_fixture`) breaks on pytest 9.2 (it reads the
removed `Node._nodeid`), so the operations are driven with their strategies directly.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance
from schemathesis.specs.openapi.checks import status_code_conformance

# No 5xx; every answered status is documented; every documented body matches its schema and content type.
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]
# Requests sent per status, over the process (figures for docs/development.md; `-s` shows each run's summary).
TALLY: Counter[int] = Counter()


def operations(app) -> list[Any]:
    """Every operation of /openapi.json; one schemathesis cannot read is itself a finding."""
    ops, errors = [], []
    for result in schemathesis.openapi.from_asgi("/openapi.json", app).get_all_operations():
        try:
            ops.append(result.ok())
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))
    assert not errors, "unreadable operations in /openapi.json:\n" + "\n".join(errors)
    return ops


def pin(ids: dict[str, str]) -> Callable[[Any], dict[str, str]]:
    """Path parameters for an operation: each of `ids` whose name appears in its path."""
    return lambda op: {k: v for k, v in ids.items() if "{" + k + "}" in op.path}


def _check(op: Any, mode: GenerationMode, headers: dict[str, str], examples: int,
           path_parameters: dict[str, str] | None, after: Callable[[Any], None]) -> None:
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy(mode, path_parameters=path_parameters))
    def check(case) -> None:
        try:
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            TALLY[response.status_code] += 1
        except BaseException as exc:  # a failing check: still one request sent
            TALLY[getattr(getattr(exc, "response", None), "status_code", 0)] += 1
            raise
        after(op)

    check()


def failures(ops: Iterable[Any], headers: dict[str, str], examples: int,
             pinned: Callable[[Any], dict[str, str] | None] = lambda op: None,
             after: Callable[[Any], None] = lambda op: None) -> list[str]:
    """Run `examples` valid and `examples` invalid requests per operation (path parameters from `pinned`, `after`
    called after each request); returns one report per failing operation and mode."""
    out = []
    before = sum(TALLY.values())
    ops = list(ops)
    for op in ops:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _check(op, mode, headers, examples, pinned(op) or None, after)
            except Unsatisfiable:
                pass  # nothing to negate (no parameters, no body): the positive run covered it
            # schemathesis reports several distinct failures as a FailureGroup (a BaseExceptionGroup)
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect them all, then report
                example = "\n".join(getattr(exc, "__notes__", []))  # Hypothesis' falsifying example
                out.append(f"[{mode.value}] {op.method.upper()} {op.path}: {type(exc).__name__}: "
                           f"{str(exc)[:1500]}\n{example[:1500]}")
    print(f"property run: {len(ops)} operations, {sum(TALLY.values()) - before} requests, {len(out)} failing "
          f"operation/mode pairs; statuses so far {dict(sorted(TALLY.items()))}")
    return out
