from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.ai.fake_openai import FakeOpenAI
from tests.search.shop_plan import plan  # noqa: F401 - fixture


@pytest.fixture
def embedder(owner) -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    r = owner.put("/api/v1/settings/ai", json={"search_embeddings_enabled": True, "ai_base_url": server.base_url,
                                                "search_embedding_model": "embed-test"})
    assert r.status_code == 200, r.text
    yield server
    from tripl_core.search.index import wait_for_embeddings

    wait_for_embeddings()
    server.close()
