"""Demo fixtures: a demo warehouse database on the test server (never the embedded `warehouse` of `tripl up`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tripl_core.demo import sink, warehouse

WAREHOUSE = "demo_warehouse_test"


@pytest.fixture(scope="session")
def demo_wh_url(pg_server_url: str) -> str:
    """libpq URL of an (empty until generated) demo warehouse database on the test server."""
    return warehouse.ensure_database(pg_server_url, WAREHOUSE)


@pytest.fixture
def tiny_spec() -> warehouse.DemoSpec:
    """A small warehouse (about 25k rows): enough for shape checks, not for detection."""
    return warehouse.DemoSpec(days=9, scale=0.05, tail_days=1)


@pytest.fixture
def sink_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The real sink on a free port, in a thread: (its URL, the file it appends to)."""
    path = tmp_path / sink.SINK_FILE
    server = sink.make_server(0, path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}{sink.SINK_PATH}", path
    server.shutdown()
    server.server_close()
