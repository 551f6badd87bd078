"""Search Project on a large plan: latency and typo recall, against baselines measured in the same run.

Seeds a plan (event types with fields, events with descriptions) on an embedded PostgreSQL, then measures
- the first search (documents built from nothing) and a search after one edit (incremental sync);
- warm latency of tripl's search (stored tsvector + typo expansion + sync check) versus two baselines: full text
  computed from the plan tables on every query (no stored index), and `ILIKE '%q%'` over names;
- recall@5 of the intended event for queries with one typo (adjacent letters swapped), tripl vs ILIKE.

    .venv/bin/python bench/search.py [--events 2400]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from _common import bench_database

AREAS = ["checkout", "cart", "search", "profile", "onboarding", "payment", "video", "player", "feed", "settings",
         "wishlist", "review", "coupon", "shipping", "inventory", "notification", "message", "subscription",
         "trial", "referral"]
OBJECTS = ["button", "page", "item", "banner", "modal", "tab", "link", "card", "form", "list"]
ACTIONS = ["viewed", "clicked", "started", "completed", "failed", "opened", "closed", "added", "removed",
           "shared", "submitted", "cancelled"]


def _seed(db, n_events: int):
    from tripl_core.db.models.plan import BranchKind, Event, EventType, FieldDefinition, FieldType, PlanBranch
    from tripl_core.db.models.projects import Project

    project = Project(name="Bench", slug="bench", description="")
    db.add(project)
    db.flush()
    branch = PlanBranch(project_id=project.id, name="main", kind=BranchKind.main)
    db.add(branch)
    db.flush()
    types = {}
    for area in AREAS:
        et = EventType(project_id=project.id, branch_id=branch.id, name=area, display_name=area.title(),
                       description=f"Everything that happens in {area}")
        db.add(et)
        types[area] = et
    db.flush()
    fields = []
    for area, et in types.items():
        for i, obj in enumerate(OBJECTS):
            fields.append(FieldDefinition(event_type_id=et.id, branch_id=branch.id, name=f"{obj}_{area}_id",
                                          display_name=f"{obj} id", field_type=FieldType.string, order=i,
                                          description=f"Identifier of the {obj} in {area}"))
    db.add_all(fields)
    names = [f"{a}_{o}_{x}" for a in AREAS for o in OBJECTS for x in ACTIONS][:n_events]
    events = [Event(project_id=project.id, branch_id=branch.id, event_type_id=types[n.split("_")[0]].id, name=n,
                    description=f"User {n.split('_')[2]} the {n.split('_')[1]} on the {n.split('_')[0]} screen")
              for n in names]
    db.add_all(events)
    db.commit()
    return project, branch, names


def _ms(fn, repeat: int = 1) -> tuple[float, object]:
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), out


def _typo(name: str, rng: random.Random) -> str:
    words = name.split("_")
    i = rng.randrange(len(words))
    w = words[i]
    if len(w) >= 5:
        j = rng.randrange(1, len(w) - 2)
        words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    return " ".join(words)


def run(n_events: int) -> None:
    from sqlalchemy import text, update

    from tripl_core.db.models.plan import Event
    from tripl_core.db.session import new_session
    from tripl_core.search import query

    db = new_session()
    project, branch, names = _seed(db, n_events)
    docs = len(names) + len(AREAS) * (1 + len(OBJECTS))
    print(f"plan: {len(names)} events, {len(AREAS)} event types, {len(AREAS) * len(OBJECTS)} fields = {docs} docs")

    def search(q: str):
        return query.search(db, project.id, branch.id, q, limit=20)

    cold, _ = _ms(lambda: search("checkout"))
    print(f"{'first search (builds all documents)':<52} {cold:8.1f} ms")
    queries = ["checkout_button_clicked", "chekout buton", "screen", "payment failed", "notification banner"]
    warm = {q: _ms(lambda q=q: search(q), repeat=7)[0] for q in queries}
    db.execute(update(Event).where(Event.name == names[0]).values(description="edited once"))
    db.commit()
    edit, _ = _ms(lambda: search("edited"))
    print(f"{'search after one edit (incremental sync)':<52} {edit:8.1f} ms")

    live = text("""
        SELECT e.id, ts_rank(setweight(to_tsvector('english', tripl_search_text(e.name)), 'A')
                             || setweight(to_tsvector('english', e.description), 'B'), q) AS r
        FROM events e, websearch_to_tsquery('english', :q) q
        WHERE e.branch_id = :b AND (setweight(to_tsvector('english', tripl_search_text(e.name)), 'A')
                                    || setweight(to_tsvector('english', e.description), 'B')) @@ q
        ORDER BY r DESC LIMIT 20""")
    ilike = text("SELECT id, name FROM events WHERE branch_id = :b AND name ILIKE :p ORDER BY name LIMIT 20")
    print(f"\n{'warm latency, median of 7 (ms)':<36} {'tripl':>8} {'live FTS':>9} {'ILIKE':>8}")
    for q in queries:
        lv, _ = _ms(lambda q=q: db.execute(live, {"q": q, "b": branch.id}).all(), repeat=7)
        il, _ = _ms(lambda q=q: db.execute(ilike, {"p": f"%{q}%", "b": branch.id}).all(), repeat=7)
        print(f"  {q:<34} {warm[q]:8.1f} {lv:9.1f} {il:8.1f}")

    rng = random.Random(7)
    sample = rng.sample(names[1:], 60)
    hits_tripl = hits_ilike = 0
    t0 = time.perf_counter()
    for name in sample:
        q = _typo(name, rng)
        found = [h.title for h in search(q).items[:5]]
        hits_tripl += name in found
        pattern = "%" + q.replace(" ", "%") + "%"
        hits_ilike += name in [r.name for r in db.execute(ilike, {"p": pattern, "b": branch.id}).all()[:5]]
    dt = (time.perf_counter() - t0) * 1000 / len(sample)
    print(f"\ntypo recall@5 over {len(sample)} queries: tripl {hits_tripl / len(sample):.0%} "
          f"(avg {dt:.1f} ms/query), ILIKE baseline {hits_ilike / len(sample):.0%}")
    db.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=2400)
    args = ap.parse_args()
    with bench_database("tripl-bench-search-"):
        run(args.events)


if __name__ == "__main__":
    main()
