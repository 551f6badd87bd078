"""The demo warehouse: a `warehouse` database of synthetic raw events matching the demo plan, with incidents.

Rows are generated **in SQL** (generate_series + random(), seeded with setseed and run on a serial plan, so the
same spec gives the same rows) into one table `raw_events(event_time, event_type, properties jsonb)`:
event types and event names follow `tripl_core.demo.plan_data` (docs/demo.md), volumes have daily and weekly
seasonality and a slow growth trend, four app versions roll out over time, and the incidents of `incidents()`
are injected relative to `spec.end` (the end of the replayed history, midnight UTC). Rows continue for
`spec.tail_days` after `end`, so the scheduled scans of a running instance keep finding fresh data.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from sqlalchemy.engine import URL, make_url

from tripl_core.demo import plan_data
from tripl_core.warehouse.roles import ensure_postgres_reader

log = logging.getLogger("tripl.demo")

TABLE = "raw_events"
EMITTED_STATUSES = ("live", "implemented")  # shipped events; drafts are not in the app yet, old ones are gone

# Average rows per 15 minutes of each emitted event at scale 1 (about 30k rows a day in all).
RATES: dict[str, float] = {
    "home": 40, "search": 15, "search_results": 14, "category": 12, "product_list": 10, "product_detail": 25,
    "cart": 8, "checkout_shipping": 4, "checkout_payment": 3.5, "order_confirmation": 3, "profile": 3,
    "settings": 2, "login": 4, "signup": 1.5,
    "home.banner.tap": 6, "home.recommendation_card.tap": 10, "home.carousel.swipe": 8,
    "search.search_bar.tap": 12, "search_results.filter_chip.toggle": 6,
    "product_detail.add_to_cart_button.tap": 7, "settings.dark_mode_switch.toggle": 1,
    "product_viewed": 25, "product_added_to_cart": 7, "product_removed_from_cart": 1.5, "cart_viewed": 8,
    "checkout_started": 4, "payment_info_entered": 3.2, "order_completed": 3,
    "app_installed": 1.5, "app_opened": 30, "app_backgrounded": 28, "app_updated": 2,
    "push_permission_granted": 0.8, "user_signed_up": 1.5, "user_logged_in": 4,
    "network.timeout": 1.2, "network.offline": 0.8, "payment.declined": 0.5, "payment.three_ds_failed": 0.2,
    "api.server_error": 0.6, "api.unauthorized": 0.7, "app.crash": 0.3,
}
# App releases: version → days before `end` it shipped (the oldest is everyone's version before the others).
RELEASES: list[tuple[str, float]] = [("4.0.0", 60), ("4.1.0", 10), ("4.2.0", 7), ("4.3.0", 5 - 8 / 24)]
TYPES_WITH_APP_VERSION = ("screen_view", "ui_interaction", "lifecycle")

# The incidents (kind → what is injected); their times are in `incidents()`.
SPIKE_EVENT = "home"  # screen_view: a push campaign deep-links everybody to the home screen
DROP_EVENT = "app_opened"  # lifecycle: an SDK upload outage loses 90 % of app opens for 3 hours
SHADOW_EVENT = "promo_popup"  # screen_view: a new screen nobody put in the plan
DEAD_EVENT = "search_results.filter_chip.toggle"  # ui_interaction: lost in a redesign of the filters
TYPE_CHANGE = ("screen_view", "load_time_ms")  # Android starts sending it as a string
NEW_FIELD = ("ui_interaction", "experiment_variant")  # an A/B test adds a property
SHIFT_FIELD = ("commerce", "price")  # prices jump ×2.5 (a pricing experiment gone wrong)
REGRESSION = ("4.3.0", "search.search_bar.tap")  # release 4.3.0 never sends the search bar tap


@dataclass(frozen=True)
class DemoSpec:
    """What to generate. `end` is the end of the replayed history (midnight UTC, default: today)."""

    # 11 days: the detector's one-week warm-up (672 buckets) before the oldest incident (E-4d), and the week of
    # baseline the price drift (E-2d) needs; more days only make the demo slower (docs/demo.md)
    days: int = 11
    scale: float = 1.0
    seed: float = 0.4242
    end: datetime = field(default_factory=lambda: datetime.now(UTC).replace(hour=0, minute=0, second=0,
                                                                            microsecond=0))
    tail_days: int = 2

    def __post_init__(self) -> None:
        if not 9 <= self.days <= 90:
            raise ValueError("days must be 9..90 (distribution drift compares a day with the 7 days before)")
        if not 0 < self.scale <= 20:
            raise ValueError("scale must be in (0, 20]")
        if not -1 <= self.seed <= 1:
            raise ValueError("seed must be in [-1, 1] (PostgreSQL setseed)")

    @property
    def start(self) -> datetime:
        return self.end - timedelta(days=self.days)

    @property
    def stop(self) -> datetime:
        return self.end + timedelta(days=self.tail_days)

    def describe(self) -> str:
        return f"days={self.days} scale={self.scale} seed={self.seed} end={self.end.isoformat()}"


@dataclass(frozen=True)
class Incident:
    """One injected incident and the finding it must produce (documented in docs/demo.md)."""

    kind: str
    event_type: str
    subject: str  # event name or field name
    since: datetime
    until: datetime | None
    finding: str


def incidents(spec: DemoSpec) -> dict[str, Incident]:
    e = spec.end
    d = timedelta(days=1)
    h = timedelta(hours=1)
    rel = e - timedelta(days=RELEASES[-1][1])
    return {
        "spike": Incident("spike", "screen_view", SPIKE_EVENT, e - 2 * d + 18 * h, e - 2 * d + 20 * h,
                          "anomaly signal, direction spike, on the event"),
        "drop": Incident("drop", "lifecycle", DROP_EVENT, e - 3 * d + 9 * h, e - 3 * d + 12 * h,
                         "anomaly signal, direction drop, on the event"),
        "shadow": Incident("shadow", "screen_view", SHADOW_EVENT, e - 4 * d + 10 * h, None,
                           "shadow event candidate (status new)"),
        "dead": Incident("dead", "ui_interaction", DEAD_EVENT, e - 4 * d, None,
                         "dead event (List Dead Events with days ≤ 3)"),
        "type_change": Incident("type_change", *TYPE_CHANGE, e - 3 * d, None, "schema drift type_mismatch"),
        "new_field": Incident("new_field", *NEW_FIELD, e - 2 * d, None, "schema drift new_field"),
        "distribution": Incident("distribution", *SHIFT_FIELD, e - 2 * d, None,
                                 "distribution drift (is_drift) on properties.price"),
        "regression": Incident("regression", "ui_interaction", REGRESSION[1], rel, None,
                               f"release regression of {REGRESSION[0]}, direction drop"),
    }


# --- connection helpers --------------------------------------------------------------------------------------

def server_url(app_url: str, database: str) -> URL:
    """A libpq URL of `database` on the server of `app_url` (SQLAlchemy or libpq form)."""
    return make_url(app_url).set(drivername="postgresql", database=database)


def ensure_database(app_url: str, database: str) -> str:
    """Create `database` on the app database's server if missing; return its libpq URL."""
    admin = server_url(app_url, "postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = %s", (database,)).fetchone():
            conn.execute(f'create database "{database}"')
    return server_url(app_url, database).render_as_string(hide_password=False)


