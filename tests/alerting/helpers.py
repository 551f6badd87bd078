"""Test helpers: a local HTTP server recording every request (Slack, Telegram, webhook, Jira, Linear stand-ins)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tripl_core.alerting.context import sample_context
from tripl_core.alerting.message import MessageFormat, RenderedMessage
from tripl_core.alerting.render import render_message


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=lambda: {"ok": True})
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class FakeServer:
    """Records requests; answers with queued replies, then with `default` (or `handler(request)` if set)."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.replies: list[Reply] = []
        self.default = Reply()
        self.handler: Callable[[Recorded], Reply] | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                req = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                               self.rfile.read(length))
                server.requests.append(req)
                reply = server.replies.pop(0) if server.replies else (
                    server.handler(req) if server.handler else server.default)
                if reply.delay:
                    time.sleep(reply.delay)
                raw = reply.body if isinstance(reply.body, bytes) else (
                    reply.body.encode() if isinstance(reply.body, str) else json.dumps(reply.body).encode())
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json", **reply.headers}
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(raw)

            do_POST = do_GET = do_PUT = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()

    def reply(self, status: int = 200, body: Any = None, headers: dict[str, str] | None = None,
              delay: float = 0.0) -> None:
        self.replies.append(Reply(status, {"ok": True} if body is None else body, headers or {}, delay))

    @property
    def last(self) -> Recorded:
        assert self.requests, "no request reached the server"
        return self.requests[-1]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def make_message(fmt: MessageFormat | str = MessageFormat.plain, **context_overrides: Any) -> RenderedMessage:
    ctx = {**sample_context(), **context_overrides}
    msg = render_message(ctx, fmt)
    return RenderedMessage(**{**msg.__dict__, "delivery_id": "11111111-2222-3333-4444-555555555555"})
