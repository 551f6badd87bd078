"""Demo fixtures: a demo warehouse database on the test server (never the embedded `warehouse` of `tripl up`)."""

from __future__ import annotations

import pytest

from tripl_core.demo import warehouse

WAREHOUSE = "demo_warehouse_test"


@pytest.fixture(scope="session")
def demo_wh_url(pg_server_url: str) -> str:
    """libpq URL of an (empty until generated) demo warehouse database on the test server."""
    return warehouse.ensure_database(pg_server_url, WAREHOUSE)


@pytest.fixture
def tiny_spec() -> warehouse.DemoSpec:
    """A small warehouse (about 25k rows): enough for shape checks, not for detection."""
    return warehouse.DemoSpec(days=9, scale=0.05, tail_days=1)
