"""Fixtures: local servers speaking the channels' protocols and settings pointing at them."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.alerting.helpers import FakeServer, make_message
from tripl_core.alerting.message import RenderedMessage
from tripl_core.settings import Settings


@pytest.fixture
def server() -> Iterator[FakeServer]:
    srv = FakeServer()
    yield srv
    srv.close()


@pytest.fixture
def other_server() -> Iterator[FakeServer]:
    srv = FakeServer()
    yield srv
    srv.close()


@pytest.fixture
def closed_port() -> int:
    """A port nothing listens on (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def settings(server: FakeServer, tmp_path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        slack_api_base_url=f"{server.url}/api/",
        telegram_api_base_url=server.url,
        linear_api_url=f"{server.url}/graphql",
        alert_delivery_timeout_seconds=1,
        smtp_host=None,
    )


@pytest.fixture
def message() -> RenderedMessage:
    return make_message()
