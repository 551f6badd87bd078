"""`tripl demo`: the demo project, its synthetic warehouse, a data source, scan configs, and 14 replayed days.

Idempotent: the project (slug `demo`), the data source and the scan configs are reused when they exist, and the
warehouse is regenerated only when its spec changed (a new day, another scale). Scans go through Dagster when it
answers (the replay jobs are picked up by its queue sensor), else through the in-process runner. One scan config
per event type: each type builds its event name from other properties (docs/demo.md), and a config has one
`event_name_format`.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import select
from sqlalchemy.orm import Session

from tripl_core import audit, links
from tripl_core.alerting import destinations as alert_destinations
from tripl_core.alerting import dispatch as alert_dispatch
from tripl_core.alerting import rules as alert_rules
from tripl_core.db.models.alerting import AlertDestination, AlertRule
from tripl_core.db.models.auth import User, UserRole
from tripl_core.db.models.findings import ReleaseRegression, SchemaDrift, ShadowEventCandidate
from tripl_core.db.models.plan import Event, EventType
from tripl_core.db.models.projects import Project
from tripl_core.db.models.scans import ScanJob, ScanJobKind, ScanJobStatus, ScanState
from tripl_core.db.models.sources import DataSource, ScanConfig
from tripl_core.demo import sink, warehouse
from tripl_core.demo.plan import DEMO_SLUG, create_demo_project
from tripl_core.embedded import WAREHOUSE_DB
from tripl_core.errors import Invalid
from tripl_core.plan.branching import main_branch
from tripl_core.scanning import jobs, runner
from tripl_core.security import hash_password
from tripl_core.settings import get_settings
from tripl_core.sources import data_sources, scan_configs

SOURCE_NAME = "Demo warehouse"
ALERT_DESTINATION_NAME = "Demo webhook"
ALERT_RULE_NAME = "Demo · every finding"
# The demo's rule covers every kind of finding its incidents produce.
ALERT_RULE_BODY: dict[str, Any] = {
    "name": ALERT_RULE_NAME, "include_project_total": True, "include_event_types": True, "include_events": True,
    "include_schema_drifts": True, "include_distribution_drifts": True, "include_release_regressions": True,
}
DEMO_EMAIL = "demo@tripl.local"
LOGIN_FILE = "demo-login.txt"
JOB_TIMEOUT_SECONDS = 3600
# Per event type: breakdown columns, distribution drift fields, whether rows carry an app version.
CONFIGS: dict[str, dict[str, Any]] = {
    "screen_view": {"breakdowns": ["properties.platform", "properties.app_version"], "drift": [],
                    "app_version": True},
    "ui_interaction": {"breakdowns": ["properties.platform", "properties.app_version"], "drift": [],
                       "app_version": True},
    "commerce": {"breakdowns": ["properties.platform", "properties.currency"],
                 "drift": ["properties.price", "properties.currency"], "app_version": False},
    "lifecycle": {"breakdowns": ["properties.platform", "properties.app_version"], "drift": [],
                  "app_version": True},
    "error": {"breakdowns": ["properties.platform"], "drift": [], "app_version": False},
}


@dataclass
class DemoSetup:
    """What `setup` made or found."""

    project: Project
    source: DataSource
    configs: dict[str, ScanConfig] = field(default_factory=dict)
    rows: int | None = None  # rows generated (None: the warehouse was already up to date)
    credentials: tuple[str, str] | None = None  # (email, password) of a demo owner created on an empty instance
    alert_destination: AlertDestination | None = None
    alert_rule: AlertRule | None = None


def login_file() -> Path:
    """Where the demo owner's password is kept (data_dir, mode 600), so every start can print the login."""
    return get_settings().data_dir / LOGIN_FILE


def _saved_password(email: str) -> str | None:
    try:
        saved_email, password = login_file().read_text().strip().split("\n", 1)
    except (OSError, ValueError):
        return None
    return password if saved_email == email else None


def demo_actor(db: Session) -> tuple[audit.Actor, tuple[str, str] | None]:
    """The oldest owner (the demo project's owner); on an instance without users, a demo owner is made.

    The second element is the login to print: (email, password) for the demo owner (its password is kept in
    data_dir), or (email, "") for an owner somebody registered (their own password)."""
    user = db.scalar(select(User).where(User.role == UserRole.owner).order_by(User.created_at).limit(1))
    if user is not None:
        return audit.Actor(user), (user.email, _saved_password(user.email) or "")
    password = secrets.token_urlsafe(12)
    user = User(email=DEMO_EMAIL, name="Demo Owner", password_hash=hash_password(password), role=UserRole.owner)
    db.add(user)
    db.flush()
    audit.record(db, audit.Actor(user), "user.register", "user", user.id, DEMO_EMAIL,
                 after={"email": DEMO_EMAIL, "role": "owner"})
    db.commit()
    path = login_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(f"{DEMO_EMAIL}\n{password}\n")
    return audit.Actor(user), (DEMO_EMAIL, password)


