"""Issue 21's original findings, re-checked end to end against a fresh `tripl up` (no Dagster): each one is
reported as `holds` (the fix stands) or `FAILS`, with what was seen.

    .venv/bin/python bench/issue21_recheck.py [--port 18184] [--keep]

Starts `tripl up --no-dagster` from a parent that ignores SIGTERM, in a fresh data directory with its own
embedded PostgreSQL, and stops its whole process group at the end. What is checked (the issue's words):
1. ts_stat: as an editor, Preview Scan Config with SQL inside ts_stat() (pg_terminate_backend, pg_read_binary_file)
   on a data source connected as the server's superuser — and Test Data Source Connection on that superuser;
2. a base_query nested 46 levels deep: Create and Preview Scan Config;
3. a Slack webhook / generic webhook answering an error that echoes the secret path: the stored error and excerpt
   (through tripl's senders; a delivery needs findings, which this quick run does not scan for);
4. cookie-authenticated mutations with a foreign Origin (JSON and a multipart photo upload), security headers;
5. webhook destinations to the cloud metadata address and to tripl's own API on loopback;
6. login throttling with a new X-Forwarded-For per try;
7. kill -9 of an API worker and of the API server: `tripl up` / uvicorn bring them back;
8. the webhook sink started from a parent that ignores SIGTERM stops on SIGTERM.
Exit status 0 when everything holds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psutil
import psycopg

ROOT = Path(__file__).resolve().parents[1]
RESULTS: list[tuple[str, bool, str]] = []
PASSWORD = "correct-horse-battery"


def check(name: str, ok: bool, seen: str) -> None:
    RESULTS.append((name, ok, seen))
    print(f"{'holds' if ok else 'FAILS'}  {name}: {seen}", flush=True)


class Echo:
    """Answers every POST with 404 `Cannot POST <path>` (as Express does), echoing the secret path."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = f"Cannot POST {self.path}".encode()
                self.send_response(404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def start(port: int, data: Path, echo_port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIPL_")}
    env.update(TRIPL_DATA_DIR=str(data), TRIPL_PORT=str(port), TRIPL_LOG_LEVEL="warning", TRIPL_API_WORKERS="2",
               TRIPL_LOGIN_MAX_FAILURES="3", TRIPL_OUTBOUND_ALLOW=f"127.0.0.1:{echo_port}",
               TRIPL_SCAN_EXECUTOR="inprocess")
    return subprocess.Popen([sys.executable, "-m", "tripl_core.cli", "up", "--no-dagster"], env=env, cwd=ROOT,
                            start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))


def wait_ready(proc: subprocess.Popen, base: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return True
        time.sleep(0.3)
    return False


def session(base: str, email: str, register: bool) -> httpx.Client:
    c = httpx.Client(base_url=base, headers={"Origin": base}, timeout=30)
    if register:
        r = c.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "name": email.split("@")[0]})
        assert r.status_code in (200, 201), r.text
    r = c.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c


def sql_checks(owner: httpx.Client, editor: httpx.Client, data: Path) -> None:
    sock = data / "pg"
    r = owner.post("/api/v1/data-sources", json={"name": "superuser", "db_type": "postgres", "host": str(sock),
                                                 "port": 5432, "database_name": "postgres",
                                                 "username": "postgres"})
    if r.status_code != 201:
        check("superuser data source", False, f"could not create it: {r.status_code} {r.text[:200]}")
        return
    ds = r.json()
    t = owner.post(f"/api/v1/data-sources/{ds['id']}/test").json()
    check("Test Data Source Connection refuses a superuser", t.get("success") is False and "superuser" in
          t.get("message", ""), t.get("message", "")[:160])

    victim = psycopg.connect(host=str(sock), port=5432, dbname="postgres", user="postgres",
                             application_name="victim", autocommit=True)
    victim.execute("SELECT 'victim'")
    attacks = {
        "pg_terminate_backend": "SELECT word FROM ts_stat('SELECT to_tsvector(''simple'', "
                                "pg_terminate_backend(pid)::text) FROM pg_stat_activity WHERE application_name = "
                                "''victim'' AND pid <> pg_backend_pid()')",
        "pg_read_binary_file": "SELECT word FROM ts_stat('SELECT to_tsvector(''simple'', "
                               "encode(pg_read_binary_file(''/etc/passwd'', 0, 1000), ''hex''))')",
    }
    for what, query in attacks.items():
        r = editor.post("/api/v1/projects/recheck/scans/preview", json={"data_source_id": ds["id"],
                                                                         "base_query": query})
        detail = r.text[:200]
        check(f"ts_stat({what}) as an editor", r.status_code == 422 and "ts_stat" in detail,
              f"{r.status_code} {detail}")
    try:
        alive = victim.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error as exc:
        alive = False
        print("   victim:", exc)
    check("the victim session survives", alive, "alive" if alive else "terminated")
    victim.close()

    nested = "SELECT * FROM (" * 46 + "SELECT 1 AS x" + ") AS t" * 46
    for what, path, extra in (("Create Scan Config", "/api/v1/projects/recheck/scans",
                               {"name": "deep", "time_column": "x"}),
                              ("Preview Scan Config", "/api/v1/projects/recheck/scans/preview", {})):
        r = editor.post(path, json={"data_source_id": ds["id"], "base_query": nested, **extra})
        check(f"46-level nesting: {what}", r.status_code == 422, f"{r.status_code} {r.text[:160]}")


