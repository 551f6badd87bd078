"""Which findings form one incident (tripl_core/alerting/incidents.py): pure, on candidates."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tripl_core.alerting.candidates import Candidate
from tripl_core.alerting.incidents import group, restrict

P = uuid.uuid4()
T0 = datetime(2026, 1, 5, 10, tzinfo=UTC)
TYPES = {"a": uuid.uuid4(), "b": uuid.uuid4()}


def sig(name: str, scope: str = "event", etype: str | None = "a", at: int = 0, hours: int = 1,
        direction: str = "drop", z: float = -6.0, project: uuid.UUID = P) -> Candidate:
    start = T0 + timedelta(hours=at)
    return Candidate(kind="volume", finding_id=uuid.uuid4(), key=name, project_id=project, scan_config_id=None,
                     scope_type=scope, scope_ref=uuid.uuid4(), scope_key=name, at=start,
                     latest=start + timedelta(hours=hours - 1), written_at=start, direction=direction, z=z,
                     event_type_id=TYPES[etype] if etype else None, scan_interval="1h")


def keys(incidents) -> list[list[str]]:
    return [[c.key for c in inc.members] for inc in incidents]


def test_event_type_and_total_overlapping_join_and_the_event_leads():
    got = group([sig("total", "project_total", None, at=1, z=-4), sig("type", "event_type", at=2, z=-9),
                 sig("ev", at=0, hours=3, z=-5)])
    assert keys(got) == [["ev", "type", "total"]]


def test_not_overlapping_other_direction_other_project_or_other_type_stay_apart():
    got = group([sig("ev1", at=0), sig("ev2", at=2),  # ev1's bucket 10:00 ends at 11:00; ev2 starts at 12:00
                 sig("spike", at=0, direction="spike", z=7), sig("other-project", at=0, project=uuid.uuid4()),
                 sig("other-type", etype="b", at=0)])
    assert sorted(map(tuple, keys(got))) == [("ev1",), ("ev2",), ("other-project",), ("other-type",), ("spike",)]
    assert keys(group([sig("ev1", at=0), sig("ev2", at=1)])) == [["ev1", "ev2"]]  # adjacent buckets touch


def test_a_total_joins_event_types_and_a_chain_of_overlaps_is_one_incident():
    got = group([sig("a1", at=0), sig("b1", etype="b", at=0), sig("total", "project_total", None, at=0, hours=2)])
    assert [sorted(k) for k in keys(got)] == [["a1", "b1", "total"]]
    chain = group([sig("x", at=0, hours=2), sig("y", at=1, hours=3), sig("z", at=3)])
    assert [sorted(k) for k in keys(chain)] == [["x", "y", "z"]]


def test_restrict_keeps_what_a_rule_matches():
    inc = group([sig("ev", at=0), sig("total", "project_total", None, at=0)])
    assert keys(restrict(inc, {"ev"})) == [["ev"]] and restrict(inc, set()) == []


def test_drifts_of_one_event_type_and_one_scan_run_are_one_incident():
    def drift(name, etype="a", run=1):
        c = Candidate(kind="schema_drift", finding_id=uuid.uuid4(), key=name, project_id=P, scan_config_id=None,
                      scope_type="event_type", scope_ref=TYPES[etype], scope_key=name, at=T0, latest=T0,
                      written_at=T0, event_type_id=TYPES[etype])
        c.extra["run"] = run
        return c

    got = group([drift("d1"), drift("d2"), drift("d3", run=2), drift("d4", etype="b")],
                scan_run=lambda c: c.extra["run"])
    assert sorted(sorted(k) for k in keys(got)) == [["d1", "d2"], ["d3"], ["d4"]]


def dead(name: str, event: uuid.UUID, last_seen: datetime, etype: str = "a") -> Candidate:
    return Candidate(kind="dead_event", finding_id=uuid.uuid4(), key=name, project_id=P, scan_config_id=None,
                     scope_type="event", scope_ref=event, scope_key=name, at=T0 + timedelta(days=2),
                     latest=T0 + timedelta(days=3), written_at=T0, direction="drop", actual=0.0,
                     event_type_id=TYPES[etype], extra={"last_seen_at": last_seen.isoformat()})


def test_a_drop_of_a_dead_event_during_its_silence_is_listed_under_the_dead_event_only():
    quiet = sig("quiet", at=5, hours=4, z=-12)  # the dead event's empty peak hours, flagged as a drop
    before = sig("before", at=-30)  # a drop of the same event before it went silent: its own incident
    before.scope_ref = quiet.scope_ref
    other = sig("cart", at=6, z=-7)  # another event's drop of the same type at the same time: not the dead one's
    total = sig("total", "project_total", None, at=6)
    finding = dead("dead", quiet.scope_ref, last_seen=T0 + timedelta(hours=3))
    got = group([quiet, before, other, total, finding])
    assert sorted(keys(got)) == [["before"], ["cart", "total"], ["dead", "quiet"]]  # the dead event leads
    # without the dead-event finding (closed: not loaded) the drop is an ordinary volume incident again
    assert sorted(sorted(k) for k in keys(group([quiet, other, total]))) == [["cart", "quiet", "total"]]


def regression(name: str, event: uuid.UUID, found_at: datetime, z: float = -3.0, direction: str = "drop",
               etype: str = "a") -> Candidate:
    return Candidate(kind="release_regression", finding_id=uuid.uuid4(), key=name, project_id=P,
                     scan_config_id=None, scope_type="event", scope_ref=event, scope_key=name, at=found_at,
                     latest=found_at, written_at=found_at, direction=direction, z=z, event_type_id=TYPES[etype],
                     extra={"app_version": "4.3.0"})


def test_a_drop_of_an_event_a_release_lost_is_listed_under_the_regression_which_leads():
    """The demo's release 4.3.0 never sends the search bar tap: as it rolls out the event's volume falls, and the
    person got two items for one cause (session 6: judged a false alert)."""
    falling = sig("falling", at=30, hours=6, z=-9)  # the event's volume as the release reaches most users
    found = regression("4.3.0", falling.scope_ref, found_at=T0 + timedelta(days=3))
    long_ago = sig("long-ago", at=-24 * 20)  # a drop of the same event three weeks before: its own incident
    long_ago.scope_ref = falling.scope_ref
    other = sig("cart", at=31, z=-7)  # another event's drop at the same time
    spike = sig("spike", at=32, direction="spike", z=8)
    spike.scope_ref = falling.scope_ref  # a spike of the event is not what the release lost
    got = group([falling, found, long_ago, other, spike])
    assert sorted(keys(got)) == [["4.3.0", "falling"], ["cart"], ["long-ago"], ["spike"]]  # the regression leads
    gained = regression("4.3.1", falling.scope_ref, found_at=T0 + timedelta(days=3), direction="spike", z=3.0)
    assert sorted(sorted(k) for k in keys(group([falling, gained]))) == [["4.3.1"], ["falling"]]
    assert sorted(sorted(k) for k in keys(group([falling, other]))) == [["cart", "falling"]]  # no finding: volume
