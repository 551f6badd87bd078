"""Fixtures of the foundation API tests: settings overrides and API keys."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def set_env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Set `TRIPL_*` variables for one test (the settings cache is dropped so the app sees them)."""
    from tripl_core.settings import reset_settings_cache

    def apply(**values: object) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"TRIPL_{key.upper()}", str(value).lower() if isinstance(value, bool) else str(value))
        reset_settings_cache()

    yield apply
    monkeypatch.undo()
    reset_settings_cache()


@pytest.fixture
def anon(app) -> TestClient:
    """A client with no cookie, for API-key calls that must not ride on a session."""
    with TestClient(app) as c:
        yield c