def ensure_login() -> tuple[str, str]:
    """For `tripl up --demo`: the demo owner's login, before anything else starts (printed in the first lines)."""
    from tripl_core.db.session import new_session

    with new_session() as db:
        _, login = demo_actor(db)
    return login or ("", "")


def ensure_project(db: Session, actor: audit.Actor) -> Project:
    project = db.scalar(select(Project).where(Project.slug == DEMO_SLUG))
    return project if project is not None else create_demo_project(db, actor)


def _reader_password(db: Session) -> str:
    """The demo reader's password: the one the data source already holds (so a rerun changes nothing), else new."""
    ds = db.scalar(select(DataSource).where(DataSource.name == SOURCE_NAME))
    current = data_sources.connection_config(ds).password if ds is not None else ""
    return current if current and ds.username.endswith("_reader") else secrets.token_urlsafe(18)


def ensure_source(db: Session, actor: audit.Actor, params: dict[str, Any]) -> DataSource:
    """The demo data source, pointed at `params` (the server's socket directory may move between installs)."""
    ds = db.scalar(select(DataSource).where(DataSource.name == SOURCE_NAME))
    if ds is None:
        return data_sources.create(db, actor, {"name": SOURCE_NAME, **params})
    changes = {k: v for k, v in params.items() if k != "password" and getattr(ds, k, None) != v}
    if params.get("password") and data_sources.connection_config(ds).password != params["password"]:
        changes["password"] = params["password"]
    return data_sources.update(db, actor, ds, changes) if changes else ds


def config_body(source: DataSource, et: EventType) -> dict[str, Any]:
    """Create Scan Config fields for one demo event type."""
    opts = CONFIGS[et.name]
    return {
        "data_source_id": source.id, "event_type_id": et.id, "name": f"Demo · {et.display_name}",
        "base_query": f"SELECT event_time, event_type, properties FROM {warehouse.TABLE} "
                      f"WHERE event_type = '{et.name}'",
        "event_type_column": "event_type", "time_column": "event_time",
        "event_name_format": warehouse.name_format(et.name), "json_value_paths": [],
        "event_group_rules": [], "metric_breakdown_columns": opts["breakdowns"],
        "metric_breakdown_values_limit": 10, "distribution_drift_fields": opts["drift"],
        "cardinality_threshold": 100, "interval": "15m", "replay_chunk_interval": "1d",
        "scan_lookback_hours": 2, "scan_row_limit": 10000, "metrics_row_limit": None,
        "app_version_column": "properties.app_version" if opts["app_version"] else None,
        "app_version_keep_releases": 3,
    }


def ensure_configs(db: Session, actor: audit.Actor, project: Project, source: DataSource) -> dict[str, ScanConfig]:
    branch = main_branch(db, project)
    types = {t.name: t for t in db.scalars(select(EventType).where(EventType.branch_id == branch.id))}
    out: dict[str, ScanConfig] = {}
    for name in CONFIGS:
        if name not in types:  # the demo plan was edited: scan what is left
            continue
        body = config_body(source, types[name])
        cfg = db.scalar(select(ScanConfig).where(ScanConfig.project_id == project.id,
                                                 ScanConfig.name == body["name"]))
        out[name] = cfg if cfg is not None else scan_configs.create(db, actor, project, body)
        if db.get(ScanState, out[name].id) is None:
            # Made up front: parallel Dagster runs of a new config's days would race to insert it.
            db.add(ScanState(scan_config_id=out[name].id, histogram_edges={}))
            db.commit()
    return out


