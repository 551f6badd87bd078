"""A local HTTP server speaking the OpenAI chat-completions and embeddings protocol, for tests.

Embeddings are deterministic: each word maps to a concept (CONCEPTS) or its own hashed dimension, so related
words ("revenue", "paid") land close together without any model.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DIMS = 64
CONCEPTS = {
    "money": ["revenue", "paid", "pay", "payment", "purchase", "money", "price", "total", "order", "cents"],
    "screen": ["screen", "page", "view", "shown", "display"],
}


def embed_text(text: str) -> list[float]:
    vec = [0.0] * DIMS
    for word in re.findall(r"[a-z]+", text.lower()):
        concept = next((c for c, ws in CONCEPTS.items() if any(word.startswith(w) for w in ws)), None)
        key = concept or word
        vec[int(hashlib.md5(key.encode()).hexdigest(), 16) % DIMS] += 1.0
    norm = math.sqrt(sum(x * x for x in vec)) or 1.0
    return [x / norm for x in vec]


class FakeOpenAI:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.reply: str = "ok"
        self.status = 200
        self.raw_body: bytes | None = None  # send these bytes instead of a proper body
        self.delay = 0.0
        self.embeddings_status = 200
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("content-length", 0))
                payload = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append({"path": self.path, "json": payload,
                                        "authorization": self.headers.get("authorization")})
                if server.delay:
                    time.sleep(server.delay)
                if self.path.endswith("/embeddings"):
                    inputs = payload.get("input")
                    inputs = [inputs] if isinstance(inputs, str) else inputs
                    self._send(server.embeddings_status, {"object": "list", "model": payload.get("model"), "data": [
                        {"object": "embedding", "index": i, "embedding": embed_text(t)}
                        for i, t in enumerate(inputs)]} if server.embeddings_status == 200
                        else {"error": {"message": "embeddings broke"}})
                    return
                if server.raw_body is not None:
                    self._send_raw(server.status, server.raw_body)
                    return
                if server.status != 200:
                    self._send(server.status, {"error": {"message": "model overloaded", "type": "server_error"}})
                    return
                self._send(200, {"id": "chatcmpl-1", "object": "chat.completion", "model": payload.get("model"),
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": server.reply}}]})

            def _send(self, status: int, body: dict[str, Any]) -> None:
                self._send_raw(status, json.dumps(body).encode())

            def _send_raw(self, status: int, data: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
