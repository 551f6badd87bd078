"""Semantic ranking with a deterministic local embeddings endpoint, fused with the lexical rank."""

from __future__ import annotations

from sqlalchemy import func, select, update

from tripl_core.db.models.plan import Event
from tripl_core.db.models.search import SearchDocument
from tripl_core.search.index import wait_for_embeddings

URL = "/api/v1/projects/shop-app/search"


def test_semantic_finds_related_words(owner, plan, embedder, db):
    # without embeddings, "revenue money" finds only the tagged event lexically
    r = owner.post(URL + "/reindex")
    assert r.status_code == 200 and r.json() == {"documents_indexed": 11, "embeddings_scheduled": True}
    wait_for_embeddings()
    assert db.scalar(select(func.count()).select_from(SearchDocument).where(
        SearchDocument.embedding_model == "embed-test")) == 11
    embed_calls = [r for r in embedder.requests if r["path"].endswith("/embeddings")]
    assert embed_calls and embed_calls[0]["json"]["model"] == "embed-test"

    body = owner.get(URL, params={"q": "price"}).json()
    assert body["semantic_used"] is True
    found = [i["title"] for i in body["items"]]
    # no document contains "price"; the money concept links it to totals and payments
    assert "order_total" in found and "checkout_completed" in found
    assert "screen_name" not in found


def test_fusion_keeps_exact_match_first(owner, plan, embedder):
    owner.post(URL + "/reindex")
    wait_for_embeddings()
    body = owner.get(URL, params={"q": "checkout_completed"}).json()
    assert body["semantic_used"] is True
    assert body["items"][0]["title"] == "checkout_completed"


def test_edited_documents_are_re_embedded(owner, plan, embedder, db):
    owner.post(URL + "/reindex")
    wait_for_embeddings()
    db.execute(update(Event).where(Event.id == plan.ids["cartItemAdded"]).values(description="Payment retried"))
    db.commit()
    owner.get(URL, params={"q": "anything"})  # syncs the edit and schedules its embedding
    wait_for_embeddings()
    doc = db.scalar(select(SearchDocument).where(SearchDocument.object_id == plan.ids["cartItemAdded"]))
    db.refresh(doc)
    assert doc.embedding is not None and doc.embedding_model == "embed-test"


def test_embedding_endpoint_failure_falls_back_to_lexical(owner, plan, embedder):
    embedder.embeddings_status = 500
    body = owner.get(URL, params={"q": "checkout_completed"}).json()
    assert body["semantic_used"] is False
    assert body["items"][0]["title"] == "checkout_completed"
    r = owner.post(URL + "/reindex")
    assert r.status_code == 200  # the failure stays in the background job


def test_embeddings_off_means_lexical_only(owner, plan):
    body = owner.get(URL, params={"q": "price"}).json()
    assert body["semantic_used"] is False and body["items"] == []
