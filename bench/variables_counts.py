"""List Variables on a large plan: plan-based counts in one SQL statement versus a Python loop, same run.

Seeds `--events` events (each with two field values) and `--variables` variables on a project's main branch;
about a third of the names and values reference a `{variable}`. Then times `variables.list_variables` (counts via
`regexp_matches` in SQL, plus the scan-stats aggregate) against the baseline the code avoids: loading every event
name and field value into Python and counting references with a regex.

    .venv/bin/python bench/variables_counts.py [--events 10000] [--variables 50] [--repeat 20]
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
import uuid

from _common import bench_database


def _seed(n_events: int, n_vars: int):
    from sqlalchemy import insert

    from tripl_core import accounts, audit, projects
    from tripl_core.db.models.auth import User
    from tripl_core.db.models.plan import Event, EventFieldValue, EventType, FieldDefinition, FieldType
    from tripl_core.db.session import new_session
    from tripl_core.plan.branching import main_branch
    from tripl_core.plan.common import PlanScope
    from tripl_core.plan_extras import variables
    from tripl_core.settings import get_settings

    db = new_session()
    user = accounts.register(db, get_settings(), "bench@example.com", "bench-password-1", "Bench")
    actor = audit.Actor(db.get(User, user.id))
    project = projects.create(db, actor, "Bench", "bench")
    scope = PlanScope(project, main_branch(db, project))
    et = EventType(project_id=project.id, branch_id=scope.branch_id, name="screen", display_name="Screen")
    db.add(et)
    db.flush()
    fields = [FieldDefinition(event_type_id=et.id, branch_id=scope.branch_id, name=f"f{i}", display_name=f"f{i}",
                              field_type=FieldType.string) for i in range(2)]
    db.add_all(fields)
    db.flush()
    names = [f"var_{i}" for i in range(n_vars)]
    ev_rows, fv_rows = [], []
    for i in range(n_events):
        eid = uuid.uuid4()
        name = f"{{{names[i % n_vars]}}}_viewed_{i}" if i % 3 == 0 else f"event_{i}"
        ev_rows.append({"id": eid, "project_id": project.id, "branch_id": scope.branch_id, "event_type_id": et.id,
                        "name": name})
        for j, f in enumerate(fields):
            value = f"on {{{names[(i + j) % n_vars]}}}" if (i + j) % 3 == 1 else f"literal {i}"
            fv_rows.append({"id": uuid.uuid4(), "event_id": eid, "field_definition_id": f.id,
                            "branch_id": scope.branch_id, "value": value})
    db.execute(insert(Event), ev_rows)
    db.execute(insert(EventFieldValue), fv_rows)
    db.commit()
    for n in names:
        variables.create(db, actor, scope, n)
    return db, scope


def _python_loop(db, scope) -> dict[str, int]:
    """The baseline: every name and value through Python."""
    from sqlalchemy import select

    from tripl_core.db.models.plan import Event, EventFieldValue
    from tripl_core.db.models.plan_extras import Variable

    pattern = re.compile(r"\{([a-z][a-z0-9_]*)\}")
    refs: dict[str, set] = {}
    for eid, name in db.execute(select(Event.id, Event.name).where(Event.branch_id == scope.branch_id)):
        for m in pattern.findall(name):
            refs.setdefault(m, set()).add(eid)
    for eid, value in db.execute(select(EventFieldValue.event_id, EventFieldValue.value)
                                 .where(EventFieldValue.branch_id == scope.branch_id)):
        for m in pattern.findall(value):
            refs.setdefault(m, set()).add(eid)
    names = db.scalars(select(Variable.name).where(Variable.branch_id == scope.branch_id))
    return {n: len(refs.get(n, ())) for n in names}


def _time(fn, repeat: int) -> tuple[float, float]:
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--variables", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with bench_database("tripl-bench-vars-"):
        run(args)


def run(args) -> None:
    from tripl_core.plan_extras import variables

    db, scope = _seed(args.events, args.variables)
    sql = {v.variable.name: v.stats.event_count for v in variables.list_variables(db, scope)}
    assert sql == _python_loop(db, scope), "SQL and Python counts differ"
    sql_med, sql_p95 = _time(lambda: variables.list_variables(db, scope), args.repeat)
    py_med, py_p95 = _time(lambda: _python_loop(db, scope), args.repeat)
    print(f"{args.events} events × 2 field values, {args.variables} variables, {args.repeat} runs (ms)")
    print(f"{'':28} {'median':>8} {'p95':>8}")
    print(f"{'list_variables (SQL counts)':28} {sql_med:8.1f} {sql_p95:8.1f}")
    print(f"{'baseline: Python loop':28} {py_med:8.1f} {py_p95:8.1f}")
    print(f"speed-up (median): {py_med / sql_med:.1f}x")


if __name__ == "__main__":
    main()