def ensure_reader(url: str, password: str) -> str:
    """A read-only login role (`<database>_reader`: SELECT on the public schema, now and for tables created
    later) for the warehouse at `url` (an admin URL); returns the libpq URL of that role. The demo's data source
    connects through it, as docs/warehouses.md asks of every data source: a superuser there could read the
    server's files and end other sessions through any function the query checker missed."""
    u = make_url(url)
    try:
        role = ensure_postgres_reader(url, u.database, password=password)
    except psycopg.errors.InsufficientPrivilege as exc:  # an app role without CREATEROLE (an external server)
        log.warning("demo warehouse: cannot create a read-only role (%s); the demo data source connects as %s "
                    "and Test Data Source Connection will say what that role may do", exc, u.username)
        return url
    return u.set(username=role, password=password).render_as_string(hide_password=False)


def source_params(url: str) -> dict[str, Any]:
    """Create Data Source fields for a libpq URL (a Unix-socket directory is a valid host)."""
    u = make_url(url)
    host = u.host or u.query.get("host") or "localhost"
    # 120 s, not the default 30 s: a scan run reads its (up to 7) days in one aggregate statement; the demo's
    # screen_view week spent 75 s in the warehouse in one run at load 8 on 2 CPUs, and 14 days in one statement
    # ran past 30 s. A demo that fails on a timeout on a busy laptop shows nothing.
    return {"db_type": "postgres", "host": host if isinstance(host, str) else host[0], "port": u.port or 5432,
            "database_name": u.database, "username": u.username or "", "password": u.password or "",
            "timeout_seconds": 120}


