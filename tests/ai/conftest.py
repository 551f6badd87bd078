from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ai.fake_openai import FakeOpenAI
from tests.search.shop_plan import plan  # noqa: F401 - fixture


@pytest.fixture
def llm() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    yield server
    server.close()


@pytest.fixture
def ai_on(owner, llm: FakeOpenAI) -> FakeOpenAI:
    """AI enabled against the local server, with a known model and key."""
    r = owner.put("/api/v1/settings/ai", json={"ai_enabled": True, "ai_base_url": llm.base_url,
                                                "ai_model": "test-model-7b", "ai_api_key": "sk-test"})
    assert r.status_code == 200, r.text
    return llm