def ensure_alerts(db: Session, actor: audit.Actor, project: Project,
                  url: str | None = None) -> tuple[AlertDestination, AlertRule]:
    """A webhook destination (`url`, by default the local `tripl webhook-sink`) and one rule covering every kind
    of finding. Found by name, so running the demo again updates the URL instead of adding another."""
    url = url or sink.sink_url()
    dest = db.scalar(select(AlertDestination).where(AlertDestination.project_id == project.id,
                                                    AlertDestination.name == ALERT_DESTINATION_NAME))
    if dest is None:
        dest = alert_destinations.create(db, actor, project, {"type": "webhook", "name": ALERT_DESTINATION_NAME,
                                                              "target_url": url})
    elif alert_destinations.secret(dest, "target_url") != url:
        dest = alert_destinations.update(db, actor, dest, {"target_url": url})
    rule = db.scalar(select(AlertRule).where(AlertRule.destination_id == dest.id,
                                             AlertRule.name == ALERT_RULE_NAME))
    if rule is None:
        rule = alert_rules.create(db, actor, dest, ALERT_RULE_BODY)
    return dest, rule


def send_alerts(db: Session, demo: DemoSetup, spec: warehouse.DemoSpec,
                now: datetime | None = None) -> alert_dispatch.Report:
    """One catch-up dispatch of the demo project over its recent incidents.

    The sensor only looks `alert_dispatch_lookback_hours` (48 h) back, so that replaying old data pages nobody
    (older findings are recorded `stale`); the demo's incidents are a few days old, and it wants them delivered.
    The look-back reaches back to its oldest injected incident, not to the start of the replayed weeks: what
    happened before is history, not news. The ledger makes this safe beside the running sensor: each finding
    reaches the rule once, whoever dispatches it (a `stale` verdict is revisited by this wider look-back)."""
    now = now or datetime.now(UTC)
    oldest = min(i.since for i in warehouse.incidents(spec).values())
    hours = max((now - oldest).total_seconds() / 3600 + 1, 1.0)
    return alert_dispatch.run(db, now, project_id=demo.project.id, lookback_hours=hours)


def setup(db: Session, app_url: str, spec: warehouse.DemoSpec, database: str = WAREHOUSE_DB,
          alerts_url: str | None = None) -> DemoSetup:
    """Project, warehouse rows, data source, scan configs and the alert rule (everything but the scans)."""
    actor, credentials = demo_actor(db)
    project = ensure_project(db, actor)
    url = warehouse.ensure_database(app_url, database)
    wanted = f"tripl demo: {spec.describe()}"
    rows = warehouse.generate(url, spec) if warehouse.current(url) != wanted else None
    reader = warehouse.ensure_reader(url, _reader_password(db))
    source = ensure_source(db, actor, warehouse.source_params(reader))
    result = DemoSetup(project, source, ensure_configs(db, actor, project, source), rows, credentials)
    result.alert_destination, result.alert_rule = ensure_alerts(db, actor, project, alerts_url)
    return result


# --- scans ----------------------------------------------------------------------------------------------------

def dagster_up(wait_seconds: float = 0.0) -> bool:
    """Whether the Dagster webserver answers (waiting up to `wait_seconds` while `tripl up` starts it)."""
    settings = get_settings()
    url = f"http://{settings.host}:{settings.dagster_port}/server_info"
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(2.0)


