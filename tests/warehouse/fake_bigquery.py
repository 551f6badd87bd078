"""A local HTTP server speaking the part of the BigQuery REST API the client library uses for queries.

jobs.insert (POST /projects/{p}/jobs, dry runs included), jobs.get, and jobs.getQueryResults
(GET /projects/{p}/queries/{job}) with maxResults/pageToken paging. Every SQL text received is parsed with
sqlglot's BigQuery dialect (a parse error is returned as BigQuery's 400 `invalidQuery`). Rows come back in the
wire shape: `{"f": [{"v": "…"}]}` with every scalar as a string and timestamps as int64 microseconds when the
client asks for `formatOptions.useInt64Timestamp`.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import sqlglot

# responder(sql, params) -> (schema [(name, type)], rows [[value…]])
Responder = Callable[[str, dict[str, Any]], tuple[list[tuple[str, str]], list[list[Any]]]]


def _wire(value: Any, typ: str, int64_ts: bool) -> Any:
    if value is None:
        return None
    if typ == "TIMESTAMP":
        ts = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts
        micros = int(ts.timestamp() * 1_000_000)
        return str(micros) if int64_ts else str(micros / 1_000_000)
    if typ == "BOOL":
        return "true" if value else "false"
    return str(value)


class FakeBigQuery:
    def __init__(self, responder: Responder, page_size: int = 2, bytes_processed: int = 1000):
        self.responder = responder
        self.page_size = page_size
        self.bytes_processed = bytes_processed
        self.jobs: dict[str, dict[str, Any]] = {}
        self.received: list[dict[str, Any]] = []  # every jobs.insert: sql, params, dry_run, max_bytes
        self.requests: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeBigQuery:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- protocol -------------------------------------------------------------------------------
    def _insert(self, project: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        cfg = body.get("configuration", {})
        q = cfg.get("query", {})
        sql = q.get("query", "")
        params = {p["name"]: p["parameterValue"].get("value") for p in q.get("queryParameters", [])}
        dry = bool(cfg.get("dryRun"))
        self.received.append({"sql": sql, "params": params, "dry_run": dry,
                              "maximum_bytes_billed": q.get("maximumBytesBilled"),
                              "default_dataset": q.get("defaultDataset"),
                              "param_types": {p["name"]: p["parameterType"]["type"]
                                              for p in q.get("queryParameters", [])}})
        try:
            sqlglot.parse_one(sql, read="bigquery")
        except sqlglot.errors.SqlglotError as exc:
            return 400, {"error": {"code": 400, "message": f"Syntax error: {exc}", "status": "INVALID_ARGUMENT",
                                   "errors": [{"reason": "invalidQuery", "message": str(exc)}]}}
        try:
            schema, rows = self.responder(sql, params)
        except Exception as exc:  # the responder plays the warehouse refusing the query
            return 400, {"error": {"code": 400, "message": str(exc), "status": "INVALID_ARGUMENT",
                                   "errors": [{"reason": "invalidQuery", "message": str(exc)}]}}
        ref = body.get("jobReference") or {}
        job_id = ref.get("jobId") or uuid.uuid4().hex
        ref = {"projectId": project, "jobId": job_id, "location": ref.get("location") or "US"}
        schema_json = {"fields": [{"name": n, "type": t, "mode": "NULLABLE"} for n, t in schema]}
        job = {"kind": "bigquery#job", "id": f"{project}:US.{job_id}", "jobReference": ref,
               "configuration": cfg, "status": {"state": "DONE"},
               "statistics": {"creationTime": "1700000000000", "startTime": "1700000000000",
                              "endTime": "1700000000001",
                              "query": {"totalBytesProcessed": str(self.bytes_processed), "statementType": "SELECT",
                                        "schema": schema_json, "cacheHit": False}}}
        if not dry:
            self.jobs[job_id] = {"job": job, "schema": schema, "rows": rows}
        return 200, job

    def _results(self, job_id: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        stored = self.jobs.get(job_id)
        if stored is None:
            return 404, {"error": {"code": 404, "message": f"Not found: Job {job_id}", "status": "NOT_FOUND"}}
        int64_ts = query.get("formatOptions.useInt64Timestamp", ["false"])[0].lower() == "true"
        start = int(query.get("pageToken", ["0"])[0])
        max_results = int(query.get("maxResults", [str(self.page_size)])[0])
        size = min(max_results, self.page_size)
        schema, rows = stored["schema"], stored["rows"]
        page = rows[start:start + size]
        body: dict[str, Any] = {
            "kind": "bigquery#getQueryResultsResponse", "jobReference": stored["job"]["jobReference"],
            "jobComplete": True, "totalRows": str(len(rows)), "cacheHit": False,
            "schema": {"fields": [{"name": n, "type": t, "mode": "NULLABLE"} for n, t in schema]},
            "rows": [{"f": [{"v": _wire(v, t, int64_ts)} for v, (_, t) in zip(row, schema, strict=True)]}
                     for row in page],
        }
        if not size:
            body.pop("rows")
        elif start + size < len(rows):
            body["pageToken"] = str(start + size)
        return 200, body

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                fake.requests.append(f"POST {url.path}")
                parts = url.path.strip("/").split("/")
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if parts[-1] == "jobs" and "projects" in parts:
                    self._send(*fake._insert(parts[parts.index("projects") + 1], body))
                else:
                    self._send(404, {"error": {"code": 404, "message": "unknown", "status": "NOT_FOUND"}})

            def do_GET(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                fake.requests.append(f"GET {url.path}")
                parts = url.path.strip("/").split("/")
                query = parse_qs(url.query)
                if len(parts) >= 2 and parts[-2] == "queries":
                    self._send(*fake._results(parts[-1], query))
                elif len(parts) >= 2 and parts[-2] == "jobs" and parts[-1] in fake.jobs:
                    self._send(200, fake.jobs[parts[-1]]["job"])
                else:
                    self._send(404, {"error": {"code": 404, "message": "unknown", "status": "NOT_FOUND"}})

        return Handler
