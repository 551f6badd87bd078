"""`tripl webhook-sink`: a tiny local receiver for the demo's alert webhook.

`tripl up --demo` starts it beside the API and Dagster so that the demo's alert rule has somewhere real to send
to: every POSTed JSON body is appended as one line to `DATA_DIR/demo-alerts.jsonl` and one line per alert is
logged. `GET /alerts` returns the last bodies received (newest last). Standard library only; it binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tripl_core.settings import get_settings

SINK_FILE = "demo-alerts.jsonl"
SINK_PATH = "/alerts"
MAX_BODY_BYTES = 5 * 1024 * 1024
LIST_LIMIT = 50


def sink_file() -> Path:
    return get_settings().data_dir / SINK_FILE


def sink_url(port: int | None = None) -> str:
    """Where the demo's alert rule points by default."""
    return f"http://127.0.0.1:{port or get_settings().webhook_sink_port}{SINK_PATH}"


def summary(body: Any) -> str:
    """One log line for one alert (a `tripl.alert.v1` body; anything else is described by its size)."""
    if not isinstance(body, dict):
        return f"non-object JSON body ({type(body).__name__})"
    items = body.get("items") if isinstance(body.get("items"), list) else []
    kinds: dict[str, int] = {}
    for item in items:  # the items of one alert message (a few dozen at most), not warehouse rows
        kind = item.get("kind", "?") if isinstance(item, dict) else "?"
        kinds[kind] = kinds.get(kind, 0) + 1
    rule = (body.get("rule") or {}).get("name") if isinstance(body.get("rule"), dict) else None
    detail = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "no items"
    return f"alert {body.get('delivery_id') or '-'} rule={rule!r}: {body.get('subject') or ''} [{detail}]"


class _Handler(BaseHTTPRequestHandler):
    server: _SinkServer

    def _reply(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 — http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0 or length > MAX_BODY_BYTES:
            self._reply(413 if length > MAX_BODY_BYTES else 400, {"error": "a JSON body is required"})
            return
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except ValueError:
            self._reply(400, {"error": "the body is not JSON"})
            return
        record = {"received_at": datetime.now(UTC).isoformat(), "path": self.path,
                  "idempotency_key": self.headers.get("Idempotency-Key"), "body": body}
        with self.server.lock, self.server.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        print(f"webhook-sink: {summary(body)}", flush=True)
        self._reply(200, {"ok": True})

    def do_GET(self) -> None:  # noqa: N802
        with self.server.lock:
            lines = self.server.path.read_text(encoding="utf-8").splitlines() if self.server.path.exists() else []
        self._reply(200, {"count": len(lines), "file": str(self.server.path),
                          "last": [json.loads(line) for line in lines[-LIST_LIMIT:]]})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 — one line per alert is enough
        return


class _SinkServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, path: Path) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.path = path
        self.lock = threading.Lock()


def make_server(port: int, path: Path) -> _SinkServer:
    """A bound server (port 0: any free port, see `server_address`); the caller runs `serve_forever`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return _SinkServer(port, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tripl webhook-sink", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (TRIPL_WEBHOOK_SINK_PORT)")
    parser.add_argument("--file", type=Path, default=None, help=f"where bodies go (DATA_DIR/{SINK_FILE})")
    args = parser.parse_args(argv)
    port = args.port or get_settings().webhook_sink_port
    path = args.file or sink_file()
    try:
        server = make_server(port, path)
    except OSError as exc:
        print(f"tripl webhook-sink: cannot listen on 127.0.0.1:{port}: {exc}", file=sys.stderr)
        return 1
    print(f"webhook sink on {sink_url(server.server_address[1])} → {path}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