def wait_for(db: Session, job_ids: list, timeout: float = JOB_TIMEOUT_SECONDS,
             progress: Callable[[str], None] = print, poll: float = 2.0) -> list[ScanJob]:
    """Poll job rows until every job is final (the Dagster sensors or the API's scan thread run them)."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        db.expire_all()
        found = [db.get(ScanJob, i) for i in job_ids]
        done = [j for j in found if j.status.is_final]
        line = f"  scans: {len(done)}/{len(found)} jobs finished"
        if line != last:
            progress(line)
            last = line
        if len(done) == len(found) or time.monotonic() > deadline:
            return found
        time.sleep(poll)


def _open_run_job(db: Session, cfg: ScanConfig):
    """A Run Scan job of `cfg` not finished yet (the Dagster scheduler's first one, queued as soon as the config
    exists): the demo waits for it instead of queueing a second run of the same window (one more Dagster run)."""
    return db.scalar(select(ScanJob.id).where(ScanJob.scan_config_id == cfg.id, ScanJob.kind == ScanJobKind.run,
                                              ScanJob.status.in_([ScanJobStatus.pending, ScanJobStatus.running]))
                     .order_by(ScanJob.created_at).limit(1))


def replay(db: Session, demo: DemoSetup, spec: warehouse.DemoSpec, use_dagster: bool,
           include_today: bool = True, progress: Callable[[str], None] = print) -> list[ScanJob]:
    """Replay [spec.start, spec.end) of every config (plus, with `include_today`, a run job for today)."""
    actor, _ = demo_actor(db)
    executor = get_settings().scan_executor
    queued: list = []
    done: list[ScanJob] = []
    # Every replay before any run of today: Dagster's queue launches in creation order, and the long replays
    # started first end together (two scan runs at a time under `tripl up --demo`) instead of one waiting alone.
    kinds = [(ScanJobKind.replay, spec.start, spec.end)] + ([(ScanJobKind.run, None, None)] if include_today else [])
    for kind, t0, t1 in kinds:
        for name, cfg in demo.configs.items():
            if use_dagster or executor == "inprocess":  # someone else executes: queue the job and wait
                running = _open_run_job(db, cfg) if kind == ScanJobKind.run else None
                if running is not None:  # the scheduler was first (the configs exist since setup): wait for it
                    queued.append(running)
                    continue
                job = jobs.enqueue(db, actor, demo.project, cfg, kind, t0, t1, trigger="api")
                queued.append(job.id)
                continue
            job = jobs.enqueue(db, actor, demo.project, cfg, kind, t0, t1, trigger="inprocess")
            progress(f"  {kind.value} {name}…")
            t = time.monotonic()
            done.append(runner.run_job(db, job))
            progress(f"  {kind.value} {name}: {done[-1].status.value} in {time.monotonic() - t:.0f} s")
    if queued:
        done += wait_for(db, queued, progress=progress)
    return done


# --- command --------------------------------------------------------------------------------------------------

def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _finding_url(db: Session, demo: DemoSetup, base: str, kind: str, model: Any, column: Any,
                 value: Any) -> str | None:
    """The console page of the newest finding of `model` whose `column` is `value` (None until a scan made one)."""
    row = db.scalar(select(model.id).where(model.project_id == demo.project.id, column == value)
                    .order_by(model.created_at.desc()).limit(1))
    return links.finding_page(base, demo.project.slug, kind, row) if row is not None else None


def incident_urls(db: Session, demo: DemoSetup, spec: warehouse.DemoSpec, base: str) -> list[tuple[str, str]]:
    """(incident line, API URL showing its finding) for every injected incident."""
    p = f"{base}/api/v1/projects/{demo.project.slug}"
    branch = main_branch(db, demo.project)
    events = {n: i for n, i in db.execute(select(Event.name, Event.id).where(Event.branch_id == branch.id))}
    cfg = demo.configs
    hour = timedelta(hours=1)
    out = []
    for key, inc in warehouse.incidents(spec).items():
        if key in ("spike", "drop") and inc.subject in events:  # the console's event page: band and markers
            url = (f"{links.event_page(base, demo.project.slug, events[inc.subject])}"
                   f"?time_from={_iso(inc.since - hour * 48)}&time_to={_iso(inc.until + hour * 24)}")
        elif key == "shadow":
            url = _finding_url(db, demo, base, "shadow_event", ShadowEventCandidate, ShadowEventCandidate.name,
                               inc.subject) or f"{p}/reconciliation/shadow-events"
        elif key == "dead":
            url = (links.finding_page(base, demo.project.slug, "dead_event", events[inc.subject])
                   if inc.subject in events else f"{p}/reconciliation/dead-events?days=3")
        elif key in ("type_change", "new_field") and inc.event_type in cfg:
            url = _finding_url(db, demo, base, "schema_drift", SchemaDrift, SchemaDrift.field_name, inc.subject) \
                or f"{p}/event-types/{cfg[inc.event_type].event_type_id}/drifts"
        elif key == "distribution" and "commerce" in cfg:
            url = f"{p}/distribution-drifts?scope_type=event_type&scope_ref={cfg['commerce'].event_type_id}"
        elif key == "regression" and inc.event_type in cfg:
            url = (_finding_url(db, demo, base, "release_regression", ReleaseRegression, ReleaseRegression.scope_ref,
                                events.get(inc.subject)) if inc.subject in events else None) \
                or f"{p}/scans/{cfg[inc.event_type].id}/release-regressions"
        else:
            continue  # the demo plan was edited and lost what this incident needs
        line = f"{inc.kind}: {inc.event_type}/{inc.subject} since {inc.since:%Y-%m-%d %H:%M} UTC → {inc.finding}"
        out.append((line, url))
    return out


def where_to_look(db: Session, demo: DemoSetup, spec: warehouse.DemoSpec, use_dagster: bool) -> str:
    s = get_settings()
    api = links.base_url(s)  # one host throughout (the session cookie is per host)
    p = f"{api}/api/v1/projects/{demo.project.slug}"
    lines = ["", f"Demo project '{demo.project.name}': {links.project_page(api, demo.project.slug)}",
             f"  alert inbox     {links.inbox_page(api, demo.project.slug)}",
             f"  API docs        {api}/docs (project: {p})"]
    if use_dagster:
        lines.append(f"  Dagster UI      http://{api.split('://', 1)[1].rsplit(':', 1)[0]}:{s.dagster_port}/assets")
    if demo.credentials:
        email, password = demo.credentials
        lines.append(f"  log in as {email} with password {password} (kept in {login_file()})" if password
                     else f"  log in as {email} (the instance's first owner) with your password")
    if demo.alert_destination is not None:
        target = alert_destinations.secret(demo.alert_destination, "target_url") or ""
        lines += [f"Alerts: rule '{ALERT_RULE_NAME}' → webhook {target}",
                  f"  deliveries      {p}/alerts/deliveries",
                  f"  inbox           {p}/alerts/inbox"]
        if target == sink.sink_url():
            lines.append(f"  received        {sink.sink_file()} (one JSON line per alert; GET {target}); "
                         "`tripl up --demo` runs the sink, else start `tripl webhook-sink`")
    lines.append("Injected incidents and where their findings are (docs/demo.md):")
    for line, url in incident_urls(db, demo, spec, api):
        lines += [f"  - {line}", f"    {url}"]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tripl demo", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=warehouse.DemoSpec.days,
                        help="days of history to generate and replay (9..90)")
    parser.add_argument("--scale", type=float, default=1.0, help="volume multiplier (1: ~30k rows a day)")
    parser.add_argument("--wait-dagster", type=float, default=0.0,
                        help="seconds to wait for the Dagster webserver before scanning in-process")
    parser.add_argument("--inprocess", action="store_true", help="scan in this process even if Dagster runs")
    parser.add_argument("--alerts-url", default=None,
                        help="webhook URL of the demo's alert rule (default: the local `tripl webhook-sink`)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `tripl demo`: 0 when every scan succeeded, 1 when one failed, 2 for bad options."""
    from tripl_core.db.session import database_url, new_session

    args = parse_args(argv)
    try:
        spec = warehouse.DemoSpec(days=args.days, scale=args.scale)
    except ValueError as exc:
        print(f"tripl demo: {exc}", file=sys.stderr)
        return 2
    if args.alerts_url is not None and not args.alerts_url.startswith(("http://", "https://")):
        print("tripl demo: --alerts-url must be an http(s) URL", file=sys.stderr)
        return 2
    from tripl_core.runtime import ensure_database

    t0 = time.monotonic()
    ensure_database()  # embedded server + migrations (a no-op beside `tripl up`, which did it)
    with new_session() as db:
        print(f"demo: building the project and the warehouse ({spec.describe()})…")
        try:
            demo = setup(db, database_url(), spec, alerts_url=args.alerts_url)
        except Invalid as exc:  # e.g. an --alerts-url the webhook channel refuses (loc: target_url)
            print(f"tripl demo: {'.'.join(map(str, exc.loc))}: {exc}", file=sys.stderr)
            return 2
        except psycopg.Error as exc:  # e.g. a managed server that forbids CREATE DATABASE
            print(f"tripl demo: could not build the demo warehouse database '{WAREHOUSE_DB}': {exc}",
                  file=sys.stderr)
            return 1
        rows = "unchanged" if demo.rows is None else f"{demo.rows:,} rows"
        print(f"demo: warehouse '{WAREHOUSE_DB}'.{warehouse.TABLE}: {rows}; {len(demo.configs)} scan configs")
        use_dagster = not args.inprocess and get_settings().scan_executor == "dagster" \
            and dagster_up(args.wait_dagster)
        print(f"demo: replaying {spec.start:%Y-%m-%d} .. {spec.end - timedelta(days=1):%Y-%m-%d} "
              f"{'through Dagster' if use_dagster else 'in-process'}…")
        done = replay(db, demo, spec, use_dagster)
        failed = [j for j in done if j.status.value != "succeeded"]
        for j in failed:
            print(f"demo: scan job {j.id} {j.status.value}: {j.error_message}", file=sys.stderr)
        report = send_alerts(db, demo, spec)
        print(f"demo: alerts: {report.matched} findings newly matched, {len(report.deliveries)} new deliveries, "
              f"{report.sent} sent, {report.failed} failed (failed sends are retried by the alert sensor)")
        print(where_to_look(db, demo, spec, use_dagster))
        print(f"demo: done in {time.monotonic() - t0:.0f} s at {datetime.now(UTC):%H:%M} UTC")
    return 1 if failed else 0