# --- generation ------------------------------------------------------------------------------------------------

def catalog() -> list[tuple[str, str, float, str]]:
    """(event_type, name, rate, fixed properties JSON) of every emitted event plus the shadow one."""
    rows = []
    for ev in plan_data.EVENTS:
        if ev["status"] not in EMITTED_STATUSES:
            continue
        fixed = {k: v for k, v in ev["values"].items() if k not in ("platform", "currency")}
        rows.append((ev["type"], ev["name"], float(RATES.get(ev["name"], 1.0)), json.dumps(fixed)))
    rows.append(("screen_view", SHADOW_EVENT, 5.0, json.dumps({"screen_name": SHADOW_EVENT})))
    return rows


def name_format(event_type: str, json_column: str = "properties") -> str:
    """The scan config's event_name_format of an event type: the plan's format over the JSON column."""
    fmt = next(t["name_format"] for t in plan_data.EVENT_TYPES if t["name"] == event_type)
    return re.sub(r"\{(\w+)\}", lambda m: "{" + f"{json_column}.{m.group(1)}" + "}", fmt)


_VERSION_SQL = """
    case when u_ver < {p3} then '4.3.0' when u_ver < {p2} then '4.2.0' when u_ver < {p1} then '4.1.0'
         else '4.0.0' end
"""


def _adoption(version_index: int) -> str:
    """Share of users on this release or a newer one at `ts` (an exponential rollout, 92 % at most)."""
    rel = f"(%(end)s::timestamptz - interval '{RELEASES[version_index][1] * 86400:.0f} seconds')"
    return f"(case when ts < {rel} then 0 else 0.92 * (1 - exp(-extract(epoch from ts - {rel}) / 129600.0)) end)"


GENERATE_SQL = """
insert into {table} (event_time, event_type, properties)
with buckets as (
    select b from generate_series(%(start)s::timestamptz, %(stop)s::timestamptz - interval '15 minutes',
                                  interval '15 minutes') as b
), rates as (
    select b, c.event_type, c.name, c.fixed,
           c.rate * %(scale)s
           -- daily seasonality: trough at 03:00 UTC, peak at 15:00 UTC (mean 1)
           * (0.35 + 0.65 * (0.5 + 0.5 * sin(2 * pi() * (extract(hour from b) + extract(minute from b) / 60.0 - 9)
                                              / 24))) / 0.675
           -- weekly seasonality: shoppers shop at weekends
           * (case extract(isodow from b) when 6 then 1.3 when 7 then 1.35 when 5 then 1.1 else 0.95 end)
           -- growth: +1 %% a day
           * (1 + 0.01 * extract(epoch from b - %(start)s::timestamptz) / 86400.0)
           -- incidents on volume
           * (case when c.name = %(spike_event)s and b >= %(spike_from)s and b < %(spike_to)s then 5
                   when c.name = %(drop_event)s and b >= %(drop_from)s and b < %(drop_to)s then 0.1
                   when c.name = %(dead_event)s and b >= %(dead_from)s then 0
                   when c.name = %(shadow_event)s and b < %(shadow_from)s then 0
                   else 1 end) as lam
    from buckets cross join demo_catalog c
), counts as (
    select *, greatest(0, round(lam + sqrt(lam) * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())))::int
              as n
    from rates where lam > 0
), raw as (
    select event_type, name, fixed, b + random() * interval '15 minutes' as ts, random() as u_plat,
           random() as u_ver, random() as u1, random() as u2, random() as u3,
           sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) as z
    from counts cross join lateral generate_series(1, counts.n) as i
), rows as (
    select *, case when u_plat < 0.5 then 'ios' when u_plat < 0.85 then 'android' else 'web' end as platform,
           {version} as app_version
    from raw
)
select ts, event_type,
       fixed || jsonb_build_object('platform', platform)
       || case when event_type = any(%(typed)s) then jsonb_build_object('app_version', app_version)
               else '{{}}'::jsonb end
       || case event_type
          when 'screen_view' then jsonb_strip_nulls(jsonb_build_object(
              'previous_screen', case when u1 < 0.88 then (array['home', 'search', 'category', 'product_detail',
                                                                'cart', 'profile'])[1 + floor(u2 * 6)::int] end,
              'load_time_ms', case when platform = 'android' and ts >= %(type_from)s
                                   then to_jsonb(least(25000, round(exp(5.99 + 0.6 * z)))::text)
                                   else to_jsonb(least(25000, round(exp(5.99 + 0.6 * z)))) end))
          when 'ui_interaction' then jsonb_strip_nulls(jsonb_build_object(
              'element_position', case when u1 < 0.5 then floor(u2 * 40)::int end,
              'experiment_variant', case when ts >= %(new_field_from)s
                                         then case when u3 < 0.5 then 'control' else 'treatment' end end))
          when 'commerce' then jsonb_strip_nulls(jsonb_build_object(
              'product_id', 'SKU-' || lpad(floor(u1 * 1000000)::int::text, 6, '0'),
              'price', round((exp(3.5 + 0.5 * z) * case when ts >= %(shift_from)s then 2.5 else 1 end)::numeric,
                             2),
              'currency', case when u2 < 0.6 then 'USD' when u2 < 0.9 then 'EUR' else 'GBP' end,
              'quantity', 1 + floor(u3 * u3 * 4)::int,
              'order_id', case when name = 'order_completed'
                               then 'ORD-' || upper(substr(md5(u1::text || u2::text), 1, 8)) end,
              'revenue', case when name = 'order_completed'
                              then round((exp(3.5 + 0.5 * z) * (1 + floor(u3 * u3 * 4)))::numeric, 2) end))
          when 'lifecycle' then jsonb_strip_nulls(jsonb_build_object(
              'session_id', 's-' || substr(md5(u1::text), 1, 12),
              'user_id', case when u2 < 0.6 then 'u-' || floor(u3 * 50000)::int end))
          when 'error' then jsonb_strip_nulls(jsonb_build_object(
              'error_message', case when u1 < 0.8 then 'Something went wrong (' || name || ')' end))
          else '{{}}'::jsonb end
from rows
where not (name = %(regression_event)s and app_version = %(regression_version)s)
"""


