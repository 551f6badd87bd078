"""The `tripl` command: run the service (API + Dagster as one process group), migrate, load the demo.

It starts children as processes and never imports tripl_api or tripl_pipelines (no upward imports).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import MutableMapping
from pathlib import Path

from tripl_core import startup
from tripl_core.processes import StopRequested, install_stop_handlers, restore_handlers
from tripl_core.settings import get_settings, reset_settings_cache


def _db_upgrade(_: argparse.Namespace) -> int:
    from tripl_core.migrations import upgrade
    from tripl_core.runtime import ensure_database

    url = ensure_database(migrate=False)
    upgrade(url)
    print("database migrated")
    return 0


def _dagster_home(settings, scan_runs: int | None = None) -> Path:
    """DAGSTER_HOME in data_dir with the repository's dagster.yaml, allowing `scan_runs` scan runs at a time."""
    home = (settings.data_dir / "dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    src = Path.cwd() / "dagster.yaml"
    if src.exists():
        text = src.read_text()
        (home / "dagster.yaml").write_text(text if scan_runs is None else scan_run_limits(text, scan_runs))
    return home


def scan_run_limits(text: str, scan_runs: int) -> str:
    """dagster.yaml's run queue with `scan_runs` backfill (scan) runs at a time and one more run slot, kept for the
    light runs (alert dispatch, Apply Scan Event Groups) so they never wait behind a replay."""
    text = re.sub(r"(?m)^(\s*max_concurrent_runs:\s*)\d+", rf"\g<1>{scan_runs + 1}", text, count=1)
    return re.sub(r'(?m)(key: "dagster/backfill"\n\s*limit:\s*)\d+', rf"\g<1>{scan_runs}", text, count=1)


def _split_db_pool(env: dict[str, str], workers: int) -> None:
    """Share the connection budget between API worker processes: each worker has its own pool, and N full pools
    would exceed PostgreSQL's default max_connections (100) beside Dagster. Explicit settings are kept."""
    if workers <= 1:
        return
    settings = get_settings()
    if "TRIPL_DB_POOL_SIZE" not in env:
        env["TRIPL_DB_POOL_SIZE"] = str(max(4, settings.db_pool_size // workers))
    if "TRIPL_DB_MAX_OVERFLOW" not in env:
        env["TRIPL_DB_MAX_OVERFLOW"] = str(max(2, settings.db_max_overflow // workers))


def _uvicorn_level(level: str) -> str:
    """At the default level uvicorn says only warnings (no per-request access lines, no per-worker start-up
    chatter): `tripl up` prints the addresses itself. TRIPL_LOG_LEVEL=debug brings everything back."""
    return "warning" if level.lower() == "info" else level


def _uvicorn_cmd(settings) -> list[str]:
    """The API's command line. Forwarded headers (X-Forwarded-For) are trusted only from the proxies the operator
    declared (TRIPL_FORWARDED_ALLOW_IPS): uvicorn's own default trusts them from loopback, which let any local
    client choose its address and rotate past the per-address login throttle."""
    cmd = [sys.executable, "-m", "uvicorn", "tripl_api.app:create_app", "--factory",
           "--host", settings.host, "--port", str(settings.port),
           "--workers", str(settings.api_workers), "--log-level", _uvicorn_level(settings.log_level)]
    if settings.forwarded_allow_ips:
        return [*cmd, "--proxy-headers", "--forwarded-allow-ips", settings.forwarded_allow_ips]
    return [*cmd, "--no-proxy-headers"]


# The demo's alerts go to the local `tripl webhook-sink` on 127.0.0.1, and its warehouse lives on the app
# database's server; the outbound policy (tripl_core/outbound.py) refuses loopback by default, so the demo's
# processes allow exactly those address:port pairs — not the rest of loopback (tripl's own API listens there).
def _demo_outbound(database_url: str | None) -> list[str]:
    """The webhook sink's address and port, and the app database server's when it is on loopback over TCP."""
    from sqlalchemy.engine import make_url

    from tripl_core import outbound

    rules = [f"127.0.0.1:{get_settings().webhook_sink_port}"]
    url = make_url(database_url) if database_url else None
    host = url.host if url else None  # None: a Unix socket (the embedded server)
    if url and host and not host.startswith("/"):
        try:
            addresses = outbound.resolve(host)
        except OSError:
            addresses = []
        port = url.port or 5432
        rules += [f"{ip}:{port}" if ip.version == 4 else f"[{ip}]:{port}" for ip in addresses if ip.is_loopback]
    return list(dict.fromkeys(rules))


def _allow_demo_outbound(env: MutableMapping[str, str], database_url: str | None = None) -> None:
    current = [c.strip() for c in env.get("TRIPL_OUTBOUND_ALLOW", "").split(",") if c.strip()]
    extra = [c for c in _demo_outbound(database_url) if c not in current]
    if extra:
        env["TRIPL_OUTBOUND_ALLOW"] = ",".join([*current, *extra])


def _up(args: argparse.Namespace) -> int:
    from tripl_core.processes import Supervisor, install_stop_handlers
    from tripl_core.runtime import dagster_url_for, ensure_dagster_database, ensure_database

    stopping = False

    def on_signal(signum, _frame):
        nonlocal stopping
        stopping = True

    # Before anything is started: children must not inherit an ignored SIGTERM (see tripl_core.processes).
    install_stop_handlers(on_signal)
    url = ensure_database()  # embedded server (owned by this process) + migrations
    settings = get_settings()
    env = dict(os.environ)
    if args.demo:
        _allow_demo_outbound(env, url)
    env.pop("FORWARDED_ALLOW_IPS", None)  # uvicorn reads it; only TRIPL_FORWARDED_ALLOW_IPS decides
    # Embedded mode exported it already; beside an external database it is derived unless configured.
    env["TRIPL_DAGSTER_DATABASE_URL"] = settings.dagster_database_url or dagster_url_for(url)
    if args.no_dagster:  # nobody else would pick scan jobs up: the API runs them (docs/pipelines.md)
        env.setdefault("TRIPL_SCAN_EXECUTOR", "inprocess")
    if args.demo:  # the demo replays at most 90 days: day partitions from there, so the UI's fill % means something
        from datetime import UTC, datetime, timedelta

        env.setdefault("TRIPL_SCAN_FIRST_DAY", f"{datetime.now(UTC) - timedelta(days=91):%Y-%m-%d}")
    # Several worker processes: one Python process is CPU-bound at one core (JSON of large pages, auth). The
    # database is ready and migrated here, and the URL is in `env`, so workers neither start nor migrate it.
    _split_db_pool(env, settings.api_workers)
    supervisor = Supervisor(env)
    try:
        # uvicorn restarts a worker that dies; the supervisor restarts uvicorn itself (and the others).
        supervisor.add("api", _uvicorn_cmd(settings))
        login = None
        if args.demo:  # the demo owner exists before anything starts, so its login is among the first lines
            from tripl_core.demo.load import ensure_login

            login = ensure_login()
        for line in startup.banner(settings, dagster=not args.no_dagster, login=login):
            print(line, flush=True)
        if not args.no_dagster:
            ensure_dagster_database(env["TRIPL_DAGSTER_DATABASE_URL"])
            # the demo replays five configs and nothing else: one scan run per core of a 2-CPU machine
            scan_runs = 2 if args.demo and "TRIPL_DAGSTER_SCAN_RUNS" not in os.environ else settings.dagster_scan_runs
            env["DAGSTER_HOME"] = str(_dagster_home(settings, scan_runs))
            # Production shape: the webserver (UI) and the daemon (sensors, backfills, run queue) as two supervised
            # processes; `dagster dev` stays a developer's choice. Both at INFO, into DATA_DIR/logs/: the daemon
            # logs every sensor tick, thousands of lines that would bury tripl's own (one line per scan job).
            bin_dir = Path(sys.executable).parent
            logs = settings.data_dir / "logs"
            supervisor.add("dagster-webserver", [str(bin_dir / "dagster-webserver"), "-w", "workspace.yaml",
                                                 "-h", settings.host, "-p", str(settings.dagster_port),
                                                 "--log-level", "info"], log_path=logs / "dagster-webserver.log")
            supervisor.add("dagster-daemon", [str(bin_dir / "dagster-daemon"), "run", "-w", "workspace.yaml",
                                              "--log-level", "info"], log_path=logs / "dagster-daemon.log")
            print(f"Dagster logs   {logs}/dagster-*.log", flush=True)
        if args.demo:  # replays through Dagster once its webserver answers (in-process without Dagster)
            # The local receiver of the demo's alert webhook.
            supervisor.add("webhook-sink", [sys.executable, "-m", "tripl_core.cli", "webhook-sink"])
            wait = [] if args.no_dagster else ["--wait-dagster", "300"]
            supervisor.add("demo loader", [sys.executable, "-m", "tripl_core.cli", "demo", *wait], restart=False)
        supervisor.run(lambda: stopping)
    finally:
        supervisor.stop()
    return 0


def _demo(args: argparse.Namespace) -> int:
    try:  # the loader starts the database itself, after parsing its options
        from tripl_core.demo.load import main as demo_main
    except ImportError:
        print("the demo loader is not available yet", file=sys.stderr)
        return 1
    # the loader creates the demo's data source and sends its first alerts itself
    _allow_demo_outbound(os.environ, get_settings().database_url)
    reset_settings_cache()
    return demo_main(args.extra)  # the loader parses its own options (`tripl demo --help`)


def _webhook_sink(args: argparse.Namespace) -> int:
    from tripl_core.demo.sink import main as sink_main

    return sink_main(args.extra)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tripl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the API and Dagster (embedded Postgres unless TRIPL_DATABASE_URL)")
    up.add_argument("--no-dagster", action="store_true", help="start the API only")
    up.add_argument("--demo", action="store_true", help="also load the demo project and warehouse")
    up.set_defaults(func=_up)
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply all migrations").set_defaults(func=_db_upgrade)
    sub.add_parser("demo", help="create the demo project, warehouse and scans", add_help=False
                   ).set_defaults(func=_demo)
    sub.add_parser("webhook-sink", help="receive alert webhooks locally (the demo's destination)", add_help=False
                   ).set_defaults(func=_webhook_sink)
    args, args.extra = parser.parse_known_args(argv)
    if args.extra and args.command not in ("demo", "webhook-sink"):
        parser.error(f"unrecognized arguments: {' '.join(args.extra)}")
    # Every command stops on SIGTERM/SIGINT even when started by a parent that ignores them (`up` sets its own).
    previous = install_stop_handlers()
    try:
        return int(args.func(args) or 0)
    except StopRequested as stop:
        return 128 + stop.signum
    finally:  # main() also runs inside other processes (tests): leave their handlers as they were
        restore_handlers(previous)


if __name__ == "__main__":
    sys.exit(main())
