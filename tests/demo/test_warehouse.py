"""The synthetic demo warehouse: reproducible, shaped like the demo plan, with each incident in the rows."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import psycopg
import pytest

from tripl_core.demo import plan_data, warehouse
from tripl_core.demo.load import main, parse_args


def q(url: str, sql: str, *params) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def fingerprint(url: str) -> str:
    return q(url, f"select md5(string_agg(event_time::text || event_type || properties::text, ',' "
                  f"order by event_time, event_type, properties::text)) from {warehouse.TABLE}")[0][0]


@pytest.mark.parametrize(("kwargs", "word"), [
    ({"days": 8}, "days"), ({"days": 91}, "days"), ({"scale": 0}, "scale"), ({"scale": 21}, "scale"),
    ({"seed": 1.5}, "seed"),
])
def test_spec_rejects_out_of_range_values(kwargs, word):
    with pytest.raises(ValueError, match=word):
        warehouse.DemoSpec(**kwargs)


def test_main_rejects_bad_arguments_before_touching_anything(capsys):
    assert main(["--days", "3"]) == 2
    assert "days must be" in capsys.readouterr().err
    assert parse_args([]).days == 11 and parse_args([]).scale == 1.0 and parse_args([]).wait_dagster == 0


def test_default_spec_ends_at_midnight_utc():
    spec = warehouse.DemoSpec()
    now = datetime.now(UTC)
    assert spec.end.hour == spec.end.minute == 0 and spec.end <= now
    assert (now - spec.end).total_seconds() < 86400 and spec.days == 11


def test_name_format_is_the_plan_format_over_properties():
    assert warehouse.name_format("ui_interaction") == \
        "{properties.screen_name}.{properties.element}.{properties.action}"
    assert warehouse.name_format("error") == "{properties.error_domain}.{properties.error_code}"


def test_generation_is_reproducible(demo_wh_url, tiny_spec):
    n1 = warehouse.generate(demo_wh_url, tiny_spec)
    f1 = fingerprint(demo_wh_url)
    n2 = warehouse.generate(demo_wh_url, tiny_spec)
    assert n1 == n2 > 10_000 and fingerprint(demo_wh_url) == f1
    assert warehouse.current(demo_wh_url) == f"tripl demo: {tiny_spec.describe()}"
    other = warehouse.DemoSpec(days=9, scale=0.05, tail_days=1, seed=0.1, end=tiny_spec.end)
    warehouse.generate(demo_wh_url, other)
    assert fingerprint(demo_wh_url) != f1  # the seed matters


def test_rows_match_the_plan_and_carry_the_incidents(demo_wh_url, tiny_spec):
    warehouse.generate(demo_wh_url, tiny_spec)
    inc = warehouse.incidents(tiny_spec)
    first, last = q(demo_wh_url, f"select min(event_time), max(event_time) from {warehouse.TABLE}")[0]
    assert first >= tiny_spec.start and last < tiny_spec.stop and (first - tiny_spec.start).total_seconds() < 3600

    # every row's name (the type's name_format over its properties) is a shipped plan event or the shadow one
    seen = set()
    for t in plan_data.EVENT_TYPES:
        keys = re.findall(r"\{(\w+)\}", t["name_format"])
        cols = ", ".join(f"properties->>'{k}'" for k in keys)
        for row in q(demo_wh_url, f"select distinct {cols} from {warehouse.TABLE} where event_type = %s", t["name"]):
            seen.add((t["name"], t["name_format"].format(**dict(zip(keys, row, strict=True)))))
    shipped = {(e["type"], e["name"]) for e in plan_data.EVENTS if e["status"] in warehouse.EMITTED_STATUSES}
    assert seen - shipped == {("screen_view", warehouse.SHADOW_EVENT)}
    assert len(seen) > 30  # rare ones (app.crash) may be missing at this tiny scale
    gone = {e["name"] for e in plan_data.EVENTS if e["status"] in ("deprecated", "archived", "draft")}
    assert not gone & {n for _, n in seen}

    # contracts hold outside the incidents: platform enum, app_version regex, commerce has no app_version
    assert q(demo_wh_url, f"select count(*) from {warehouse.TABLE} where properties->>'platform' "
                          "not in ('ios', 'android', 'web')")[0][0] == 0
    assert q(demo_wh_url, f"select count(*) from {warehouse.TABLE} where event_type = any(%s) and "
                          r"properties->>'app_version' !~ '^\d+\.\d+\.\d+$'",
             list(warehouse.TYPES_WITH_APP_VERSION))[0][0] == 0
    assert q(demo_wh_url, f"select count(*) from {warehouse.TABLE} where event_type in ('commerce', 'error') "
                          "and properties ? 'app_version'")[0][0] == 0

    # incidents
    assert q(demo_wh_url, f"select count(*) from {warehouse.TABLE} where properties->>'app_version' = %s and "
                          "properties->>'screen_name' = 'search' and properties->>'element' = 'search_bar'",
             warehouse.REGRESSION[0])[0][0] == 0
    assert q(demo_wh_url, f"select count(*) from {warehouse.TABLE} where properties->>'app_version' = %s",
             warehouse.REGRESSION[0])[0][0] > 0
    strings = q(demo_wh_url, f"select min(event_time), bool_and(properties->>'platform' = 'android') "
                             f"from {warehouse.TABLE} where jsonb_typeof(properties->'load_time_ms') = 'string'")[0]
    assert strings[0] >= inc["type_change"].since and strings[1]
    assert q(demo_wh_url, f"select min(event_time) from {warehouse.TABLE} where properties ? 'experiment_variant'"
             )[0][0] >= inc["new_field"].since
    before, after = q(demo_wh_url, f"select avg((properties->>'price')::float) filter (where event_time < %s), "
                                   f"avg((properties->>'price')::float) filter (where event_time >= %s) "
                                   f"from {warehouse.TABLE} where event_type = 'commerce'",
                      inc["distribution"].since, inc["distribution"].since)[0]
    assert 2.0 < after / before < 3.0
    assert q(demo_wh_url, f"select min(event_time) from {warehouse.TABLE} "
                          "where properties->>'screen_name' = %s", warehouse.SHADOW_EVENT)[0][0] \
        >= inc["shadow"].since
    dead_last = q(demo_wh_url, f"select max(event_time) from {warehouse.TABLE} where event_type = 'ui_interaction' "
                               "and properties->>'element' = 'filter_chip'")[0][0]
    assert dead_last is None or dead_last < inc["dead"].since


def test_the_demo_reader_only_reads_and_a_role_that_cannot_create_roles_falls_back(demo_wh_url, tiny_spec):
    """The demo's data source connects as `<database>_reader` (issue 21); an app role without CREATEROLE (an
    external server) keeps the demo working on its own URL instead of failing."""
    from sqlalchemy.engine import make_url

    warehouse.generate(demo_wh_url, tiny_spec)
    reader_url = warehouse.ensure_reader(demo_wh_url, "pw-1")
    assert make_url(reader_url).username == f"{make_url(demo_wh_url).database}_reader"
    with psycopg.connect(reader_url, autocommit=True) as conn:
        assert conn.execute(f"select count(*) from {warehouse.TABLE}").fetchone()[0] > 10_000
        conn.execute("set default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"delete from {warehouse.TABLE}")
    with psycopg.connect(demo_wh_url, autocommit=True) as conn:
        if not conn.execute("select 1 from pg_roles where rolname = 'demo_plain_app'").fetchone():
            conn.execute("create role demo_plain_app login")
        conn.execute(f'grant connect on database "{make_url(demo_wh_url).database}" to demo_plain_app')
    plain = make_url(demo_wh_url).set(username="demo_plain_app", password=None).render_as_string(
        hide_password=False)
    assert warehouse.ensure_reader(plain, "pw-2") == plain