def secret_echo_checks(echo: Echo) -> None:
    """Through tripl's own senders and redaction (what a delivery stores as error_message / response_excerpt)."""
    from tripl_core.alerting.channels import DestinationConfig, send_alert
    from tripl_core.alerting.message import MessageFormat, RenderedMessage
    from tripl_core.settings import Settings

    msg = RenderedMessage(subject="s", text="t", plain_text="t", format=MessageFormat.plain)
    settings = Settings(outbound_allow=f"127.0.0.1:{echo.port}", alert_delivery_timeout_seconds=5)
    secret = "T000/B000/XXXXSECRETXXXX"
    for kind, cfg in (("Slack webhook", DestinationConfig(
            type="slack", webhook_url=f"http://127.0.0.1:{echo.port}/services/{secret}")),
            ("generic webhook", DestinationConfig(type="webhook",
                                                  target_url=f"http://127.0.0.1:{echo.port}/hooks/{secret}"))):
        result = send_alert(cfg, msg, settings)
        stored = f"{result.error} {result.response_excerpt}"
        check(f"{kind} echoing its secret path", not result.ok and "XXXXSECRETXXXX" not in stored, stored[:160])


def browser_checks(base: str, owner: httpx.Client, event_id: str) -> None:
    evil = {"Origin": "http://evil.example"}
    r = owner.post("/api/v1/projects", json={"name": "Stolen", "slug": "stolen"}, headers=evil)
    check("JSON POST with a foreign Origin and the session cookie", r.status_code == 403, f"{r.status_code}")
    r = owner.post(f"/api/v1/projects/recheck/events/{event_id}/photos", headers=evil,
                   files={"file": ("a.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png")})
    check("multipart photo upload from a foreign Origin", r.status_code == 403, f"{r.status_code}")
    h = httpx.get(f"{base}/docs").headers
    want = ("x-content-type-options", "referrer-policy")
    check("security headers", all(k in h for k in want) and ("x-frame-options" in h or "frame-ancestors"
                                                            in h.get("content-security-policy", "")),
          ", ".join(f"{k}: {h.get(k)}" for k in (*want, "x-frame-options")))


def outbound_checks(port: int, editor: httpx.Client) -> None:
    for what, url in (("the metadata address", "http://169.254.169.254/latest/meta-data/iam/security-credentials/"),
                      ("tripl's own API on loopback", f"http://127.0.0.1:{port}/api/v1/users")):
        r = editor.post("/api/v1/projects/recheck/alerts/destinations",
                        json={"type": "webhook", "name": what, "target_url": url})
        check(f"webhook destination to {what}", r.status_code == 422, f"{r.status_code} {r.text[:140]}")


def throttle_checks(base: str, email: str) -> None:
    answers = [httpx.post(f"{base}/api/v1/auth/login", headers={"X-Forwarded-For": f"203.0.113.{i}"},
                          json={"email": email, "password": "wrong-password"}).status_code for i in range(12)]
    right = httpx.post(f"{base}/api/v1/auth/login", headers={"X-Forwarded-For": "198.51.100.7"},
                       json={"email": email, "password": PASSWORD}).status_code
    check("12 failed logins with rotating X-Forwarded-For meet a 429", 429 in answers, str(answers))
    check("the right password with a new X-Forwarded-For while locked", right == 429, str(right))