def generate(url: str, spec: DemoSpec | None = None) -> int:
    """(Re)create `raw_events` in the database at `url` and fill it; returns the number of rows."""
    spec = spec or DemoSpec()
    inc = incidents(spec)
    version = _VERSION_SQL.format(p3=_adoption(3), p2=_adoption(2), p1=_adoption(1))
    params: dict[str, Any] = {
        "start": spec.start, "stop": spec.stop, "end": spec.end, "scale": spec.scale,
        "spike_event": SPIKE_EVENT, "spike_from": inc["spike"].since, "spike_to": inc["spike"].until,
        "drop_event": DROP_EVENT, "drop_from": inc["drop"].since, "drop_to": inc["drop"].until,
        "dead_event": DEAD_EVENT, "dead_from": inc["dead"].since,
        "shadow_event": SHADOW_EVENT, "shadow_from": inc["shadow"].since,
        "type_from": inc["type_change"].since, "new_field_from": inc["new_field"].since,
        "shift_from": inc["distribution"].since, "typed": list(TYPES_WITH_APP_VERSION),
        "regression_event": REGRESSION[1], "regression_version": REGRESSION[0],
    }
    with psycopg.connect(url, autocommit=False) as conn:
        conn.execute("set local max_parallel_workers_per_gather = 0")  # one process: random() order is fixed
        conn.execute(f"drop table if exists {TABLE}")
        conn.execute(f"create table {TABLE} (event_time timestamptz not null, event_type text not null, "
                     "properties jsonb not null)")
        conn.execute("create temp table demo_catalog (event_type text, name text, rate float8, fixed jsonb) "
                     "on commit drop")
        with conn.cursor() as cur:
            cur.executemany("insert into demo_catalog values (%s, %s, %s, %s::jsonb)", catalog())
        conn.execute("select setseed(%s)", (spec.seed,))
        sql = GENERATE_SQL.format(table=TABLE, version=version)
        n = conn.execute(sql, params).rowcount
        conn.execute(f"create index on {TABLE} (event_time)")
        conn.execute(f"comment on table {TABLE} is {_quote('tripl demo: ' + spec.describe())}")
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"analyze {TABLE}")
    return int(n)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def current(url: str) -> str | None:
    """The spec description the table was generated with (None: no demo table yet)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("select obj_description(to_regclass(%s), 'pg_class')", (TABLE,)).fetchone()
    return row[0] if row else None