def _servers(parent: int) -> list[psutil.Process]:
    out = []
    for child in psutil.Process(parent).children():
        with contextlib.suppress(psutil.Error):
            if child.status() != psutil.STATUS_ZOMBIE and "uvicorn" in " ".join(child.cmdline()):
                out.append(child)
    return out


def supervision_checks(proc: subprocess.Popen, base: str) -> None:
    servers = _servers(proc.pid)
    if not servers:
        check("kill -9 of API workers", False, "no uvicorn server found")
        return
    server = servers[0]
    workers = server.children()
    workers[0].kill()
    psutil.wait_procs([workers[0]], timeout=10)
    deadline = time.monotonic() + 30
    while len(server.children()) < len(workers) and time.monotonic() < deadline:
        time.sleep(0.3)
    check("kill -9 of an API worker: replaced", len(server.children()) >= len(workers) and
          wait_ready(proc, base, 30), f"{len(server.children())}/{len(workers)} workers")
    server.kill()
    deadline = time.monotonic() + 60
    while not [c for c in _servers(proc.pid) if c.pid != server.pid] and time.monotonic() < deadline:
        time.sleep(0.3)
    back = wait_ready(proc, base, 60)
    check("kill -9 of the API server: tripl up restarts it", back and proc.poll() is None,
          "answering again" if back else "not back")


def sink_check(port: int) -> None:
    env = {**os.environ, "TRIPL_WEBHOOK_SINK_PORT": str(port)}
    sink = subprocess.Popen([sys.executable, "-m", "tripl_core.cli", "webhook-sink"], env=env, cwd=ROOT,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
    time.sleep(3)
    os.kill(sink.pid, signal.SIGTERM)
    try:
        code = sink.wait(10)
        check("webhook sink from a SIGTERM-ignoring parent stops on SIGTERM", True, f"exit {code}")
    except subprocess.TimeoutExpired:
        os.killpg(sink.pid, signal.SIGKILL)
        sink.wait()
        check("webhook sink from a SIGTERM-ignoring parent stops on SIGTERM", False, "still running after 10 s")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=18184)
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="tripl-recheck-")) / "data"
    echo = Echo()
    base = f"http://127.0.0.1:{args.port}"
    t0 = time.monotonic()
    proc = start(args.port, data, echo.port)
    try:
        if not wait_ready(proc, base, 180):
            print(proc.stdout.read1(20000).decode() if proc.stdout else "")
            check("tripl up starts", False, "not ready within 180 s")
            return 1
        print(f"tripl up ready in {time.monotonic() - t0:.0f} s ({base}, data {data})", flush=True)
        owner = session(base, "owner@recheck.example", register=True)
        editor_client = session(base, "editor@recheck.example", register=True)
        me = editor_client.get("/api/v1/auth/me").json()
        r = owner.post("/api/v1/projects", json={"name": "Recheck", "slug": "recheck"})
        assert r.status_code == 201, r.text
        r = owner.patch(f"/api/v1/users/{me['id']}/role", json={"role": "editor"})
        assert r.status_code == 200, r.text
        et = owner.post("/api/v1/projects/recheck/event-types", json={"name": "screen_view",
                                                                      "display_name": "Screen view"}).json()
        event = owner.post("/api/v1/projects/recheck/events", json={"event_type_id": et["id"], "name": "home"}).json()

        sql_checks(owner, editor_client, data)
        secret_echo_checks(echo)
        browser_checks(base, owner, event["id"])
        outbound_checks(args.port, editor_client)
        throttle_checks(base, "owner@recheck.example")
        supervision_checks(proc, base)
        sink_check(args.port + 1)
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        echo.httpd.shutdown()
        if not args.keep:
            shutil.rmtree(data.parent, ignore_errors=True)
    failed = [name for name, ok, _ in RESULTS if not ok]
    print(json.dumps({"checks": len(RESULTS), "hold": len(RESULTS) - len(failed), "fail": failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
